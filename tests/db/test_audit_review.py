"""The auditor's review of the trail: recorded by the database, bounded, paged, flagged.

Every test logs in as a real staff member. The writes and chart openings under
review are made by t_clinician and t_clerk; the review by t_auditor.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.services import audit_review as review
from tests.harness import PgDatabase, unique_code

REVIEW_CALLS = {
    "activity": "SELECT * FROM audit.review_activity(NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, 10)",
    "event": "SELECT * FROM audit.review_event('event', 1)",
    "patients": "SELECT * FROM audit.review_patients('a', 5)",
    "flags": "SELECT * FROM audit.review_flags(now() - interval '1 day', now(), 10)",
}


@pytest.fixture(scope="module")
def engines(db: PgDatabase) -> Iterator[dict[str, sa.Engine]]:
    users = ("t_clerk", "t_clinician", "t_admin", "t_auditor")
    made = {u: db.engine_for(u) for u in users}
    yield made
    for e in made.values():
        e.dispose()


@pytest.fixture(scope="module")
def patient(engines: dict[str, sa.Engine]) -> dict[str, object]:
    """A patient with a unique family name, changed by a clinician, opened by a clerk."""
    family = "Rev" + uuid.uuid4().hex[:8]
    code = unique_code()
    with engines["t_clinician"].begin() as conn:
        pid = conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date)"
                " VALUES (:c, :f, 'Martha', 'female', '1951-02-03') RETURNING id"
            ),
            {"c": code, "f": family},
        ).scalar_one()
    with engines["t_clinician"].begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.patient SET phone = '555 0101' WHERE id = :i"), {"i": pid}
        )
    with engines["t_clerk"].begin() as conn:
        for _ in range(3):
            conn.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": pid})
    return {"id": pid, "code": code, "family": family}


def _log_count(admin_engine: sa.Engine, view: str) -> int:
    with admin_engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM audit.review_log "
                    "WHERE session_user_name = 't_auditor' AND view = :v"
                ),
                {"v": view},
            ).scalar_one()
        )


# ----------------------------------------------------------------- rights


@pytest.mark.parametrize("table", ["audit.event", "audit.chart_access"])
def test_auditor_cannot_read_the_trail_around_the_record(
    engines: dict[str, sa.Engine], table: str
) -> None:
    with engines["t_auditor"].connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(f"SELECT * FROM {table} LIMIT 1"))
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_admin"])
@pytest.mark.parametrize("view", sorted(REVIEW_CALLS))
def test_only_auditors_may_review(engines: dict[str, sa.Engine], user: str, view: str) -> None:
    with engines[user].connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(REVIEW_CALLS[view]))
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_admin"])
def test_only_auditors_read_the_review_log(engines: dict[str, sa.Engine], user: str) -> None:
    with engines[user].connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text("SELECT * FROM audit.review_log"))
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_admin", "t_auditor"])
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit.review_log SET filters = '{}'",
        "DELETE FROM audit.review_log",
        "TRUNCATE audit.review_log",
        "INSERT INTO audit.review_log (view, filters) VALUES ('activity', '{}')",
    ],
)
def test_nobody_rewrites_the_review_log(engines: dict[str, sa.Engine], user: str, sql: str) -> None:
    with engines[user].connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(sql))
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)


@pytest.mark.parametrize("view", sorted(REVIEW_CALLS))
def test_every_review_call_is_recorded(
    engines: dict[str, sa.Engine], admin_engine: sa.Engine, view: str
) -> None:
    before = _log_count(admin_engine, view)
    with engines["t_auditor"].begin() as conn:
        conn.execute(sa.text(REVIEW_CALLS[view])).all()
    assert _log_count(admin_engine, view) == before + 1
    with engines["t_auditor"].connect() as conn:  # auditors read the log of reviews
        last = conn.execute(
            sa.text(
                "SELECT filters FROM audit.review_log WHERE view = :v ORDER BY id DESC LIMIT 1"
            ),
            {"v": view},
        ).scalar_one()
    assert isinstance(last, dict) and last


# ----------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT * FROM audit.review_activity(NULL, NULL, NULL, NULL, NULL, NULL,"
            " NULL, NULL, NULL, 0)",
            "Ask for 1 to 5000 rows",
        ),
        (
            "SELECT * FROM audit.review_activity(NULL, NULL, NULL, NULL, NULL, NULL,"
            " NULL, NULL, NULL, 5001)",
            "Ask for 1 to 5000 rows",
        ),
        (
            "SELECT * FROM audit.review_activity(repeat('x', 201), NULL, NULL, NULL, NULL,"
            " NULL, NULL, NULL, NULL, 10)",
            "longer than 200",
        ),
        (
            "SELECT * FROM audit.review_activity(NULL, NULL, now(), now() - interval '1 day',"
            " NULL, NULL, NULL, NULL, NULL, 10)",
            "starts after it ends",
        ),
        (
            "SELECT * FROM audit.review_activity(NULL, NULL, NULL, NULL, NULL, NULL,"
            " now(), 'event', NULL, 10)",
            "whole (time, kind, id)",
        ),
        (
            "SELECT * FROM audit.review_flags(now() - interval '93 days', now(), 10)",
            "at most 92 days",
        ),
        ("SELECT * FROM audit.review_patients('  ', 5)", "Type a name"),
        ("SELECT * FROM audit.review_event('row', 1)", "Name an event"),
    ],
)
def test_arguments_are_checked(engines: dict[str, sa.Engine], sql: str, message: str) -> None:
    with engines["t_auditor"].connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(sql))
    assert isinstance(info.value.orig, psycopg.errors.InvalidParameterValue)
    assert message in str(info.value.orig)


# ----------------------------------------------------------------- answers


def test_patient_found_by_name_and_id(
    engines: dict[str, sa.Engine], patient: dict[str, object]
) -> None:
    with Session(engines["t_auditor"]) as s:
        by_name = review.find_patients(s, str(patient["family"]).lower())
        by_code = review.find_patients(s, str(patient["code"]))
    assert [m.id for m in by_name] == [patient["id"]] == [m.id for m in by_code]
    assert by_name[0].given_name == "Martha"
    assert by_name[0].label.startswith(f"{patient['family']}, Martha (")


def test_who_touched_a_patient_newest_first(
    engines: dict[str, sa.Engine], patient: dict[str, object]
) -> None:
    with Session(engines["t_auditor"]) as s:
        rows = review.activity(s, review.ActivityFilter(patient=str(patient["family"])))
    assert [(r.staff, r.action) for r in rows] == [
        ("t_clerk", "opened the chart"),
        ("t_clerk", "opened the chart"),
        ("t_clerk", "opened the chart"),
        ("t_clinician", "changed patient"),
        ("t_clinician", "added patient"),
    ]
    assert {r.patient_code for r in rows} == {patient["code"]}
    assert rows == sorted(rows, key=lambda r: (r.at, r.kind, r.id), reverse=True)


def test_pages_join_up_without_gaps_or_repeats(
    engines: dict[str, sa.Engine], patient: dict[str, object]
) -> None:
    filters = review.ActivityFilter(patient=str(patient["code"]))
    with Session(engines["t_auditor"]) as s:
        whole = review.activity(s, filters)
        paged: list[review.ActivityRow] = []
        after = None
        while True:
            page = review.activity(s, filters, after, limit=2)
            paged += page
            if len(page) < 2:
                break
            after = page[-1].cursor
    assert paged == whole and len(whole) == 5


def test_filters_by_staff_table_and_operation(
    engines: dict[str, sa.Engine], patient: dict[str, object]
) -> None:
    pid = str(patient["id"])
    with Session(engines["t_auditor"]) as s:
        clerk = review.activity(s, review.ActivityFilter(staff="t_clerk", patient=pid))
        updates = review.activity(
            s, review.ActivityFilter(patient=pid, table="patient", operation="update")
        )
        opens = review.activity(s, review.ActivityFilter(patient=pid, operation="OPEN"))
        future = review.activity(
            s,
            review.ActivityFilter(
                patient=pid, start=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            ),
        )
    assert len(clerk) == 3 and {r.kind for r in clerk} == {"chart"}
    assert [(r.staff, r.operation) for r in updates] == [("t_clinician", "UPDATE")]
    assert len(opens) == 3
    assert future == []


def test_an_event_shows_old_and_new_values(
    engines: dict[str, sa.Engine], patient: dict[str, object]
) -> None:
    with Session(engines["t_auditor"]) as s:
        update = review.activity(
            s, review.ActivityFilter(patient=str(patient["id"]), operation="UPDATE")
        )[0]
        detail = review.event_detail(s, "event", update.id)
        opening = review.activity(
            s, review.ActivityFilter(patient=str(patient["id"]), operation="OPEN")
        )[0]
        chart = review.event_detail(s, "chart", opening.id)
        missing = review.event_detail(s, "event", -1)
    assert detail is not None and chart is not None and missing is None
    fields = {f.name: f for f in detail.fields()}
    assert fields["phone"].old == "" and fields["phone"].new == "555 0101"
    assert fields["phone"].changed and fields["version"].changed
    assert not fields["family_name"].changed
    assert fields["family_name"].old == fields["family_name"].new == patient["family"]
    assert chart.row.action == "opened the chart" and chart.fields() == []


def test_access_report_as_csv_and_html(
    engines: dict[str, sa.Engine], patient: dict[str, object]
) -> None:
    now = dt.datetime.now(dt.UTC)
    with Session(engines["t_auditor"]) as s:
        match = review.find_patients(s, str(patient["code"]))[0]
        rows = review.access_report(s, match.id, now - dt.timedelta(days=31), now)
    text = review.access_report_csv(rows)
    lines = text.splitlines()
    assert lines[0] == "When,Staff login,What,Record,Workstation,Application"
    assert len(lines) == 6 and lines[1].split(",")[1:3] == ["t_clerk", "opened the chart"]
    page = review.access_report_html(
        match, now - dt.timedelta(days=31), now, rows, made_by="t_auditor", made_at=now
    )
    assert f"Who accessed the record of {patient['family']}, Martha" in page
    assert "5 accesses by 2 staff members: t_clerk, t_clinician." in page


def test_csv_cells_are_never_formulas() -> None:
    row = review.ActivityRow(
        "event",
        1,
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "=cmd",
        "patient",
        "UPDATE",
        "@x",
        1,
        "1",
        "A, B",
        None,
        "-app",
    )
    cells = review.access_report_csv([row]).splitlines()[1].split(",")
    assert cells[1] == "'=cmd" and cells[3] == "'@x" and cells[5] == "'-app"


# ----------------------------------------------------------------- flags


@pytest.fixture
def flagged(
    engines: dict[str, sa.Engine], admin_engine: sa.Engine
) -> Iterator[tuple[dt.datetime, dict[str, int]]]:
    """Chart openings of last year's day, written as they would have been recorded."""
    day = dt.datetime(2025, 6, 10, tzinfo=dt.UTC) + dt.timedelta(minutes=uuid.uuid4().int % 9000)
    day = day.replace(hour=0, minute=0)
    with engines["t_clinician"].begin() as conn:
        ids = {}
        for name in ("seen", "unseen", "clerk"):
            family = {"seen": "Seen", "unseen": "Unseen", "clerk": "Clerk"}[name]
            ids[name] = conn.execute(
                sa.text(
                    "INSERT INTO phms.patient (patient_code, family_name, given_name, sex,"
                    " birth_date) VALUES (:c, :f, 'Flag', 'male', '1960-01-01') RETURNING id"
                ),
                {"c": unique_code(), "f": family},
            ).scalar_one()
        burst = [
            conn.execute(
                sa.text(
                    "INSERT INTO phms.patient (patient_code, family_name, given_name, sex,"
                    " birth_date) VALUES (:c, 'Burst', 'Flag', 'male', '1960-01-01')"
                    " RETURNING id"
                ),
                {"c": unique_code()},
            ).scalar_one()
            for _ in range(20)
        ]
    with admin_engine.begin() as conn:
        conn.execute(sa.text("SET TIME ZONE 'UTC'"))
        conn.execute(
            sa.text(
                "INSERT INTO phms.appointment (patient_id, starts_at, kind)"
                " VALUES (:p, :t, 'followup')"
            ),
            {"p": ids["seen"], "t": day + dt.timedelta(days=10, hours=9)},
        )
        opening = sa.text(
            "INSERT INTO audit.chart_access (patient_id, session_user_name, at) VALUES (:p, :u, :t)"
        )
        conn.execute(opening, {"p": ids["seen"], "u": "t_clinician", "t": day.replace(hour=10)})
        conn.execute(
            opening, {"p": ids["unseen"], "u": "t_clinician", "t": day.replace(hour=10, minute=5)}
        )
        conn.execute(opening, {"p": ids["seen"], "u": "t_clinician", "t": day.replace(hour=22)})
        conn.execute(opening, {"p": ids["clerk"], "u": "t_clerk", "t": day.replace(hour=11)})
        for n, p in enumerate(burst):
            conn.execute(opening, {"p": p, "u": "t_admin", "t": day.replace(hour=14, minute=n)})
    yield day, ids


