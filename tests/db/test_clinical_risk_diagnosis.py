"""``phms.assessment_risk_at_diagnosis`` at every edge of the ESC/ERS 2022 table, and the
Python twin (``phms_client.clinical.risk_diagnosis``), case by case and on random input.

Reference cases are written from the guideline's table (PH_DOMAIN.md, "Risk at
diagnosis"): both sides of every cut-off, the 2- and 3-variable edge, NT-proBNP
over BNP, rounding at .5. Each case is the first assessment of a patient without
one (so it is the visit at diagnosis), written as plain SQL by ``t_clinician``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phms_client.clinical import risk_diagnosis as rd
from phms_client.clinical.matching import WALK_WINDOW_DAYS, nearest
from phms_client.services.chart_risk import GRADE_COLUMNS
from tests.db.clinical_data import TODAY, add_patient, insert, update
from tests.harness import PgDatabase

VISIT = TODAY - dt.timedelta(days=30)
D = Decimal
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEY_OF = {key: column for column, key in GRADE_COLUMNS.items()}


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
    return add_patient(conn)


def _view(conn: sa.Connection, assessment_id: int) -> sa.RowMapping:
    return (
        conn.execute(
            sa.text("SELECT * FROM phms.assessment_risk_at_diagnosis WHERE assessment_id = :a"),
            {"a": assessment_id},
        )
        .mappings()
        .one()
    )


def view_row(conn: sa.Connection, patient: int, walk: Any = None, **values: Any) -> sa.RowMapping:
    with conn.begin_nested() as savepoint:
        a = insert(conn, "assessment", patient_id=patient, kind="assessment", study_date=VISIT,
                   **values)  # fmt: skip
        if walk is not None:
            insert(conn, "six_minute_walk", patient_id=patient, distance_m=walk, study_date=VISIT)
        row = _view(conn, a.id)
        savepoint.rollback()
    return row


def python(walk: Any = None, **values: Any) -> rd.DiagnosisRisk:
    return rd.assess(rd.DiagnosisInputs(walk_m=walk, **values))


BSA_2 = {"height_cm": 180, "weight_kg": 80}  # sqrt(180 × 80 / 3600) = 2 m² exactly
# variable key -> [(values, grade)], both sides of every cut-off of the table.
EDGES: dict[str, list[tuple[dict[str, Any], int | None]]] = {
    "rhf": [({"rhf_signs": False}, 1), ({"rhf_signs": True}, 3)],
    "progression": [({"symptom_progression": p}, n) for n, p in enumerate(rd.PROGRESSIONS, 1)],
    "syncope": [({"syncope": s}, n) for n, s in enumerate(rd.SYNCOPES, 1)],
    "who_fc": [({"who_fc": 1}, 1), ({"who_fc": 2}, 1), ({"who_fc": 3}, 2), ({"who_fc": 4}, 3)],
    "walk": [({"walk": 441}, 1), ({"walk": D("440.1")}, 1), ({"walk": 440}, 2),
             ({"walk": 165}, 2), ({"walk": D("164.9")}, 3), ({"walk": 0}, 3)],
    "peptide": [({"bnp_pg_ml": D("49.9")}, 1), ({"bnp_pg_ml": 50}, 2), ({"bnp_pg_ml": 800}, 2),
                ({"bnp_pg_ml": D("800.1")}, 3), ({"nt_probnp_pg_ml": D("299.9")}, 1),
                ({"nt_probnp_pg_ml": 300}, 2), ({"nt_probnp_pg_ml": 1100}, 2),
                ({"nt_probnp_pg_ml": D("1100.1")}, 3),
                ({"bnp_pg_ml": 30, "nt_probnp_pg_ml": 2000}, 3)],  # NT-proBNP preferred
    "ra_area": [({"ra_area_cm2": D("17.9")}, 1), ({"ra_area_cm2": 18}, 2),
                ({"ra_area_cm2": 26}, 2), ({"ra_area_cm2": D("26.1")}, 3)],
    # TAPSE (mm) / sPAP (mmHg): 18/50 = 0.36, 16/50 = 0.32, 9.5/50 = 0.19, 9.4/50 = 0.188
    "tapse_spap": [({"tapse_mm": 18, "echo_spap_mmhg": 50}, 1),
                   ({"tapse_mm": D("16.1"), "echo_spap_mmhg": 50}, 1),
                   ({"tapse_mm": 16, "echo_spap_mmhg": 50}, 2),
                   ({"tapse_mm": D("9.5"), "echo_spap_mmhg": 50}, 2),
                   ({"tapse_mm": D("9.4"), "echo_spap_mmhg": 50}, 3),
                   ({"tapse_mm": 18}, None)],
    "effusion": [({"pericardial_effusion": "none"}, 1), ({"pericardial_effusion": "minimal"}, 2),
                 ({"pericardial_effusion": "moderate or large"}, 3),
                 ({"pericardial_effusion": "present"}, None)],  # size not recorded
    "peak_vo2": [({"peak_vo2_ml_min_kg": D("15.1")}, 1), ({"peak_vo2_ml_min_kg": 15}, 2),
                 ({"peak_vo2_ml_min_kg": 11}, 2), ({"peak_vo2_ml_min_kg": D("10.9")}, 3)],
    "ve_vco2": [({"ve_vco2_slope": D("35.9")}, 1), ({"ve_vco2_slope": 36}, 2),
                ({"ve_vco2_slope": 44}, 2), ({"ve_vco2_slope": D("44.1")}, 3)],
    "rap": [({"rap_mmhg": D("7.9")}, 1), ({"rap_mmhg": 8}, 2), ({"rap_mmhg": 14}, 2),
            ({"rap_mmhg": D("14.1")}, 3), ({"rap_mmhg": -5}, 1)],
    "cardiac_index": [({**BSA_2, "co_l_min": 5}, 1), ({**BSA_2, "co_l_min": D("4.9")}, 2),
                      ({**BSA_2, "co_l_min": 4}, 2), ({**BSA_2, "co_l_min": D("3.98")}, 3)],
    # SVI = CI × 1000 / HR: CI 1.9 at HR 50 = 38; at HR 49 = 38.8; CI 1.55 at 50 = 31
    "svi": [({**BSA_2, "co_l_min": D("3.8"), "rhc_heart_rate_bpm": 49}, 1),
            ({**BSA_2, "co_l_min": D("3.8"), "rhc_heart_rate_bpm": 50}, 2),
            ({**BSA_2, "co_l_min": D("3.1"), "rhc_heart_rate_bpm": 50}, 2),
            ({**BSA_2, "co_l_min": D("3.08"), "rhc_heart_rate_bpm": 50}, 3),
            ({**BSA_2, "co_l_min": D("3.8")}, None)],  # no catheter heart rate
    "svo2": [({"svo2_pct": D("65.1")}, 1), ({"svo2_pct": 65}, 2), ({"svo2_pct": 60}, 2),
             ({"svo2_pct": D("59.9")}, 3)],
}  # fmt: skip
EDGE_CASES = [(key, values, grade) for key, cases in EDGES.items() for values, grade in cases]


@pytest.mark.parametrize(
    ("key", "values", "grade"),
    EDGE_CASES,
    ids=[f"{k}-{'-'.join(str(v) for v in values.values())}" for k, values, _ in EDGE_CASES],
)
def test_every_cut_off(
    conn: sa.Connection, patient: int, key: str, values: dict[str, Any], grade: int | None
) -> None:
    row = view_row(conn, patient, **values)
    assert row.at_diagnosis
    assert row[KEY_OF[key]] == grade
    assert python(**values).grades[key] == grade


def test_derived_values_are_stored(conn: sa.Connection, patient: int) -> None:
    row = view_row(conn, patient, **BSA_2, co_l_min=D("3.8"), rhc_heart_rate_bpm=50,
                   tapse_mm=18, echo_spap_mmhg=50)  # fmt: skip
    assert (row.cardiac_index_l_min_m2, row.svi_ml_m2, row.tapse_spap_ratio) == (
        D("1.9"), D(38), D("0.36"),
    )  # fmt: skip


# values -> (stratum, label, n, mean)
STRATA: dict[str, tuple[dict[str, Any], tuple[int | None, str | None, int, str | None]]] = {
    "two variables are not enough": ({"who_fc": 4, "rap_mmhg": 20}, (None, None, 2, None)),
    "three variables are enough, 1.67 -> 2": (
        {"who_fc": 3, "rap_mmhg": 10, "svo2_pct": 70},
        (2, "intermediate", 3, "1.6666666666666667"),
    ),
    "1.5 rounds half up to 2": (
        {"who_fc": 2, "rap_mmhg": 10, "svo2_pct": 70, "ra_area_cm2": 20},
        (2, "intermediate", 4, "1.5"),
    ),
    "2.5 rounds half up to 3": (
        {"who_fc": 3, "rap_mmhg": 20, "svo2_pct": 62, "ra_area_cm2": 30},
        (3, "high", 4, "2.5"),
    ),
    "2.33 rounds down to 2": (
        {"who_fc": 3, "rap_mmhg": 10, "svo2_pct": 50}, (2, "intermediate", 3, "2.3333333333333333"),
    ),
    "NT-proBNP preferred over BNP": (
        {"bnp_pg_ml": 30, "nt_probnp_pg_ml": 2000, "who_fc": 4, "rap_mmhg": 20},
        (3, "high", 3, "3"),
    ),
    "two peptides are one variable": (
        {"bnp_pg_ml": 30, "nt_probnp_pg_ml": 30, "who_fc": 1}, (None, None, 2, None),
    ),
    "all low": (
        {"rhf_signs": False, "symptom_progression": "none", "syncope": "none", "who_fc": 1,
         "walk": 500, "nt_probnp_pg_ml": 100, "svo2_pct": 70},
        (1, "low", 7, "1"),
    ),
    "all high": (
        {"rhf_signs": True, "symptom_progression": "rapid", "syncope": "repeated", "who_fc": 4},
        (3, "high", 4, "3"),
    ),
    "nothing": ({}, (None, None, 0, None)),
}  # fmt: skip


@pytest.mark.parametrize(("values", "expected"), STRATA.values(), ids=STRATA.keys())
def test_strata(
    conn: sa.Connection,
    patient: int,
    values: dict[str, Any],
    expected: tuple[int | None, str | None, int, str | None],
) -> None:
    row = view_row(conn, patient, **values)
    stratum, label, n, mean = expected
    assert (row.risk_stratum, row.risk_label, row.n_variables) == (stratum, label, n)
    assert row.mean_grade == (None if mean is None else Decimal(mean))
    result = python(**values)
    assert (result.stratum, result.label, result.n_variables) == (stratum, label, n)


def test_only_the_first_assessment_is_at_diagnosis(conn: sa.Connection) -> None:
    with conn.begin_nested() as savepoint:
        pid = add_patient(conn)

        def add(kind: str, days: int) -> int:
            day = VISIT - dt.timedelta(days=100 - days)
            return int(insert(conn, "assessment", patient_id=pid, kind=kind, study_date=day).id)

        first, same_day = add("assessment", 0), add("assessment", 0)
        followup, later = add("followup", 30), add("assessment", 60)

        def flags() -> dict[int, bool]:
            rows = conn.execute(
                sa.text(
                    "SELECT assessment_id, at_diagnosis FROM phms.assessment_risk_at_diagnosis"
                    " WHERE patient_id = :p"
                ),
                {"p": pid},
            )
            return {r.assessment_id: r.at_diagnosis for r in rows}

        assert flags() == {first: True, same_day: False, followup: False, later: False}
        # Deleted as entered in error: the next assessment is the one at diagnosis.
        update(conn, "assessment", first, entered_in_error=True, error_reason="wrong patient")
        assert flags() == {same_day: True, followup: False, later: False}
        savepoint.rollback()


# ------------------------------------------------------------- random input


def dec(low: str, high: str, places: int = 1) -> st.SearchStrategy[Decimal]:
    return st.decimals(low, high, places=places)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def first_visits(draw: st.DrawFn) -> dict[str, Any]:
    """Plausible values, often right at a cut-off."""

    def edge(*values: str | int) -> st.SearchStrategy[Decimal]:
        return st.sampled_from([Decimal(v) for v in values])

    return {
        "rhf_signs": draw(maybe(st.booleans())),
        "symptom_progression": draw(maybe(st.sampled_from(rd.PROGRESSIONS))),
        "syncope": draw(maybe(st.sampled_from(rd.SYNCOPES))),
        "who_fc": draw(maybe(st.integers(1, 4))),
        "bnp_pg_ml": draw(maybe(edge(49, 50, 800, 801) | dec("0", "3000"))),
        "nt_probnp_pg_ml": draw(maybe(edge(299, 300, 1100, 1101) | dec("0", "5000"))),
        "ra_area_cm2": draw(maybe(edge(18, 26, "17.9", "26.1") | dec("1", "100"))),
        "tapse_mm": draw(maybe(edge(16, "9.5", "9.4") | dec("1", "60"))),
        "echo_spap_mmhg": draw(maybe(edge(50) | dec("5", "250"))),
        "pericardial_effusion": draw(maybe(st.sampled_from(rd.EFFUSIONS))),
        "peak_vo2_ml_min_kg": draw(maybe(edge(11, 15) | dec("1", "80"))),
        "ve_vco2_slope": draw(maybe(edge(36, 44) | dec("10", "100"))),
        "rap_mmhg": draw(maybe(edge(8, 14) | dec("-5", "40"))),
        "height_cm": draw(maybe(edge(180) | dec("30", "250"))),
        "weight_kg": draw(maybe(edge(80) | dec("1", "400"))),
        "co_l_min": draw(maybe(edge(4, 5, "3.8", "3.1") | dec("0.5", "20", places=2))),
        "rhc_heart_rate_bpm": draw(maybe(edge(50) | dec("20", "250"))),
        "svo2_pct": draw(maybe(edge(60, 65) | dec("10", "100"))),
    }


@PROPERTY
@given(
    values=first_visits(),
    walks=st.lists(
        st.tuples(st.integers(-20, 20), st.sampled_from([164, 165, 440, 441]) | dec("0", "1000")),
        max_size=2,
    ),
)
def test_view_matches_python(
    conn: sa.Connection,
    patient: int,
    values: dict[str, Any],
    walks: list[tuple[int, Decimal]],
) -> None:
    with conn.begin_nested() as savepoint:
        a = insert(conn, "assessment", patient_id=patient, kind="assessment", study_date=VISIT,
                   **values)  # fmt: skip
        live = [
            insert(
                conn,
                "six_minute_walk",
                patient_id=patient,
                distance_m=distance,
                study_date=VISIT + dt.timedelta(days=offset),
            )
            for offset, distance in walks
            if VISIT + dt.timedelta(days=offset) <= TODAY
        ]
        view = _view(conn, a.id)
        savepoint.rollback()
    walk = nearest(
        live, VISIT, WALK_WINDOW_DAYS, date_of=lambda w: w.study_date, id_of=lambda w: w.id
    )
    expected = python(walk=None if walk is None else walk.distance_m, **values)
    assert view.at_diagnosis
    assert {key: view[column] for key, column in KEY_OF.items()} == expected.grades
    assert (view.n_variables, view.risk_stratum, view.risk_label) == (
        expected.n_variables,
        expected.stratum,
        expected.label,
    )
    assert view.mean_grade == expected.mean_grade or (
        view.mean_grade is not None
        and expected.mean_grade is not None
        and abs(view.mean_grade - expected.mean_grade) < Decimal("1e-12")
    )
