"""Derived values: the database and ``phms_client.clinical`` give the same numbers.

Random plausible input is written with plain SQL as ``t_clinician``; the
generated columns and views are read back and compared with the Python
formulas (relative tolerance 1e-9; classes and results exactly). Every example
runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phms_client.clinical import formulas, risk, vasoreactivity
from phms_client.clinical.matching import BODY_WINDOW_DAYS, WALK_WINDOW_DAYS, nearest
from tests.db.clinical_data import TODAY, add_patient, insert
from tests.harness import PgDatabase

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BIRTH = dt.date(1950, 1, 1)
DAY0 = TODAY - dt.timedelta(days=400)


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
    pid = add_patient(conn, birth_date=BIRTH)
    insert(conn, "assessment", patient_id=pid, kind="assessment", study_date=DAY0)
    return pid


def close(db_value: Decimal | None, py_value: float | None) -> bool:
    if db_value is None or py_value is None:
        return db_value is None and py_value is None
    return math.isclose(float(db_value), py_value, rel_tol=1e-9)


class Example:
    """A savepoint for one hypothesis example."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sa.Connection:
        self.savepoint = self.conn.begin_nested()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.savepoint.rollback()


def dec(low: str, high: str, places: int = 1) -> st.SearchStrategy[Decimal]:
    return st.decimals(low, high, places=places)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


# ----------------------------------------------------------- haemodynamics


@st.composite
def haemodynamics(draw: st.DrawFn) -> dict[str, Decimal | None]:
    """Plausible values, often right at the ESC/ERS thresholds."""
    mpap = draw(maybe(dec("0.1", "150") | st.sampled_from([Decimal(20), Decimal("20.1")])))
    pawp = draw(maybe(dec("0", "60") | st.sampled_from([Decimal(15), Decimal("15.1")])))
    if mpap is not None and pawp is not None and pawp > mpap:
        pawp = mpap  # PAWP ≤ mPAP (a consistency rule); TPG 0 is the edge
    co = draw(maybe(dec("0.5", "20", places=2)))
    if mpap is not None and pawp is not None and draw(st.booleans()):
        edge = (mpap - pawp) / 2  # PVR exactly 2 WU, when that is a plausible output
        if Decimal("0.5") <= edge <= 20:
            co = edge
    dpap = draw(maybe(dec("0", "150")))
    if dpap is not None and mpap is not None and dpap > mpap:
        dpap = mpap
    return {
        "height_cm": draw(maybe(dec("30", "250"))),
        "weight_kg": draw(maybe(dec("1", "400"))),
        "mpap_mmhg": mpap,
        "pawp_mmhg": pawp,
        "co_l_min": co,
        "dpap_mmhg": dpap,
    }


@PROPERTY
@given(values=haemodynamics())
def test_generated_columns_match_the_formulas(
    conn: sa.Connection, patient: int, values: dict[str, Any]
) -> None:
    with Example(conn) as c:
        row = insert(c, "assessment", patient_id=patient, kind="assessment", study_date=DAY0,
                     **values)  # fmt: skip
    h, w = values["height_cm"], values["weight_kg"]
    mpap, pawp, co, dpap = (values[k] for k in ("mpap_mmhg", "pawp_mmhg", "co_l_min", "dpap_mmhg"))
    assert close(row.bsa_m2, formulas.bsa(h, w))
    assert close(row.cardiac_index_l_min_m2, formulas.cardiac_index(co, h, w))
    assert close(row.tpg_mmhg, formulas.tpg(mpap, pawp))
    assert close(row.dpg_mmhg, formulas.dpg(dpap, pawp))
    assert close(row.pvr_wu, formulas.pvr_wood(mpap, pawp, co))
    assert close(row.pvr_dyn_s_cm5, formulas.pvr_dyn(mpap, pawp, co))
    assert row.ph_class == formulas.ph_class(mpap, pawp, co)


