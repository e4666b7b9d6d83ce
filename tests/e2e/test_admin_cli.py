"""phms-admin end to end: the real command against real servers."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from phms_admin import embedded, migrate
from phms_admin.cli import main
from tests.harness import PgDatabase


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def server_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="phms-cli-pg-"))
    yield base / "data"
    embedded.stop(base / "data")
    shutil.rmtree(base, ignore_errors=True)


def test_server_lifecycle(
    server_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHMS_ADMIN_PASSWORD", "first-admin-password")
    code, out, _ = run(["server", "init", "--data-dir", str(server_dir), "--admin", "boss"], capsys)
    assert code == 0 and "First admin login: boss" in out
    assert "first-admin-password" not in out  # given by the caller, so not echoed

    info = embedded.read_info(server_dir)
    hba = (server_dir / "pg_hba.conf").read_text()
    assert "trust" not in [
        line.split()[-1] for line in hba.splitlines() if line.strip() and not line.startswith("#")
    ]
    engine = sa.create_engine(
        f"postgresql+psycopg://boss:first-admin-password@127.0.0.1:{info.port}/phms",
        poolclass=sa.pool.NullPool,
    )
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.expected_revision()
        assert conn.execute(sa.text("SELECT pg_has_role('phms_admin', 'MEMBER')")).scalar()
    engine.dispose()

    # Re-running init never wipes: it starts the existing server and says so.
    code, out, _ = run(["server", "init", "--data-dir", str(server_dir)], capsys)
    assert code == 0 and "already exists" in out

    assert run(["server", "status", "--data-dir", str(server_dir)], capsys)[0] == 0
    assert run(["server", "stop", "--data-dir", str(server_dir)], capsys)[0] == 0
    code, out, _ = run(["server", "status", "--data-dir", str(server_dir)], capsys)
    assert code == 3 and "Stopped" in out
    assert run(["server", "start", "--data-dir", str(server_dir)], capsys)[0] == 0
    with engine.connect() as conn:  # data survived the restart
        assert conn.execute(sa.text("SELECT count(*) FROM phms.setting")).scalar()
    engine.dispose()


@pytest.mark.parametrize("listen", ["0.0.0.0", "*", "192.0.2.7", "127.0.0.1,db.clinic", "::"])
def test_server_init_refuses_a_network_address_without_tls(
    server_dir: Path, capsys: pytest.CaptureFixture[str], listen: str
) -> None:
    argv = ["server", "init", "--data-dir", str(server_dir), "--listen", listen]
    code, out, err = run(argv, capsys)
    assert code == 1 and out == "" and "Traceback" not in err
    assert "no TLS" in err and "installer/server" in err and "--insecure-plaintext-network" in err
    assert not server_dir.exists()  # nothing was created


@pytest.mark.parametrize("listen", ["127.0.0.1'\nssl = off #", "a b", "", "1::2::3"])
def test_server_init_refuses_a_listen_value_it_cannot_read(
    server_dir: Path, capsys: pytest.CaptureFixture[str], listen: str
) -> None:
    argv = ["server", "init", "--data-dir", str(server_dir), "--listen", listen]
    code, _, err = run(argv, capsys)
    assert code == 1 and "listen address" in err and "Traceback" not in err
    assert not server_dir.exists()


def test_server_init_on_a_network_needs_the_loud_flag(
    server_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["server", "init", "--data-dir", str(server_dir), "--listen", "0.0.0.0"]
    code, out, err = run([*argv, "--insecure-plaintext-network"], capsys)
    assert code == 0
    assert "WITHOUT TLS" in err and "plain text" in err and "installer/server" in err
    assert "Password (shown once" in out
    hba = [
        line.split()
        for line in (server_dir / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    reject = hba.index(["host", "all", "postgres,phms_owner", "all", "reject"])
    network = [i for i, line in enumerate(hba) if line[0] == "host" and line[3] == "samenet"]
    assert network and min(network) > reject
    assert all(line[2] != "all" for line in (hba[i] for i in network))  # staff groups only
    assert hba[-1] == ["host", "all", "all", "all", "reject"]
    # Starting it again repeats the warning.
    assert run(["server", "stop", "--data-dir", str(server_dir)], capsys)[0] == 0
    code, _, err = run(["server", "start", "--data-dir", str(server_dir)], capsys)
    assert code == 0 and "WITHOUT TLS" in err


def test_status_of_missing_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["server", "status", "--data-dir", str(tmp_path / "none")], capsys)
    assert code == 3 and "No server" in out


def test_start_of_missing_server_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["server", "start", "--data-dir", str(tmp_path / "none")], capsys)
    assert code == 1 and "not a PHMS embedded server" in err and "Traceback" not in err


def test_user_commands(
    db: PgDatabase, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = ["--url", db.url_for("t_admin")]
    monkeypatch.setattr(sys, "stdin", io.StringIO("receptionist-password\n"))
    code, out, _ = run(
        ["user", "add", "x_front", "--role", "clerk", "--password-stdin", *url], capsys
    )
    assert code == 0 and "Created x_front (clerk)" in out

    code, out, _ = run(["user", "list", *url], capsys)
    assert code == 0
    assert any(line.split() == ["x_front", "clerk", "enabled"] for line in out.splitlines())

    assert run(["user", "disable", "x_front", *url], capsys)[0] == 0
    out = run(["user", "list", *url], capsys)[1]
    assert any(line.split() == ["x_front", "clerk", "disabled"] for line in out.splitlines())
    assert run(["user", "enable", "x_front", *url], capsys)[0] == 0

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a tty: generated and shown
    code, out, _ = run(["user", "reset-password", "x_front", *url], capsys)
    assert code == 0
    new_password = out.split("Password (shown once): ")[1].strip()
    engine = db.engine_for("x_front", new_password)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT session_user")).scalar() == "x_front"
    engine.dispose()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["user", "add", "x_short", "--role", "clerk", "--password-stdin"], "too short"),
        (["user", "add", "Bad Name", "--role", "clerk", "--password-stdin"], "Invalid user name"),
        (["user", "add", "t_clerk", "--role", "clerk", "--password-stdin"], "already exists"),
        (["user", "disable", "nobody_here"], "No staff account"),
    ],
)
def test_user_errors_are_clear(
    db: PgDatabase,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    password = "short" if "x_short" in argv else "long-enough-password"
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    code, _, err = run([*argv, "--url", db.url_for("t_admin")], capsys)
    assert code == 1
    assert message in err and "Traceback" not in err


def test_non_admin_cannot_add_users(
    db: PgDatabase, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("long-enough-password\n"))
    code, _, err = run(
        [
            "user",
            "add",
            "x_evil",
            "--role",
            "admin",
            "--password-stdin",
            "--url",
            db.url_for("t_clinician"),
        ],
        capsys,
    )
    assert code == 1 and "Permission denied" in err


def test_db_check_and_upgrade(
    fresh_database: PgDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", fresh_database.admin_url]
    code, _, err = run(["db", "check", *url], capsys)
    assert code == 1 and "no PHMS schema yet" in err
    code, out, _ = run(["db", "upgrade", *url], capsys)
    assert code == 0 and f"to {migrate.expected_revision()}" in out
    code, out, _ = run(["db", "check", *url], capsys)
    assert code == 0 and "as this version of PHMS expects" in out


def test_unreachable_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    port = embedded.free_port()
    code, _, err = run(["db", "check", "--url", f"postgresql://x:y@127.0.0.1:{port}/phms"], capsys)
    assert code == 1 and "Cannot reach the database server" in err


def test_no_database_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PHMS_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    code, _, err = run(["user", "list"], capsys)
    assert code == 1 and "No database given" in err


def test_demo_loads_patients_in_the_site_format(
    fresh_database: PgDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate.upgrade(fresh_database.admin_url)
    url = ["--url", fresh_database.admin_url]
    code, out, _ = run(["demo", "--patients", "50", *url], capsys)
    assert code == 0 and "50 new patients" in out and "10 appointments today" in out
    assert "demo_admin" in out and "not asked to choose a new password" in out
    assert run(["demo", "--patients", "50", *url], capsys)[1].startswith("Patients already")
    engine = sa.create_engine(fresh_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT patient_code FROM phms.patient")).scalars().all()
        accented = conn.execute(
            sa.text(
                "SELECT count(*) FROM phms.patient WHERE family_name || given_name "
                "<> phms.search_key(family_name || given_name)"
            )
        ).scalar()
    engine.dispose()
    assert len(codes) == 50 and all(len(c) == 9 and c[7] == "-" for c in codes)
    with engine.connect() as conn:
        counts = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM phms.assessment WHERE kind = 'assessment'),"
                " (SELECT count(*) FROM phms.assessment WHERE kind = 'followup'),"
                " (SELECT count(*) FROM phms.six_minute_walk),"
                " (SELECT count(*) FROM phms.medication),"
                " (SELECT count(*) FROM phms.assessment_risk WHERE risk_stratum IS NOT NULL),"
                " (SELECT count(*) FROM phms.appointment)"
            )
        ).one()
    engine.dispose()
    assessments, followups, walks, medications, with_risk, appointments = counts
    assert assessments > 5 and followups > assessments and walks >= followups
    assert medications >= assessments and with_risk > 0 and appointments == 10
    assert accented and accented > 0
    with engine.connect() as conn:
        writers = conn.execute(
            sa.text(
                "SELECT (SELECT array_agg(DISTINCT created_by) FROM phms.patient),"
                " (SELECT array_agg(DISTINCT created_by) FROM phms.assessment),"
                " (SELECT array_agg(DISTINCT created_by) FROM phms.appointment),"
                " (SELECT array_agg(DISTINCT session_user_name) FROM audit.event"
                "  WHERE table_name IN ('patient', 'assessment', 'appointment'))"
            )
        ).one()
        starts = (
            conn.execute(sa.text("SELECT starts_at FROM phms.appointment ORDER BY starts_at"))
            .scalars()
            .all()
        )
    engine.dispose()
    # The demo's named staff wrote it, so "Entered by" and the audit trail name them.
    assert writers[0] == ["demo_clerk"] and writers[1] == ["demo_clinician"]
    assert writers[2] == ["demo_clerk"]
    assert set(writers[3]) == {"demo_clerk", "demo_clinician"}
    # Today's clinic, in clinic hours of the local day (not around the clock time).
    local = [t.astimezone() for t in starts]
    assert {t.date() for t in local} == {dt.date.today()}
    assert local[0].time() == dt.time(8, 30) and local[-1].time() <= dt.time(13, 0)
    demo_clinician = fresh_database.engine_for("demo_clinician", "demo-password-2026")
    with demo_clinician.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM phms.patient")).scalar() == 50
        assert conn.execute(sa.text("SELECT phms.must_change_password()")).scalar() is False
    demo_clinician.dispose()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["server"],
        ["server", "init"],
        ["user"],
        ["user", "add"],
        ["user", "list"],
        ["db"],
        ["db", "check"],
        ["db", "upgrade"],
        ["backup"],
        ["backup", "run"],
        ["backup", "restore"],
        ["backup", "drill"],
        ["broadcast"],
        ["problems"],
        ["problems", "list"],
        ["demo"],
    ],
)
def test_help_everywhere(argv: list[str]) -> None:
    exe = Path(sys.executable).parent / "phms-admin"
    result = subprocess.run(
        [str(exe), *argv, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: phms-admin" in result.stdout
