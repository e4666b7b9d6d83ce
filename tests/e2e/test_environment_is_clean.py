"""What the suite sees of the environment of whoever runs it: nothing (tests/isolation.py).

These run in every suite run, and also inside tests/e2e/test_suite_isolation.py with an
environment aimed at a live server, where they must still pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from phms_admin import embedded
from phms_admin.cli import main
from phms_client.config import load_config
from tests import isolation

REPO = Path(__file__).resolve().parents[2]
SHOW_ENV = (
    "import json, os; print(json.dumps(sorted(n for n in os.environ "
    "if n.startswith(('PHMS_', 'PG')))))"
)


def test_no_phms_or_libpq_variable_of_the_caller_is_left() -> None:
    seen = {name for name in os.environ if isolation.is_removed(name)}
    assert seen <= isolation.SET_BY_ISOLATION
    for name in isolation.SET_BY_ISOLATION:  # each points at a place of this run
        assert not Path(os.environ[name]).exists()


def test_programs_the_tests_start_inherit_the_clean_environment() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_ENV], capture_output=True, text=True, check=True, timeout=60
    )
    assert set(json.loads(shown.stdout)) <= isolation.SET_BY_ISOLATION


def test_client_settings_are_the_built_in_defaults() -> None:
    config = load_config()
    assert config.hosts == ("localhost",) and not config.server_configured
    assert set(config.sources.values()) == {"default"}


def test_no_local_embedded_server_of_the_caller() -> None:
    assert embedded.default_data_dir().is_relative_to(os.environ["XDG_DATA_HOME"])
    assert not (embedded.default_data_dir() / embedded.INFO_FILE).exists()


def test_admin_cli_without_url_reaches_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "list"]) == 1
    assert "No database given" in capsys.readouterr().err


def test_migrations_without_url_reach_no_server() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "current"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "No database given" in done.stderr + done.stdout