def test_hand_computed_haemodynamics(conn: sa.Connection, patient: int) -> None:
    with Example(conn) as c:
        row = insert(
            c, "assessment", patient_id=patient, kind="assessment", study_date=DAY0,
            height_cm=180, weight_kg=80, mpap_mmhg=45, pawp_mmhg=10, co_l_min=5, dpap_mmhg=30,
        )  # fmt: skip
    assert row.bsa_m2 == 2  # sqrt(180 * 80 / 3600)
    assert row.cardiac_index_l_min_m2 == Decimal("2.5")
    assert (row.tpg_mmhg, row.dpg_mmhg) == (35, 20)
    assert (row.pvr_wu, row.pvr_dyn_s_cm5) == (7, 560)
    assert row.ph_class == "pre-capillary"


# ---------------------------------------------------------------- the walk


@st.composite
def walk_cases(draw: st.DrawFn) -> dict[str, Any]:
    walk_offset = draw(st.integers(0, 3000))
    bodies = draw(
        st.lists(
            st.tuples(st.integers(-200, 200), dec("100", "210"), dec("30", "150")),
            max_size=3,
        )
    )
    return {
        "sex": draw(st.sampled_from(["male", "female", "other"])),
        "birth": BIRTH + dt.timedelta(days=draw(st.integers(0, 20000))),
        "walk_offset": walk_offset,
        "distance": draw(dec("0", "1000")),
        "bodies": bodies,
    }


@PROPERTY
@given(case=walk_cases())
def test_walk_percent_predicted_matches(conn: sa.Connection, case: dict[str, Any]) -> None:
    birth: dt.date = case["birth"]
    walk_date = min(birth + dt.timedelta(days=case["walk_offset"]), TODAY)
    with Example(conn) as c:
        pid = add_patient(c, sex=case["sex"], birth_date=birth)
        bodies = []
        for offset, height, weight in case["bodies"]:
            day = walk_date + dt.timedelta(days=offset)
            if birth <= day <= TODAY:
                row = insert(c, "assessment", patient_id=pid, kind="assessment", study_date=day,
                             height_cm=height, weight_kg=weight)  # fmt: skip
                bodies.append(row)
        walk = insert(c, "six_minute_walk", patient_id=pid, study_date=walk_date,
                      distance_m=case["distance"])  # fmt: skip
        view = (
            c.execute(
                sa.text("SELECT * FROM phms.six_minute_walk_predicted WHERE walk_id = :w"),
                {"w": walk.id},
            )
            .mappings()
            .one()
        )
    body = nearest(
        bodies, walk_date, BODY_WINDOW_DAYS, date_of=lambda r: r.study_date, id_of=lambda r: r.id
    )
    age = formulas.age_years(birth, walk_date)
    assert view.age_years == age
    assert view.body_assessment_id == (None if body is None else body.id)
    height = None if body is None else body.height_cm
    weight = None if body is None else body.weight_kg
    assert close(view.predicted_m, formulas.walk_predicted_m(case["sex"], age, height, weight))
    assert close(
        view.percent_predicted,
        formulas.walk_percent_predicted(case["distance"], case["sex"], age, height, weight),
    )


# ----------------------------------------------------- vasodilator response

steps_strategy = st.lists(st.tuples(dec("1", "150"), maybe(dec("0.5", "20", places=2))), max_size=4)


