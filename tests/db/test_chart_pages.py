"""A chart's first screen, its older records page by page, its whole course; the wire.

The first screen holds the newest records and the latest values of all of them; the
pages and the course make up exactly the chart loaded whole.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.services import chart, chart_load
from phms_client.services.chart import Chart, EntryNotFound
from tests.db.clinical_data import TODAY, add_patient, insert
from tests.harness import PgDatabase

D0 = TODAY - dt.timedelta(days=800)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


@pytest.fixture
def long_chart(clinician: sa.Engine) -> Iterator[int]:
    """The haemodynamics only on the first assessment, the newest risk and challenge
    well before the newest records (fifteen walks): on a first screen of ten, every
    latest value but the walk's comes from a record the timeline does not hold."""
    with clinician.begin() as conn:
        pid = add_patient(conn, sex="female", birth_date=dt.date(1962, 3, 4))
        insert(
            conn, "assessment", patient_id=pid, kind="assessment", study_date=day(0),
            who_fc=3, height_cm=162, weight_kg=61, mpap_mmhg=48, pawp_mmhg=11, co_l_min=3.7,
            dpap_mmhg=30, rhc_heart_rate_bpm=80, tapse_mm=15, echo_spap_mmhg=70,
            nt_probnp_pg_ml=2300,
        )  # fmt: skip
        challenge = insert(conn, "vasodilator_challenge", patient_id=pid, study_date=day(5))
        for step, mpap, co in ((0, 48, 3.7), (1, 36, 4.1)):
            insert(
                conn, "vasodilator_step", challenge_id=challenge["id"], step_no=step,
                mpap_mmhg=mpap, co_l_min=co, agent="inhaled nitric oxide" if step else None,
                dose=20 if step else None, dose_unit="ppm" if step else None,
            )  # fmt: skip
        for g in range(1, 41):
            insert(
                conn, "assessment", patient_id=pid, kind="followup", study_date=day(10 * g),
                who_fc=2 + g % 2, nt_probnp_pg_ml=400 + 7 * g,
            )  # fmt: skip
        for g in range(15):
            insert(conn, "six_minute_walk", patient_id=pid, study_date=day(500 + g),
                   distance_m=380 + g)  # fmt: skip
        for name, start in (("sildenafil", 3), ("bosentan", 200)):
            insert(conn, "medication", patient_id=pid, name=name, started_on=day(start))
        insert(conn, "allergy", patient_id=pid, name="latex", started_on=day(1),
               stopped_on=day(90), stop_reason="ruled out")  # fmt: skip
        # Deleted as entered in error: on no page.
        insert(conn, "six_minute_walk", patient_id=pid, study_date=day(505), distance_m=999,
               entered_in_error=True, error_reason="wrong patient")  # fmt: skip
    yield pid


def _whole_and_first(session: Session, pid: int, newest: int) -> tuple[Chart, Chart]:
    return chart.load_chart(session, pid), chart.load_chart(session, pid, newest=newest)


def test_first_screen_holds_the_newest_records_and_every_latest_value(
    session: Session, long_chart: int
) -> None:
    whole, first = _whole_and_first(session, long_chart, 10)
    assert len(whole.timeline) == 1 + 1 + 40 + 15 and whole.whole
    assert first.timeline == whole.timeline[:10]
    assert {e.kind for e in first.timeline} == {"six_minute_walk"}
    assert first.older_records == len(whole.timeline) - 10 and not first.whole
    # Every latest value, as the whole chart has it, though from records not shown.
    assert first.latest == whole.latest
    assert whole.latest.pvr_wu is not None and whole.latest.pvr_wu.study_date == day(0)
    assert whole.latest.risk is not None and whole.latest.risk.study_date == day(400)
    assert whole.latest.vasoreactivity is not None
    assert whole.latest.vasoreactivity.data.study_date == day(5)
    # The items and the therapy: all of them.
    for name in ("medications", "allergies", "comorbidities", "stopped_items", "later_items"):
        assert getattr(first, name) == getattr(whole, name), name
    assert first.pah_therapy == whole.pah_therapy
    assert first.therapy_changes == whole.therapy_changes
    # No assessment on the first screen: no risk points yet, the course is to come.
    assert first.risk_course == () and chart.course_of(first) is None
    assert first.patient == whole.patient