def test_flags_explain_what_is_odd(
    engines: dict[str, sa.Engine], flagged: tuple[dt.datetime, dict[str, int]]
) -> None:
    day, ids = flagged
    with Session(engines["t_auditor"]) as s:
        s.execute(sa.text("SET TIME ZONE 'UTC'"))
        found = review.flags(s, day, day + dt.timedelta(days=1))
    kinds = {(f.flag, f.staff, f.patient_id) for f in found}
    # The patient with an appointment ten days later: a reason; the other: none.
    assert ("no_reason", "t_clinician", ids["unseen"]) in kinds
    assert not any(k == ("no_reason", "t_clinician", ids["seen"]) for k in kinds)
    assert ("after_hours", "t_clinician", ids["seen"]) in kinds
    assert ("own_name", "t_clerk", ids["clerk"]) in kinds
    burst = [f for f in found if f.flag == "many_charts"]
    assert [(f.staff, f.patient_id) for f in burst] == [("t_admin", None)]
    assert burst[0].detail.startswith("Opened 20 different charts between")
    after = next(f for f in found if f.flag == "after_hours")
    assert after.detail == "Opened at 22:00, outside the clinic's hours (07:00–19:00)."
    assert after.title == "Outside clinic hours"
    assert all(a.at >= b.at for a, b in itertools.pairwise(found))


def test_flags_come_newest_first_a_page_at_a_time(
    engines: dict[str, sa.Engine], flagged: tuple[dt.datetime, dict[str, int]]
) -> None:
    day, ids = flagged
    with Session(engines["t_auditor"]) as s:
        s.execute(sa.text("SET TIME ZONE 'UTC'"))
        # Over two weeks around the day: the newest flag, found without the rest.
        since, until = day - dt.timedelta(days=7), day + dt.timedelta(days=7)
        first = review.flags(s, since, until, limit=1)
        every = review.flags(s, since, until)
    assert len(first) == 1 and first[0] == every[0]
    assert all(a.at >= b.at for a, b in itertools.pairwise(every))
    assert ("after_hours", ids["seen"]) in {(f.flag, f.patient_id) for f in every}
