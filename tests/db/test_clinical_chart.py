"""The chart service: one round trip to load, honest writes, stale saves refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from phms_client.clinical import formulas
from phms_client.services import chart
from phms_client.services.chart import (
    AssessmentInput,
    ChallengeInput,
    ItemInput,
    StepInput,
    WalkInput,
)
from tests.db.clinical_data import TODAY, add_patient
from tests.harness import PgDatabase

D0 = TODAY - dt.timedelta(days=700)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


@pytest.fixture
def patient(session: Session) -> int:
    return add_patient(session.connection(), sex="female", birth_date=dt.date(1970, 6, 15))


class StatementCounter:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


def _fill(session: Session, pid: int) -> None:
    """A long-followed patient: 240+ records, written in a few set-based statements."""
    conn = session.connection()
    params = {"p": pid, "d0": D0}
    for sql in (
        "INSERT INTO phms.assessment (patient_id, kind, study_date, who_fc, height_cm, weight_kg,"
        " mpap_mmhg, pawp_mmhg, co_l_min, nt_probnp_pg_ml)"
        " SELECT :p, CASE WHEN g = 0 THEN 'assessment' ELSE 'followup' END, :d0 + 7 * g,"
        " 2 + g % 2, 165, 70 + g % 5, 40 + g % 7, 10, 4.5, 500 + 10 * g"
        " FROM generate_series(0, 79) g",
        "INSERT INTO phms.six_minute_walk (patient_id, study_date, distance_m)"
        " SELECT :p, :d0 + 7 * g + 1, 300 + g FROM generate_series(0, 59) g",
        "INSERT INTO phms.vasodilator_challenge (patient_id, study_date)"
        " SELECT :p, :d0 + 7 * g FROM generate_series(0, 29) g",
        "INSERT INTO phms.vasodilator_step (challenge_id, step_no, agent, dose, dose_unit,"
        " mpap_mmhg, co_l_min)"
        " SELECT c.id, s, CASE WHEN s > 0 THEN 'inhaled nitric oxide' END,"
        " CASE WHEN s > 0 THEN 20 * s END, CASE WHEN s > 0 THEN 'ppm' END, 50 - 6 * s, 4"
        " FROM phms.vasodilator_challenge c, generate_series(0, 2) s WHERE c.patient_id = :p",
        *(
            f"INSERT INTO phms.{kind} (patient_id, name, started_on, stopped_on, stop_reason)"
            " SELECT :p, 'item ' || g, :d0 + g, CASE WHEN g % 3 = 0 THEN :d0 + g + 10 END,"
            " CASE WHEN g % 3 = 0 THEN 'stopped' END FROM generate_series(1, 25) g"
            for kind in chart.ITEM_KINDS
        ),
    ):
        conn.execute(sa.text(sql), params)


def test_chart_loads_in_one_round_trip(clinician: sa.Engine, session: Session) -> None:
    pid = add_patient(session.connection())
    _fill(session, pid)
    with StatementCounter(clinician) as counter:
        loaded = chart.load_chart(session, pid)
    assert len(counter.statements) == 1, counter.statements  # the budget is two
    assert len(loaded.timeline) == 80 + 60 + 30
    assert len(loaded.risk_course) == 80
    challenges = [e.record for e in loaded.timeline if isinstance(e.record, chart.ChallengeRecord)]
    assert {len(c.data.steps) for c in challenges} == {3}
    dates = [e.study_date for e in loaded.timeline]
    assert dates == sorted(dates, reverse=True)
    assert len(loaded.medications) == len(loaded.allergies) == len(loaded.comorbidities) == 25 - 8
    assert len(loaded.stopped_items) == 3 * 8


def test_chart_contents(
    clinician: sa.Engine, session: Session, patient: int, db: PgDatabase
) -> None:
    first = chart.create_assessment(
        session,
        AssessmentInput(
            patient, day(0), who_fc=3, height_cm=Decimal(165), weight_kg=Decimal(60),
            mpap_mmhg=Decimal(48), pawp_mmhg=Decimal(9), co_l_min=Decimal("3.9"),
            nt_probnp_pg_ml=Decimal(1500),
        ),
    )  # fmt: skip
    walk = chart.create_walk(session, WalkInput(patient, day(2), Decimal(300)))
    followup = chart.create_assessment(
        session,
        AssessmentInput(patient, day(120), kind="followup", who_fc=2, bnp_pg_ml=Decimal(40)),
    )
    challenge = chart.create_challenge(
        session,
        ChallengeInput(
            patient, day(0),
            (StepInput(0, Decimal(48), co_l_min=Decimal("3.9")),
             StepInput(1, Decimal(36), agent="inhaled nitric oxide", dose=Decimal(20),
                       dose_unit="ppm", co_l_min=Decimal("4.1"))),
        ),
    )  # fmt: skip
    wrong = chart.create_walk(session, WalkInput(patient, day(121), Decimal(999)))
    chart.delete_record(session, "six_minute_walk", wrong.id, wrong.stamp.version, "wrong patient")
    sild = chart.add_item(
        session,
        "medication",
        ItemInput(patient, "sildenafil", day(0), "20 mg tid", therapy_class="pde5i"),
    )
    bos = chart.add_item(
        session, "medication", ItemInput(patient, "bosentan", day(0), therapy_class="era")
    )
    chart.stop_item(session, "medication", bos.id, bos.stamp.version, day(60), "liver enzymes")
    typo = chart.add_item(session, "allergy", ItemInput(patient, "penicilin", day(0)))
    chart.delete_item(session, "allergy", typo.id, typo.stamp.version, "typo")
    chart.add_item(session, "comorbidity", ItemInput(patient, "hypothyroidism", day(200)))

    loaded = chart.load_chart(session, patient, as_of=day(120))

    assert loaded.patient.id == patient and loaded.patient.sex == "female"
    assert [(e.kind, e.record_id) for e in loaded.timeline] == [
        ("followup", followup.id),
        ("six_minute_walk", walk.id),
        ("vasodilator_challenge", challenge.id),
        ("assessment", first.id),
    ]
    assert all(e.created_by == e.updated_by == "t_clinician" for e in loaded.timeline)
    summaries = {e.kind: e.summary for e in loaded.timeline}
    assert summaries["assessment"] == (
        "WHO-FC III · mPAP 48 mmHg · PVR 10.0 WU · pre-capillary · NT-proBNP 1500"
        " · risk at diagnosis intermediate (3 strata)"
    )
    assert summaries["vasodilator_challenge"] == "inhaled nitric oxide: positive"
    assert (
        summaries["six_minute_walk"].startswith("300 m (")
        and "room air" in summaries["six_minute_walk"]
    )
    assert summaries["followup"] == "WHO-FC II · BNP 40 · risk low (4 strata)"
    assert [m.data.name for m in loaded.medications] == ["sildenafil"]
    assert loaded.medications[0].data.details == "20 mg tid"
    assert [(i.data.name, i.stop_reason) for i in loaded.stopped_items] == [
        ("bosentan", "liver enzymes")
    ]
    assert loaded.allergies == ()  # deleted in error: hidden
    assert [i.data.name for i in loaded.later_items] == ["hypothyroidism"]

    # Latest values come from the newest record that has them.
    assert loaded.latest.pvr_wu is not None and loaded.latest.pvr_wu.record_id == first.id
    assert loaded.latest.pvr_wu.value == Decimal(39) / Decimal("3.9")
    assert loaded.latest.walk_distance_m is not None
    assert loaded.latest.walk_distance_m.record_id == walk.id  # the deleted walk is not latest
    assert loaded.latest.vasoreactivity is not None
    assert loaded.latest.vasoreactivity.result == "positive"
    # Risk over time. The first assessment is at diagnosis: three strata from FC III=2,
    # 300 m=2, NT 1500=3, CI 3.9/sqrt(2.75)=2.35=2 -> 2.25 -> 2 (intermediate); its four
    # strata (3.33 -> 3) are not shown. Followup FC II=1 + BNP 40=1 -> 1 (low, 4 strata).
    assert [
        (r.assessment_id, r.at_diagnosis, r.stratum, r.label, r.n_strata, r.risk_stratum)
        for r in loaded.risk_course
    ] == [
        (first.id, True, 2, "intermediate", 3, None),
        (followup.id, False, 1, "low", 4, 1),
    ]
    dx = loaded.risk_course[0].diagnosis
    assert dx is not None and (dx.fc_grade, dx.walk_grade, dx.peptide_grade, dx.ci_grade) == (
        2, 2, 3, 2,
    )  # fmt: skip
    assert loaded.risk_course[1].diagnosis is not None
    assert not loaded.risk_course[1].diagnosis.at_diagnosis
    # Therapy on day 120: sildenafil (bosentan stopped on day 60) -> monotherapy (PDE5i);
    # the day bosentan stopped, double combination fell back to monotherapy.
    assert loaded.pah_therapy is not None and loaded.pah_therapy.text == "monotherapy (PDE5i)"
    assert [(c.day, c.text) for c in loaded.therapy_changes] == [
        (day(0), "escalation: none → double combination (ERA + PDE5i)"),
        (day(60), "de-escalation: double combination (ERA + PDE5i) → monotherapy (PDE5i)"),
    ]
    assert loaded.latest.risk is not None and loaded.latest.risk.risk_label == "low"
    assert sild.id in {m.id for m in chart.current_medications(session, patient, day(59))}


def test_opening_a_chart_is_audited(
    clinician: sa.Engine, admin_engine: sa.Engine, patient: int, session: Session
) -> None:
    session.commit()
    with Session(clinician) as s, s.begin():
        chart.load_chart(s, patient)
    with admin_engine.connect() as c:
        who = (
            c.execute(
                sa.text("SELECT session_user_name FROM audit.chart_access WHERE patient_id = :p"),
                {"p": patient},
            )
            .scalars()
            .all()
        )
    assert who == ["t_clinician"]


def test_unknown_patient(session: Session) -> None:
    with pytest.raises(chart.EntryNotFound):
        chart.load_chart(session, -1)


def test_a_clerk_cannot_open_a_chart(db: PgDatabase, patient: int, session: Session) -> None:
    session.commit()
    clerk = db.engine_for("t_clerk")
    with Session(clerk) as s, pytest.raises(sa.exc.ProgrammingError) as info:
        chart.load_chart(s, patient)
    clerk.dispose()
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)


def test_current_medications_is_one_query(
    clinician: sa.Engine, session: Session, patient: int
) -> None:
    # "Warfarin" (not on the list) keeps its capital: the order ignores case.
    a = chart.add_item(session, "medication", ItemInput(patient, "Warfarin", day(10)))
    b = chart.add_item(session, "medication", ItemInput(patient, "ambrisentan", day(20)))
    chart.stop_item(session, "medication", a.id, a.stamp.version, day(30))
    with StatementCounter(clinician) as counter:
        on_25 = chart.current_medications(session, patient, day(25))
    assert len(counter.statements) == 1
    assert [m.data.name for m in on_25] == ["ambrisentan", "Warfarin"]
    assert [m.data.therapy_class for m in on_25] == ["era", None]  # the list decides
    assert [m.id for m in chart.current_medications(session, patient, day(30))] == [b.id]
    assert chart.current_medications(session, patient, day(9)) == []


def test_assessment_write_and_stale_save(
    clinician: sa.Engine, session: Session, patient: int
) -> None:
    created = chart.create_assessment(
        session,
        AssessmentInput(patient, day(0), height_cm=Decimal(180), weight_kg=80.0,  # type: ignore[arg-type]
                        co_l_min=Decimal(5)),
    )  # fmt: skip
    assert created.derived.bsa_m2 == 2 and created.derived.cardiac_index_l_min_m2 == Decimal("2.5")
    assert created.stamp.version == 1 and created.stamp.created_by == "t_clinician"
    session.commit()

    with Session(clinician) as theirs, theirs.begin():
        chart.update_assessment(
            theirs,
            created.id,
            1,
            AssessmentInput(patient, day(0), who_fc=2, height_cm=Decimal(180)),
        )
    with pytest.raises(StaleDataError) as info:
        chart.update_assessment(session, created.id, 1, AssessmentInput(patient, day(0), who_fc=4))
    stale = info.value
    assert isinstance(stale, chart.StaleEntry)
    assert stale.theirs.stamp.version == 2 and stale.theirs.data.who_fc == 2  # type: ignore[union-attr]
    saved = chart.update_assessment(
        session, created.id, 2, AssessmentInput(patient, day(0), who_fc=4)
    )
    assert (saved.stamp.version, saved.data.who_fc, saved.derived.bsa_m2) == (3, 4, None)

    chart.delete_record(session, "assessment", created.id, 3, "duplicate")
    with pytest.raises(chart.EntryNotFound):
        chart.get_assessment(session, created.id)


def test_database_rules_reach_the_service(session: Session, patient: int) -> None:
    with pytest.raises(sa.exc.IntegrityError) as info:
        chart.create_assessment(session, AssessmentInput(patient, day(1), kind="followup"))
    assert info.value.orig.diag.constraint_name == "ck_assessment_followup_needs_assessment"  # type: ignore[union-attr]


def test_items_add_stop_delete(session: Session, patient: int) -> None:
    item = chart.add_item(session, "allergy", ItemInput(patient, "  iodine contrast ", day(5), ""))
    assert (item.data.name, item.data.details) == ("iodine contrast", None)
    stopped = chart.stop_item(
        session, "allergy", item.id, item.stamp.version, day(9), "desensitised"
    )
    assert (stopped.stopped_on, stopped.stop_reason, stopped.stamp.version) == (
        day(9),
        "desensitised",
        2,
    )
    with pytest.raises(StaleDataError):
        chart.delete_item(session, "allergy", item.id, 1, "typo")
    with (
        pytest.raises(sa.exc.IntegrityError, match="error_reason_required"),
        session.begin_nested(),
    ):
        chart.delete_item(session, "allergy", item.id, 2, "   ")
    chart.delete_item(session, "allergy", item.id, 2, "typo")
    with pytest.raises(chart.EntryNotFound):
        chart.get_item(session, "allergy", item.id)
    with pytest.raises(ValueError, match="Unknown"):
        chart.add_item(session, "diet", ItemInput(patient, "x", day(1)))  # type: ignore[arg-type]


def test_walk_write(session: Session, patient: int) -> None:
    chart.create_assessment(
        session, AssessmentInput(patient, day(0), height_cm=Decimal(160), weight_kg=Decimal(60))
    )
    walk = chart.create_walk(
        session, WalkInput(patient, day(3), Decimal(400), oxygen_l_min=Decimal(2))
    )
    age = formulas.age_years(dt.date(1970, 6, 15), day(3))
    assert walk.predicted.age_years == age
    expected = Decimal("2.11") * 160 - Decimal("2.29") * 60 - Decimal("5.78") * age + 667
    assert walk.predicted.predicted_m == expected
    assert walk.predicted.height_cm == 160
    updated = chart.update_walk(
        session, walk.id, walk.stamp.version, WalkInput(patient, day(3), Decimal(420), stops=1)
    )
    assert (updated.data.distance_m, updated.data.oxygen_l_min, updated.stamp.version) == (
        420,
        None,
        2,
    )


def test_challenge_steps_are_edited_never_deleted(session: Session, patient: int) -> None:
    chart.create_assessment(session, AssessmentInput(patient, day(0)))
    ino = {"agent": "inhaled nitric oxide", "dose_unit": "ppm"}
    created = chart.create_challenge(
        session,
        ChallengeInput(patient, day(0), (
            StepInput(0, Decimal(50), co_l_min=Decimal(4)),
            StepInput(1, Decimal(45), dose=Decimal(10), co_l_min=Decimal(4), **ino),
            StepInput(2, Decimal(44), dose=Decimal(20), co_l_min=Decimal(4), **ino),
        )),
    )  # fmt: skip
    assert created.result == "negative" and created.positive_step_no is None
    edited = chart.update_challenge(
        session,
        created.id,
        created.stamp.version,
        ChallengeInput(patient, day(0), (
            StepInput(0, Decimal(50), co_l_min=Decimal(4)),
            StepInput(1, Decimal(38), dose=Decimal(10), co_l_min=Decimal(4), **ino),
            StepInput(3, Decimal(40), dose=Decimal(40), co_l_min=Decimal(3), **ino),
        )),
    )  # fmt: skip
    assert [s.step_no for s in edited.data.steps] == [0, 1, 3]
    assert (edited.result, edited.positive_step_no, edited.stamp.version) == ("positive", 1, 2)
    removed = session.execute(
        sa.text(
            "SELECT step_no, error_reason FROM phms.vasodilator_step"
            " WHERE challenge_id = :c AND entered_in_error"
        ),
        {"c": created.id},
    ).all()
    assert [tuple(r) for r in removed] == [(2, chart.STEP_REMOVED)]
    with pytest.raises(StaleDataError):
        chart.update_challenge(session, created.id, 1, edited.data)
