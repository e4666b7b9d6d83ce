"""Proof that the suite never touches a real server named in the environment.

A second embedded server plays the clinic's live server: a marker table, connection
logging on. Part of the suite (the admin-CLI tests and tests/e2e/test_environment_is_clean.py)
then runs in a child pytest whose environment is an admin's shell aimed at that server:
PHMS_DATABASE_URL, PHMS_ADMIN_PASSWORD, PHMS_SERVER and friends, libpq's PG* variables,
a user settings file and a "local embedded server" in the data folder, all pointing at
it. The child must pass, and the live server must have seen no connection at all.
The same command run here with the variable set does reach it: the danger is real and
the log would show it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from phms_admin import embedded
from phms_admin.cli import main
from tests.harness import create_database

REPO = Path(__file__).resolve().parents[2]
LIVE_ADMIN_PASSWORD = "live-clinic-admin-password-2026"
CHILD_TESTS = [
    "tests/e2e/test_environment_is_clean.py",
    "tests/e2e/test_admin_cli.py::test_server_lifecycle",
    "tests/e2e/test_admin_cli.py::test_server_init_on_a_network_needs_the_loud_flag",
    "tests/e2e/test_admin_cli.py::test_no_database_given",
    "tests/e2e/test_admin_cli.py::test_user_commands",
]


@pytest.fixture
def live_server() -> Iterator[embedded.ServerInfo]:
    base = Path(tempfile.mkdtemp(prefix="phms-live-pg-"))
    data_dir = base / "data"
    info = embedded.initdb(data_dir, port=None, listen="127.0.0.1")
    with (data_dir / "postgresql.conf").open("a") as f:
        f.write("log_connections = 'receipt'\n")  # every connection attempt, even refused
    embedded.start(data_dir)
    try:
        create_database(info, "phms")
        engine = sa.create_engine(info.url("phms"), poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE clinic_marker (note text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO clinic_marker VALUES ('the clinic''s real data')"))
        engine.dispose()
        yield info
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(base, ignore_errors=True)


def connections_seen(info: embedded.ServerInfo) -> int:
    log = (info.data_dir / "server.log").read_text(errors="replace")
    return log.count("connection received:")


def state_of(info: embedded.ServerInfo) -> dict[str, list[str]]:
    engine = sa.create_engine(info.url("phms"), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        state = {
            "marker": list(conn.execute(sa.text("SELECT note FROM clinic_marker")).scalars()),
            "roles": sorted(conn.execute(sa.text("SELECT rolname FROM pg_roles")).scalars()),
            "databases": sorted(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars()),
            "schemas": sorted(conn.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars()),
        }
    engine.dispose()
    return state


def admin_shell(info: embedded.ServerInfo, home: Path) -> dict[str, str]:
    """The environment of an admin whose shell is set up for the live server."""
    user_file = home / "client.toml"
    user_file.write_text(f'server = "127.0.0.1:{info.port}"\nsslmode = "disable"\n')
    data = home / "data" / "phms" / "server"  # "the local embedded server"
    data.mkdir(parents=True)
    server = {"port": info.port, "listen": "127.0.0.1", "superuser": info.superuser}
    (data / embedded.INFO_FILE).write_text(json.dumps({**server, "password": info.password}))
    (home / "pgpass").write_text(f"127.0.0.1:{info.port}:*:postgres:{info.password}\n")
    (home / "pgpass").chmod(0o600)
    return {
        **os.environ,
        "PHMS_DATABASE_URL": info.url("phms"),
        "PHMS_ADMIN_PASSWORD": LIVE_ADMIN_PASSWORD,
        "PHMS_SERVER": f"127.0.0.1:{info.port}",
        "PHMS_DATABASE": "phms",
        "PHMS_SSLMODE": "disable",
        "PHMS_USER_CONFIG": str(user_file),
        "XDG_DATA_HOME": str(home / "data"),
        "PGHOST": "127.0.0.1",
        "PGPORT": str(info.port),
        "PGUSER": info.superuser,
        "PGPASSWORD": info.password,
        "PGDATABASE": "phms",
        "PGPASSFILE": str(home / "pgpass"),
    }


def test_the_suite_leaves_a_live_server_in_the_environment_untouched(
    live_server: embedded.ServerInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_state = state_of(live_server)
    before = connections_seen(live_server)
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CHILD_TESTS],
        cwd=REPO,
        env=admin_shell(live_server, tmp_path),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    # With PHMS_ADMIN_PASSWORD (and the rest) set, the tests still pass...
    assert child.returncode == 0, child.stdout[-4000:] + child.stderr[-2000:]
    assert "passed" in child.stdout and "skipped" not in child.stdout
    # ...and the live server saw no connection at all, nor any change.
    assert connections_seen(live_server) == before
    assert state_of(live_server) == before_state

    # The danger is real, and the log shows it: the same command with the variable set.
    seen = connections_seen(live_server)
    monkeypatch.setenv("PHMS_DATABASE_URL", live_server.url("phms"))
    main(["user", "list"])
    assert connections_seen(live_server) > seen