def test_pages_make_up_the_whole_chart(session: Session, long_chart: int) -> None:
    whole, loaded = _whole_and_first(session, long_chart, 10)
    pages = 0
    while not loaded.whole:
        page = chart.load_older(session, long_chart, loaded.timeline[-1], count=7)
        assert len(page.entries) == min(7, loaded.older_records)
        assert page.older_records == loaded.older_records - len(page.entries)
        loaded = loaded.with_older(page)
        pages += 1
    assert pages == -(-(len(whole.timeline) - 10) // 7)
    assert loaded.timeline == whole.timeline
    assert loaded.risk_course == whole.risk_course
    assert chart.course_of(loaded) == chart.course_of(whole)
    end = chart.load_older(session, long_chart, whole.timeline[-1])
    assert end.entries == () and end.older_records == 0


def test_course_is_the_whole_charts(session: Session, long_chart: int) -> None:
    whole, first = _whole_and_first(session, long_chart, 10)
    course = chart.load_course(session, long_chart)
    assert course == chart.course_of(whole)
    assert len(course.risk_course) == 41 and len(course.walks) == 15
    with_course = first.with_course(course)
    assert with_course.risk_course == whole.risk_course
    assert chart.course_of(with_course) is course
    # A page later does not touch a loaded course.
    page = chart.load_older(session, long_chart, first.timeline[-1], count=5)
    assert with_course.with_older(page).risk_course == whole.risk_course
    # The diagnosis scale's values that the risk rows share with their assessment.
    at_diagnosis = course.risk_course[0]
    assert at_diagnosis.at_diagnosis and at_diagnosis.diagnosis is not None
    first_assessment = whole.timeline[-1].record
    assert isinstance(first_assessment, chart.AssessmentRecord)
    assert at_diagnosis.diagnosis.tapse_spap_ratio == first_assessment.derived.tapse_spap_ratio
    assert at_diagnosis.diagnosis.cardiac_index_l_min_m2 is not None


def test_a_short_chart_is_whole_on_its_first_screen(session: Session) -> None:
    pid = add_patient(session.connection())
    conn = session.connection()
    insert(conn, "assessment", patient_id=pid, kind="assessment", study_date=day(0), who_fc=2)
    insert(conn, "six_minute_walk", patient_id=pid, study_date=day(1), distance_m=420)
    whole, first = _whole_and_first(session, pid, 30)
    assert first == whole and first.whole and chart.course_of(first) is not None
    empty = add_patient(conn)
    assert chart.load_chart(session, empty, newest=30).timeline == ()
    with pytest.raises(EntryNotFound):
        chart.load_chart(session, -1, newest=30)
    with pytest.raises(ValueError):
        chart.load_chart(session, pid, newest=0)


def test_stamps_survive_the_wire_to_the_microsecond(
    clinician: sa.Engine, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    with clinician.begin() as conn:
        pid = add_patient(conn)
        row = insert(conn, "assessment", patient_id=pid, kind="assessment", study_date=day(0))
    other = db.engine_for("t_admin")
    with other.begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.assessment SET who_fc = 3 WHERE id = :i"), {"i": row["id"]}
        )
    other.dispose()
    with admin_engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT version, created_at, created_by, updated_at, updated_by"
                " FROM phms.assessment WHERE id = :i"
            ),
            {"i": row["id"]},
        ).one()
    with Session(clinician) as s:
        loaded = chart.load_chart(s, pid)
        single = chart.get_assessment(s, row["id"])
    stamp = loaded.timeline[0].record.stamp
    assert stamp == single.stamp
    assert (stamp.version, stamp.created_by, stamp.updated_by) == (2, "t_clinician", "t_admin")
    assert stamp.created_at == stored.created_at and stamp.updated_at == stored.updated_at
    assert stamp.updated_at > stamp.created_at


def test_the_wire_repeats_no_key_and_sends_no_null(session: Session, long_chart: int) -> None:
    raw = session.execute(chart_load._WHOLE_SQL, {"pid": long_chart}).one()
    names = ("patient", "assessments", "walks", "challenges", "steps", "risks", "medication")
    texts = [getattr(raw, name) for name in (*names, "allergy")]
    for text in texts:
        assert text is not None
        assert "null" not in text and '":' not in text and ", " not in text
        parsed = json.loads(text, parse_float=Decimal)
        rows = [parsed] if isinstance(parsed[0], int) else parsed
        for values in rows:  # a mask, then one value per bit set
            assert isinstance(values[0], int) and bin(values[0]).count("1") == len(values) - 1
    assessments = json.loads(raw.assessments)
    # Dates as day numbers: no quoted ISO date anywhere.
    assert not any(isinstance(v, str) and v[:2] in ("19", "20") for r in assessments for v in r)