@PROPERTY
@given(
    baseline=maybe(st.tuples(dec("1", "150"), maybe(dec("0.5", "20", places=2)))),
    steps=steps_strategy,
    removed=st.sets(st.integers(0, 4), max_size=2),
)
def test_vasoreactivity_view_matches(
    conn: sa.Connection,
    patient: int,
    baseline: tuple[Decimal, Decimal | None] | None,
    steps: list[tuple[Decimal, Decimal | None]],
    removed: set[int],
) -> None:
    rows = ([] if baseline is None else [(0, *baseline)]) + [
        (n, mpap, co) for n, (mpap, co) in enumerate(steps, start=1)
    ]
    with Example(conn) as c:
        challenge = insert(c, "vasodilator_challenge", patient_id=patient, study_date=DAY0).id
        for no, mpap, co in rows:
            agent = {} if no == 0 else {"agent": "IV epoprostenol", "dose": 2 * no,
                                        "dose_unit": "ng/kg/min"}  # fmt: skip
            step = insert(c, "vasodilator_step", challenge_id=challenge, step_no=no,
                          mpap_mmhg=mpap, co_l_min=co, **agent)  # fmt: skip
            if no in removed:  # deleted steps do not count
                c.execute(
                    sa.text(
                        "UPDATE phms.vasodilator_step SET entered_in_error = true,"
                        " error_reason = 'typo' WHERE id = :i"
                    ),
                    {"i": step.id},
                )
        result = c.execute(
            sa.text(
                "SELECT result, positive_step_no FROM phms.vasoreactivity WHERE challenge_id = :c"
            ),
            {"c": challenge},
        ).one()
    live = [vasoreactivity.StepValues(no, m, co) for no, m, co in rows if no not in removed]
    base = next((s for s in live if s.step_no == 0), None)
    expected = vasoreactivity.assess(base, live)
    assert (result.result, result.positive_step_no) == (expected.result, expected.positive_step_no)


# --------------------------------------------------------------------- risk


@PROPERTY
@given(
    who_fc=maybe(st.integers(1, 4)),
    bnp=maybe(st.sampled_from([49, 50, 199, 200, 800, 801]) | dec("0", "3000")),
    nt=maybe(st.sampled_from([299, 300, 649, 650, 1100, 1101]) | dec("0", "5000")),
    walks=st.lists(
        st.tuples(
            st.integers(-20, 20),
            st.sampled_from([164, 165, 319, 320, 440, 441]) | dec("0", "1000"),
            st.booleans(),
        ),
        max_size=3,
    ),
)
def test_risk_view_matches(
    conn: sa.Connection,
    patient: int,
    who_fc: int | None,
    bnp: Decimal | None,
    nt: Decimal | None,
    walks: list[tuple[int, Decimal, bool]],
) -> None:
    visit = DAY0 + dt.timedelta(days=100)
    with Example(conn) as c:
        a = insert(c, "assessment", patient_id=patient, kind="followup", study_date=visit,
                   who_fc=who_fc, bnp_pg_ml=bnp, nt_probnp_pg_ml=nt)  # fmt: skip
        live = []
        for offset, distance, in_error in walks:
            w = insert(c, "six_minute_walk", patient_id=patient, distance_m=distance,
                       study_date=visit + dt.timedelta(days=offset))  # fmt: skip
            if in_error:
                c.execute(
                    sa.text(
                        "UPDATE phms.six_minute_walk SET entered_in_error = true,"
                        " error_reason = 'x' WHERE id = :i"
                    ),
                    {"i": w.id},
                )
            else:
                live.append(w)
        view = (
            c.execute(
                sa.text("SELECT * FROM phms.assessment_risk WHERE assessment_id = :a"), {"a": a.id}
            )
            .mappings()
            .one()
        )
    walk = nearest(
        live, visit, WALK_WINDOW_DAYS, date_of=lambda w: w.study_date, id_of=lambda w: w.id
    )
    expected = risk.assess(who_fc, None if walk is None else walk.distance_m, bnp, nt)
    assert view.walk_id == (None if walk is None else walk.id)
    assert (view.fc_grade, view.walk_grade, view.peptide, view.peptide_grade) == (
        expected.fc_grade,
        expected.walk_grade,
        expected.peptide,
        expected.peptide_grade,
    )
    assert (view.n_variables, view.risk_stratum, view.risk_label) == (
        expected.n_variables,
        expected.stratum,
        expected.label,
    )
    expected_mean = None if expected.mean_grade is None else float(expected.mean_grade)
    assert close(view.mean_grade, expected_mean)
