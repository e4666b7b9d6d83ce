"""The installer files that cannot run here (Windows) are checked against what they drive."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from phms_admin import embedded
from phms_admin.cli import build_parser
from phms_client import config

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "installer"
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def test_windows_backup_task_runs_a_valid_backup_command_daily_and_catches_up() -> None:
    root = ET.parse(INSTALLER / "windows" / "phms-backup-task.xml").getroot()
    assert root.tag == "{http://schemas.microsoft.com/windows/2004/02/mit/task}Task"
    assert root.findtext("t:Settings/t:StartWhenAvailable", namespaces=TASK_NS) == "true"
    assert root.findtext("t:Settings/t:Enabled", namespaces=TASK_NS) == "true"
    days = root.findtext("t:Triggers/t:CalendarTrigger/t:ScheduleByDay/t:DaysInterval", "", TASK_NS)
    assert days == "1"
    command = root.findtext("t:Actions/t:Exec/t:Command", "", TASK_NS)
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", "", TASK_NS)
    assert command.endswith("phms-admin.exe")
    # The arguments are a command the real phms-admin accepts.
    args = build_parser().parse_args(shlex.split(arguments, posix=False))
    assert (args.command, args.backup_command) == ("backup", "run")
    assert str(args.dest).strip('"') == r"C:\PHMS\backups" and args.keep_days == 5


def test_windows_task_installer_uses_the_same_options() -> None:
    script = (INSTALLER / "windows" / "install-backup-task.ps1").read_text()
    assert "phms-backup-task.xml" in script and "Register-ScheduledTask" in script
    options = sorted(set(re.findall(r'"(--[a-z-]+)"', script)))
    assert options == ["--copy-to", "--dest", "--encrypt-key-file", "--keep-days"]
    argv = ["backup", "run", "--dest", "D", "--keep-days", "5", "--copy-to", "C",
            "--encrypt-key-file", "K"]  # fmt: skip
    args = build_parser().parse_args(argv)
    assert (str(args.copy_to), str(args.encrypt_key_file)) == ("C", "K")


def test_linux_desktop_entry_starts_the_installed_bundle() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(INSTALLER / "client" / "phms.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Terminal"] == "false"
    install = (INSTALLER / "client" / "install-linux.sh").read_text()
    assert "prefix=$destdir/opt/phms" in install
    assert desktop["Exec"] == "/opt/phms/phms"  # install-linux.sh puts the bundle there
    assert (INSTALLER / "client" / f"{desktop['Icon']}.svg").exists()
    ET.parse(INSTALLER / "client" / "phms.svg")  # well-formed


def test_windows_installer_ships_the_bundle_and_the_site_settings() -> None:
    iss = (INSTALLER / "client" / "phms.iss").read_text()
    spec = (INSTALLER / "client" / "phms.spec").read_text()
    assert 'name="phms"' in spec  # the COLLECT folder, dist\phms
    assert r'Source: "..\..\dist\phms\*"; DestDir: "{app}"' in iss
    assert r'Filename: "{app}\phms.exe"' in iss
    # The site file lands where the client reads it on Windows: %PROGRAMDATA%\phms\.
    assert f'Source: "{{src}}\\{config.FILE_NAME}"; DestDir: "{{commonappdata}}\\phms"' in iss
    assert 'Source: "{src}\\root.crt"; DestDir: "{commonappdata}\\phms"' in iss


def test_shell_scripts_parse() -> None:
    for script in (
        INSTALLER / "server" / "setup-server.sh",
        INSTALLER / "client" / "install-linux.sh",
    ):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def _installer_hba(tmp_path: Path) -> list[list[str]]:
    """Run the part of setup-server.sh that writes pg_hba.conf, with two networks."""
    script = (INSTALLER / "server" / "setup-server.sh").read_text()
    start = script.index('groups="+phms_clerk')
    end = script.index('} >"$work/hba"') + len('} >"$work/hba"')
    part = "allow=(samenet 10.1.0.0/16) replicas=(10.0.0.9/32) database=phms\n"
    part += f"work={shlex.quote(str(tmp_path))}\n{script[start:end]}\n"
    subprocess.run(["bash", "-euo", "pipefail", "-c", part], check=True, timeout=30)
    text = (tmp_path / "hba").read_text()
    return [line.split() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_installer_pg_hba_rejects_superuser_and_plain_tcp_before_any_staff_line(
    tmp_path: Path,
) -> None:
    lines = _installer_hba(tmp_path)
    first_network = min(i for i, line in enumerate(lines) if line[0] == "hostssl")
    before = lines[:first_network]
    # The superuser and the owner, from anywhere, for data and for replication.
    for database in ("all", "replication"):
        assert ["host", database, "postgres,phms_owner", "all", "reject"] in before
        assert ["hostnossl", database, "all", "all", "reject"] in before
    # Nothing but TLS lets anyone in over TCP; the superuser only through the socket.
    for line in lines:
        if line[-1] != "reject" and not line[-1].startswith("map="):
            assert line[0] == "hostssl" and line[-1] == "scram-sha-256", line
            assert "postgres" not in line[2] and "phms_owner" not in line[2]
    assert ["local", "all", "postgres", "peer", "map=phms_superuser"] in lines
    staff = [line for line in lines if line[0] == "hostssl" and line[1] == "phms"]
    assert [line[3] for line in staff] == ["samenet", "10.1.0.0/16"]
    assert all(line[2] == "+phms_clerk,+phms_clinician,+phms_admin,+phms_auditor" for line in staff)
    # The staging copy's default name is reachable by the same staff, the same way.
    copy = [line for line in lines if line[0] == "hostssl" and line[1] == "phms_staging"]
    assert [line[2:] for line in copy] == [line[2:] for line in staff]
    assert lines[-1] == ["host", "all", "all", "all", "reject"]


def test_server_installer_sets_the_embedded_servers_timeouts() -> None:
    script = (INSTALLER / "server" / "setup-server.sh").read_text()
    conf = script.split('cat >"$work/phms.conf" <<EOF', 1)[1].split("\nEOF\n", 1)[0]
    settings = dict(
        (name.strip(), value.strip())
        for name, value in (line.split("=", 1) for line in conf.splitlines() if "=" in line)
        if not name.lstrip().startswith("#")
    )
    assert {k: settings.get(k) for k in embedded.SERVER_TIMEOUTS} == embedded.SERVER_TIMEOUTS
