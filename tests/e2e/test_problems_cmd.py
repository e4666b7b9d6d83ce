"""phms-admin problems list: reports filed by staff, read by an admin."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from phms_admin.cli import main
from phms_client.services.about import report_problem
from tests.harness import PgDatabase


def test_admin_lists_reports_staff_sent(db: PgDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    engine = db.engine_for("t_clerk")
    with engine.begin() as conn, Session(bind=conn) as session:
        report_problem(
            session,
            description="Search hangs\nafter typing an accent",
            client_version="9.9.9-test",
            log_tail="some log lines",
        )
    engine.dispose()

    code = main(["problems", "list", "--url", db.url_for("t_admin")])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "WHEN", "WHO", "VERSION", "DESCRIPTION"]
    ours = [line for line in lines if "9.9.9-test" in line]
    assert len(ours) >= 1
    fields = ours[0].split()
    assert fields[0].isdigit()
    assert "t_clerk" in fields and "9.9.9-test" in fields
    assert ours[0].endswith("Search hangs after typing an accent")  # one line per report


def test_staff_cannot_read_reports(db: PgDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["problems", "list", "--url", db.url_for("t_clerk")])
    _, err = capsys.readouterr()
    assert code == 1
    assert "Permission denied" in err and "admin login" in err and "Traceback" not in err
