"""The chart's clinical part: timeline and risk-course models, latest values, live refresh."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import format_day
from phms_client.services import chart, chart_risk
from phms_client.services.chart import AssessmentInput, Chart, StepInput
from phms_client.ui.chart.chart_clinical import ClinicalChartView
from phms_client.ui.chart.chart_timeline import (
    ENTRY_ROLE,
    LatestValuesView,
    RiskCourseModel,
    TimelineModel,
)
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import (
    LOAD_MS,
    add_assessment,
    add_challenge,
    add_walk,
    days_ago,
    new_patient,
    years_before,
)
from tests.ui.patient_env import Session, app_context, staff_database

LIVE_MS = 2_000


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician") as s:
        yield s


def course(session: Session, db: PgDatabase) -> tuple[int, Chart]:
    """A patient with an assessment, a challenge, two walks and a followup, one of them
    changed by another staff member."""
    database = session.ctx.db
    p = new_patient(database, sex="male", born=years_before(days_ago(20), 66))
    first = add_assessment(
        database, p.id, days_ago(200), who_fc=3, height_cm=175, weight_kg=80,
        mpap_mmhg=45, pawp_mmhg=10, co_l_min=4, nt_probnp_pg_ml=1200,
    )  # fmt: skip
    add_challenge(
        database, p.id, days_ago(200),
        StepInput(0, Decimal(45), co_l_min=Decimal(4)),
        StepInput(1, Decimal(33), agent="inhaled nitric oxide", dose=Decimal(20),
                  dose_unit="ppm", co_l_min=Decimal("4.4")),
    )  # fmt: skip
    add_walk(database, p.id, days_ago(198), 310)
    add_walk(database, p.id, days_ago(20), 450)
    add_assessment(database, p.id, days_ago(21), "followup", who_fc=2, nt_probnp_pg_ml=250)
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.update_assessment(
            s, first.id, first.stamp.version,
            AssessmentInput(p.id, days_ago(200), who_fc=3, height_cm=Decimal(175),
                            weight_kg=Decimal(80), mpap_mmhg=Decimal(45), pawp_mmhg=Decimal(10),
                            co_l_min=Decimal(4), nt_probnp_pg_ml=Decimal(1250)),
        )  # fmt: skip
    with database.session() as s:
        return p.id, chart.load_chart(s, p.id)


def test_timeline_model(qtmodeltester: ModelTester, clinician: Session, db: PgDatabase) -> None:
    _, loaded = course(clinician, db)
    model = TimelineModel()
    model.set_entries(loaded.timeline)
    qtmodeltester.check(model)
    rows = [[model.data(model.index(r, c)) for c in range(3)] for r in range(model.rowCount())]
    assert [r[:2] for r in rows] == [
        [format_day(days_ago(20)), "6-minute walk"],
        [format_day(days_ago(21)), "Followup"],
        [format_day(days_ago(198)), "6-minute walk"],
        [format_day(days_ago(200)), "Vasodilator challenge"],
        [format_day(days_ago(200)), "Assessment"],
    ]
    assert rows[3][2] == "inhaled nitric oxide: positive"
    assert rows[1][2] == "WHO-FC II · NT-proBNP 250 · risk low (4 strata)"
    assert rows[4][2].endswith("risk at diagnosis intermediate (3 strata)")
    assert model.data(model.index(4, 3)) == "t_clinician"  # entered by
    assert model.data(model.index(4, 4)).startswith("t_admin, ")  # last changed
    assert model.data(model.index(0, 4)) == ""  # never changed
    tip = model.data(model.index(4, 0), Qt.ItemDataRole.ToolTipRole)
    assert "Entered by t_clinician on " in tip and "last changed by t_admin on " in tip
    assert model.data(model.index(4, 0), ENTRY_ROLE) is loaded.timeline[4]


def test_risk_course_and_latest_values(
    qtbot: QtBot, qtmodeltester: ModelTester, clinician: Session, db: PgDatabase
) -> None:
    _, loaded = course(clinician, db)
    model = RiskCourseModel()
    model.set_points(loaded.risk_course, chart_risk.therapy_course(loaded))
    qtmodeltester.check(model)
    table = [[model.data(model.index(r, c)) for c in range(8)] for r in range(model.rowCount())]
    # The first assessment on the three strata at diagnosis (FC III 2, 310 m 2, NT 1250 3,
    # CI 2.03 2 -> 2.25 -> intermediate), the followup on the four strata.
    assert table == [
        [format_day(days_ago(21)), "follow-up · 4 strata", "low (1 of 4)", "none", "II → 1",
         "450 m → 1", "NT-proBNP 250 → 1", "Followup"],
        [format_day(days_ago(200)), "diagnosis · 3 strata", "intermediate (2 of 3)", "none",
         "III → 2", "310 m → 2", "NT-proBNP 1250 → 3", "Assessment"],
    ]  # fmt: skip
    assert model.data(model.index(1, 2), Qt.ItemDataRole.BackgroundRole) is not None
    assert model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole) == "Mean of 3 grades: 1.00"
    tip = model.data(model.index(1, 2), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(
        "ESC/ERS 2022 risk at diagnosis (3 strata): 4 variables graded, mean 2.25"
    )
    assert "Cardiac index: 2" in tip
    assert model.data(model.index(1, 1), Qt.ItemDataRole.ToolTipRole) == (
        "ESC/ERS 2022 risk at diagnosis (3 strata)"
    )

    view = LatestValuesView()
    qtbot.addWidget(view)
    view.set_chart(loaded)
    assert view.text("risk") == f"low (1 of 4)  ·  {format_day(days_ago(21))}"
    assert view.scale_label.text() == "at follow-up (COMPERA 2.0, 4 strata)"
    assert view.text("pah_therapy").startswith("none  ·  ")
    assert view.text("pvr_wu") == f"8.75 WU (700 dyn·s·cm⁻⁵)  ·  {format_day(days_ago(200))}"
    assert view.text("ph_class") == f"pre-capillary  ·  {format_day(days_ago(200))}"
    assert view.text("bsa_m2") == f"1.97 m²  ·  {format_day(days_ago(200))}"
    # 66 years, 175 cm, 80 kg (the assessment 180 days before): 543.63 m predicted.
    assert view.text("walk") == f"450 m (83 % predicted)  ·  {format_day(days_ago(20))}"
    assert view.text("vasoreactivity") == f"positive (step 1)  ·  {format_day(days_ago(200))}"


def open_view(qtbot: QtBot, session: Session, patient_id: int) -> ClinicalChartView:
    view = ClinicalChartView(session.ctx, patient_id, parent=session.windows)
    with qtbot.waitSignal(view.chart_shown, timeout=LOAD_MS):
        view.reload()
    return view


def accesses(admin_engine: sa.Engine, patient_id: int) -> int:
    with admin_engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM audit.chart_access WHERE patient_id = :p"),
                {"p": patient_id},
            ).scalar_one()
        )


def test_chart_refreshes_when_another_workstation_adds_a_walk(
    qtbot: QtBot, clinician: Session, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    pid, _ = course(clinician, db)
    view = open_view(qtbot, clinician, pid)
    assert view.timeline.model.rowCount() == 5 and view.loaded_label.text() == "5 records"
    assert accesses(admin_engine, pid) == 2  # course() loaded it once, the view once

    # Another patient's new walk is none of this chart's business: no reload, no access.
    other_patient = new_patient(clinician.ctx.db)
    with staff_database(db, "t_admin") as other:
        add_walk(other, other_patient.id, days_ago(1), 500)
    qtbot.wait(800)
    assert view.timeline.model.rowCount() == 5 and accesses(admin_engine, pid) == 2

    # This patient's new walk shows within two seconds.
    with staff_database(db, "t_admin") as other:
        add_walk(other, pid, days_ago(1), 480)
    qtbot.waitUntil(lambda: view.timeline.model.rowCount() == 6, timeout=LIVE_MS)
    newest = view.timeline.model.entry(0)
    assert (newest.kind, newest.study_date, newest.created_by) == (
        "six_minute_walk", days_ago(1), "t_admin",
    )  # fmt: skip
    assert view.latest.text("walk") == f"480 m  ·  {format_day(days_ago(1))}"


def test_chart_refreshes_when_a_shown_item_is_stopped_elsewhere(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    pid, _ = course(clinician, db)
    with clinician.ctx.db.session() as s:
        item = chart.add_item(s, "allergy", chart.ItemInput(pid, "latex", days_ago(40)))
    view = open_view(qtbot, clinician, pid)
    view.items.set_kind("allergy")
    assert view.items.tabs.tabText(1) == "Allergies (1)"
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.stop_item(s, "allergy", item.id, item.stamp.version, days_ago(1), "ruled out")
    qtbot.waitUntil(lambda: view.items.tabs.tabText(1) == "Allergies (0)", timeout=LIVE_MS)


def test_new_record_buttons_follow_rights_and_connection(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    pid, _ = course(clinician, db)
    view = open_view(qtbot, clinician, pid)
    asked: list[str] = []
    view.new_requested.connect(asked.append)
    view.new_buttons["followup"].click()
    assert asked == ["followup"]
    view.set_editable(False)
    assert not any(b.isEnabled() for b in view.new_buttons.values())
    assert not view.items.add_button.isEnabled()
    view.set_editable(True)
    assert all(b.isEnabled() for b in view.new_buttons.values())
    opened: list[object] = []
    view.open_requested.connect(opened.append)
    view.timeline.table.activated.emit(view.timeline.model.index(1, 0))
    assert opened == [view.timeline.model.entry(1)]
