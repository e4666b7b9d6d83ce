"""The daily timer installer/server/ sets up runs a real upload to the test registry."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from phms_admin.cli import build_parser
from tests.registry.conftest import Registry

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "installer" / "server" / "registry-upload-units.sh"
UNITS = ("phms-registry-upload.service", "phms-registry-upload.timer")


def _unit_command(unit: Path) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    command: list[str] = []
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            key, _, value = shlex.split(line.removeprefix("Environment="))[0].partition("=")
            env[key] = value
        elif line.startswith("ExecStart="):
            command = shlex.split(line.removeprefix("ExecStart="))
    return command, env


def test_timer_units_run_the_daily_upload(
    registry: Registry, hospital_db: Any, tmp_path: Path
) -> None:
    db = hospital_db(*[{"born": 1950, "sex": "female", "group": 2}] * 2)
    registry.config(tmp_path / "etc", "H-TIMER", registry.issue("H-TIMER"))
    config = tmp_path / "etc" / "registry-upload.toml"
    config.chmod(0o644)
    systemd = tmp_path / "systemd"
    admin_cmd = str(Path(sys.prefix) / "bin" / "phms-admin")
    url = db.url_for("t_admin")
    args = ["bash", str(SCRIPT), "--admin-cmd", admin_cmd, "--config", str(config),
            "--url", url, "--time", "04:15", "--systemd-dir", str(systemd)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "NOT enabled" in done.stderr  # no systemd in the test: said plainly
    assert config.stat().st_mode & 0o077 == 0  # the configuration names the key: root only
    assert sorted(p.name for p in systemd.iterdir()) == sorted(UNITS)
    timer = (systemd / "phms-registry-upload.timer").read_text()
    assert "OnCalendar=*-*-* 04:15:00" in timer and "Persistent=true" in timer
    if shutil.which("systemd-analyze"):
        verify = ["systemd-analyze", "verify", *(str(systemd / u) for u in UNITS)]
        check = subprocess.run(verify, capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr

    command, env = _unit_command(systemd / "phms-registry-upload.service")
    parsed = build_parser().parse_args(command[1:])
    assert parsed.command == "registry-upload" and parsed.config == config
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "Sending 2 new or changed patient(s)" in run.stdout
    assert "Sent 1 batch(es): 2 patient(s)" in run.stdout
    again = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert "Nothing changed" in again.stdout
    engine = sa.create_engine(registry.db_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        held = conn.execute(
            sa.text("SELECT count(*) FROM registry.patient WHERE hospital_id = 'H-TIMER'")
        ).scalar_one()
    engine.dispose()
    assert held == 2

    # Running the installer again changes nothing.
    before = {p.name: p.read_text() for p in systemd.iterdir()}
    assert subprocess.run(args, capture_output=True, timeout=60, check=False).returncode == 0
    assert {p.name: p.read_text() for p in systemd.iterdir()} == before


def test_setup_server_passes_the_registry_options_on() -> None:
    setup = (REPO / "installer" / "server" / "setup-server.sh").read_text()
    assert '"$here/registry-upload-units.sh" --admin-cmd "$admin_cmd"' in setup
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    bad = subprocess.run(
        ["bash", str(SCRIPT), "--admin-cmd", "x", "--config", "/nonexistent.toml", "--url", "u"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "no registry upload configuration" in bad.stderr
