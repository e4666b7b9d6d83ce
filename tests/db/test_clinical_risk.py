"""``phms.assessment_risk`` at every edge of the COMPERA 2.0 table, and the Python twin.

Each case is one followup written as plain SQL by ``t_clinician`` (with a walk
on the same day when the case has a 6MWD), read back from the view, and
compared with the expected grades and with ``phms_client.clinical.risk``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from phms_client.clinical import risk
from tests.db.clinical_data import TODAY, add_patient, insert
from tests.harness import PgDatabase

VISIT = TODAY - dt.timedelta(days=30)


@pytest.fixture(scope="module")
def conn(db: PgDatabase) -> Iterator[sa.Connection]:
    engine = db.engine_for("t_clinician")
    with engine.connect() as connection:
        connection.begin()
        yield connection
        connection.rollback()
    engine.dispose()


@pytest.fixture(scope="module")
def patient(conn: sa.Connection) -> int:
    pid = add_patient(conn)
    first_visit = VISIT - dt.timedelta(days=90)
    insert(conn, "assessment", patient_id=pid, kind="assessment", study_date=first_visit)
    return pid


def view_row(
    conn: sa.Connection,
    patient: int,
    *,
    who_fc: int | None = None,
    walk: Any = None,
    bnp: Any = None,
    nt: Any = None,
    walk_days: int = 0,
) -> sa.RowMapping:
    with conn.begin_nested() as savepoint:
        a = insert(conn, "assessment", patient_id=patient, kind="followup", study_date=VISIT,
                   who_fc=who_fc, bnp_pg_ml=bnp, nt_probnp_pg_ml=nt)  # fmt: skip
        if walk is not None:
            insert(conn, "six_minute_walk", patient_id=patient, distance_m=walk,
                   study_date=VISIT + dt.timedelta(days=walk_days))  # fmt: skip
        row = (
            conn.execute(
                sa.text("SELECT * FROM phms.assessment_risk WHERE assessment_id = :a"),
                {"a": a.id},
            )
            .mappings()
            .one()
        )
        savepoint.rollback()
    return row


WALK = [(441, 1), (440, 2), (320, 2), (319, 3), (165, 3), (164, 4), (Decimal("319.5"), 3)]
BNP = [(49, 1), (50, 2), (199, 2), (200, 3), (800, 3), (801, 4), (Decimal("199.5"), 2)]
NT = [(299, 1), (300, 2), (649, 2), (650, 3), (1100, 3), (1101, 4), (Decimal("1100.5"), 4)]
FC = [(1, 1), (2, 1), (3, 3), (4, 4)]


@pytest.mark.parametrize(("distance", "grade"), WALK)
def test_walk_edges(conn: sa.Connection, patient: int, distance: Any, grade: int) -> None:
    row = view_row(conn, patient, walk=distance)
    assert row.walk_grade == grade == risk.grade_walk(distance)
    assert row.risk_stratum is None  # one variable is not enough


@pytest.mark.parametrize(("value", "grade"), BNP)
def test_bnp_edges(conn: sa.Connection, patient: int, value: Any, grade: int) -> None:
    row = view_row(conn, patient, bnp=value)
    assert (row.peptide, row.peptide_grade) == ("BNP", grade)
    assert risk.grade_bnp(value) == grade


@pytest.mark.parametrize(("value", "grade"), NT)
def test_nt_probnp_edges(conn: sa.Connection, patient: int, value: Any, grade: int) -> None:
    row = view_row(conn, patient, nt=value)
    assert (row.peptide, row.peptide_grade) == ("NT-proBNP", grade)
    assert risk.grade_nt_probnp(value) == grade


@pytest.mark.parametrize(("fc", "grade"), FC)
def test_who_fc_grades(conn: sa.Connection, patient: int, fc: int, grade: int) -> None:
    assert view_row(conn, patient, who_fc=fc).fc_grade == grade == risk.grade_who_fc(fc)


# inputs -> (stratum, label, n, mean)
STRATA: dict[str, tuple[dict[str, Any], tuple[int | None, str | None, int, str | None]]] = {
    "1.5 rounds half up to 2": ({"who_fc": 2, "walk": 400}, (2, "intermediate-low", 2, "1.5")),
    "2.5 rounds half up to 3": ({"who_fc": 3, "walk": 400}, (3, "intermediate-high", 2, "2.5")),
    "3.5 rounds half up to 4": ({"who_fc": 4, "bnp": 300}, (4, "high", 2, "3.5")),
    "2.33 rounds down to 2": (
        {"who_fc": 2, "walk": 200, "nt": 700},
        (2, "intermediate-low", 3, "2.3333333333333333"),
    ),
    "2.67 rounds up to 3": (
        {"who_fc": 3, "walk": 330, "nt": 700},
        (3, "intermediate-high", 3, "2.6666666666666667"),
    ),
    "all low": ({"who_fc": 1, "walk": 500, "bnp": 30}, (1, "low", 3, "1")),
    "NT-proBNP preferred": (
        {"walk": 500, "bnp": 30, "nt": 5000},
        (3, "intermediate-high", 2, "2.5"),
    ),
    "FC alone is not enough": ({"who_fc": 4}, (None, None, 1, None)),
    "two peptides are one variable": ({"bnp": 30, "nt": 30}, (None, None, 1, None)),
    "nothing": ({}, (None, None, 0, None)),
}


@pytest.mark.parametrize(("inputs", "expected"), STRATA.values(), ids=STRATA.keys())
def test_strata(
    conn: sa.Connection,
    patient: int,
    inputs: dict[str, Any],
    expected: tuple[int | None, str | None, int, str | None],
) -> None:
    row = view_row(conn, patient, **inputs)
    stratum, label, n, mean = expected
    assert (row.risk_stratum, row.risk_label, row.n_variables) == (stratum, label, n)
    assert row.mean_grade == (None if mean is None else Decimal(mean))
    python = risk.assess(
        inputs.get("who_fc"), inputs.get("walk"), inputs.get("bnp"), inputs.get("nt")
    )
    assert (python.stratum, python.label, python.n_variables) == (stratum, label, n)


@pytest.mark.parametrize(("days", "counted"), [(0, True), (-14, True), (14, True), (15, False),
                                               (-15, False)])  # fmt: skip
def test_walk_window(conn: sa.Connection, patient: int, days: int, counted: bool) -> None:
    row = view_row(conn, patient, who_fc=3, walk=500, walk_days=days)
    assert (row.walk_grade == 1) is counted
    assert (row.risk_stratum is not None) is counted
