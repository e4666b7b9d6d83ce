"""A long chart opens with its first screen; older records come as the person asks or
scrolls; the risk table and the trend charts load the whole course when looked at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from phms_client.services import chart
from phms_client.ui.chart.chart_clinical import ClinicalChartView
from tests.db.clinical_data import add_patient
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import LOAD_MS, days_ago
from tests.ui.patient_env import Session, app_context
from tests.ui.screens import capture

ASSESSMENTS, WALKS = 25, 20
RECORDS = ASSESSMENTS + WALKS


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician") as s:
        yield s


@pytest.fixture
def long_chart(db: PgDatabase) -> int:
    """Records enough for a first screen and two pages more."""
    engine = db.engine_for("t_clinician")
    start = days_ago(20 * RECORDS)
    with engine.begin() as conn:
        pid = add_patient(conn, sex="female", birth_date=dt.date(1958, 2, 3))
        conn.execute(
            sa.text(
                "INSERT INTO phms.assessment (patient_id, kind, study_date, who_fc, height_cm,"
                " weight_kg, mpap_mmhg, pawp_mmhg, co_l_min, nt_probnp_pg_ml)"
                " SELECT :p, CASE WHEN g = 0 THEN 'assessment' ELSE 'followup' END,"
                " :d + 30 * g, 2 + g % 2, 160, 60, 40 + g % 5, 10, 4, 900 - 20 * g"
                " FROM generate_series(0, :n - 1) g"
            ),
            {"p": pid, "d": start, "n": ASSESSMENTS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO phms.six_minute_walk (patient_id, study_date, distance_m)"
                " SELECT :p, :d + 30 * g + 2, 350 + 5 * g FROM generate_series(0, :n - 1) g"
            ),
            {"p": pid, "d": start, "n": WALKS},
        )
    engine.dispose()
    return pid


def open_view(qtbot: QtBot, session: Session, patient_id: int) -> ClinicalChartView:
    """A window of its own, shown (the timeline's scroll bar needs a real layout)."""
    view = ClinicalChartView(session.ctx, patient_id)
    qtbot.addWidget(view, before_close_func=lambda v: v.cancel())
    view.resize(1100, 600)
    view.show()
    qtbot.waitExposed(view)
    with qtbot.waitSignal(view.chart_shown, timeout=LOAD_MS):
        view.reload()
    return view


def test_first_screen_then_older_records_on_request(
    qtbot: QtBot, clinician: Session, long_chart: int
) -> None:
    view = open_view(qtbot, clinician, long_chart)
    first = chart.FIRST_SCREEN_RECORDS
    assert view.timeline.model.rowCount() == first
    assert view.loaded_label.text() == f"newest {first} of {RECORDS} records"
    button = view.timeline.older_button
    assert not button.isHidden() and f"{RECORDS - first} more" in button.text()
    with clinician.ctx.db.session() as s:
        whole = chart.load_chart(s, long_chart)
    assert view.chart is not None and view.chart.latest == whole.latest
    capture(qtbot, view, "chart_first_screen")

    button.click()
    qtbot.waitUntil(lambda: view.timeline.model.rowCount() == RECORDS, timeout=LOAD_MS)
    assert button.isHidden() and view.loaded_label.text() == f"{RECORDS} records"
    assert view.chart is not None and view.chart.whole
    shown = [view.timeline.model.entry(r) for r in range(RECORDS)]
    assert shown == list(whole.timeline)
    # Every record is here now: the course follows from them, no statement needed.
    assert view.risk_model.rowCount() == ASSESSMENTS and view.risk_waiting.isHidden()


def test_scrolling_to_the_end_brings_the_next_page(
    qtbot: QtBot, clinician: Session, long_chart: int
) -> None:
    view = open_view(qtbot, clinician, long_chart)
    bar = view.timeline.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=LOAD_MS)  # laid out
    assert view.timeline.model.rowCount() == chart.FIRST_SCREEN_RECORDS
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: view.timeline.model.rowCount() == RECORDS, timeout=LOAD_MS)


def test_risk_and_trend_tabs_load_the_whole_course(
    qtbot: QtBot, clinician: Session, long_chart: int
) -> None:
    view = open_view(qtbot, clinician, long_chart)
    assert view.chart is not None and view.chart.course is None
    assert view.risk_model.rowCount() == 0 and not view.risk_waiting.isHidden()
    assert view.trend.series.walk_m == ()
    view.tabs.setCurrentWidget(view.trend)
    qtbot.waitUntil(lambda: view.trend.series.walk_m != (), timeout=LOAD_MS)
    assert len(view.trend.series.walk_m) == WALKS
    assert len(view.trend.series.mpap) == ASSESSMENTS
    assert view.risk_model.rowCount() == ASSESSMENTS and view.risk_waiting.isHidden()
    view.tabs.setCurrentIndex(1)
    capture(qtbot, view, "chart_risk_course_loaded")
    # A reload keeps as many records as the timeline holds, and asks for the course again
    # (the risk tab is in view).
    view.timeline.older_button.click()
    qtbot.waitUntil(lambda: view.timeline.model.rowCount() > 30, timeout=LOAD_MS)
    before = view.timeline.model.rowCount()
    with qtbot.waitSignal(view.chart_shown, timeout=LOAD_MS):
        view.reload()
    assert view.timeline.model.rowCount() == before
    assert view.chart is not None and view.chart.whole  # every record, as before
