"""A patient's course entered through the real windows against the test database.

Patients menu → New assessment for an unknown ID (registered on the way), then from the
chart: a positive vasodilator challenge, walks, followups and medication changes. The
chart must show what the database views say and what ``phms_client.clinical`` computes.
Also: the menu entries, and the chart window's load in two statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from phms_client.clinical import formulas, risk
from phms_client.clinical.demographics import format_day
from phms_client.ui.chart.chart_timeline import risk_text
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.chart.record_forms.base import RecordForm
from phms_client.ui.chart.record_forms.common import format_derived, to_qdate
from phms_client.ui.chart.record_forms.launcher import RECORD_KINDS
from phms_client.ui.patients.patient_form import PatientForm
from phms_client.ui.shell.main_window import MainWindow
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase, unique_code
from tests.ui.clinical_env import (
    LOAD_MS,
    TODAY,
    add_assessment,
    add_item,
    add_walk,
    counting,
    days_ago,
    new_patient,
    save_and_wait,
    type_into,
)
from tests.ui.patient_env import Session, app_context, type_text

TITLES = {
    "assessment": "Assessment",
    "followup": "Followup",
    "vasodilator_challenge": "Vasodilator challenge",
    "six_minute_walk": "6-minute walk",
}
#: Notifications reach the open chart within this time.
LIVE_MS = 2_000
D0 = days_ago(400)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician") as s:
        yield s


def main_window(qtbot: QtBot, session: Session) -> MainWindow:
    window = MainWindow(session.ctx, session.windows)
    window.setWindowFlag(Qt.WindowType.Window)
    window.show()
    qtbot.waitExposed(window)
    return window


def wait_patient(qtbot: QtBot, form: RecordForm) -> None:
    qtbot.waitUntil(lambda: form.patient is not None, timeout=LOAD_MS)


def fill(qtbot: QtBot, form: RecordForm, **values: str) -> None:
    for name, text in values.items():
        type_into(qtbot, form.fields[name], text)


# --------------------------------------------------------------------------- menus


def test_patients_menu_opens_each_form_with_the_workflow_header(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    window = main_window(qtbot, clinician)
    texts = [a.text() for a in window.patients_menu.actions()]
    for text, _ in RECORD_KINDS.values():
        assert text in texts
    for kind, action in window.record_forms.actions.items():
        assert action.isEnabled()
        action.trigger()
        form = window.record_forms.forms()[-1]
        assert form.header.study_date() == TODAY and form.header.code_edit.text() == ""
        assert not form.header.locked and not form.body.isEnabled()
        assert form.windowTitle() == f"PHMS — {TITLES[kind]}"
        form.reject()
    # Offline: no new records; the idle lock hides the open forms.
    window.set_editable(False)
    assert not any(a.isEnabled() for a in window.record_forms.actions.values())
    window.set_editable(True)
    window.record_forms.actions["six_minute_walk"].trigger()
    form = window.record_forms.forms()[-1]
    window.hide_patient_data(True)
    assert form.windowTitle() == "PHMS — locked" and not form.content.isVisible()
    window.hide_patient_data(False)
    assert form.content.isVisible()
    type_text(qtbot, form.header.code_edit, "12")
    assert not window.has_unsaved_changes()  # an ID alone is not a record yet
    form.reject()

    with app_context(qtbot, config_for(db), "t_clerk", live=False) as clerk:
        clerk_window = MainWindow(clerk.ctx, clerk.windows)
        assert not any(a.isEnabled() for a in clerk_window.record_forms.actions.values())
        assert clerk_window.record_forms.open_new("assessment") is None


def test_chart_window_loads_in_two_statements(qtbot: QtBot, clinician: Session) -> None:
    database = clinician.ctx.db
    p = new_patient(database)
    for n in range(12):
        add_assessment(database, p.id, days_ago(300 - 20 * n), who_fc=2, nt_probnp_pg_ml=400)
        add_walk(database, p.id, days_ago(299 - 20 * n), 400 + n)
    add_item(database, "medication", p.id, "tadalafil", days_ago(300), details="40 mg")
    with counting(database.engine) as statements:
        window = ChartWindow(clinician.ctx, p.id, clinician.windows)
        with qtbot.waitSignal(window.loaded, timeout=LOAD_MS):
            window.show()
    assert len(statements) <= 2, statements
    assert window.clinical is not None and window.clinical.timeline.model.rowCount() == 24
    assert window.clinical.items.tabs.tabText(0) == "Medications (1)"
    window.close()


# --------------------------------------------------------------------------- the course


# The offscreen platform cannot raise windows (the form asks when the patient is made).
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_a_patients_course_through_the_windows(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    window = main_window(qtbot, clinician)
    code = unique_code()

    # 1. Patients > New assessment: study date first, then an ID nobody has.
    window.record_forms.actions["assessment"].trigger()
    form = window.record_forms.forms()[-1]
    form.header.date_edit.setDate(to_qdate(day(0)))
    type_text(qtbot, form.header.code_edit, code)
    qtbot.waitUntil(form.header.new_patient_button.isVisible, timeout=LOAD_MS)
    form.header.new_patient_button.click()
    patient_form = next(w for w in window.record_forms.windows() if isinstance(w, PatientForm))
    type_text(qtbot, patient_form.fields.family_edit, "Lindqvist")
    type_text(qtbot, patient_form.fields.given_edit, "Maja")
    patient_form.fields.sex_combo.setCurrentIndex(patient_form.fields.sex_combo.findData("female"))
    type_text(qtbot, patient_form.fields.birth_edit, "12.04.1968")
    with qtbot.waitSignal(form.header.patient_loaded, timeout=LOAD_MS):
        patient_form.save_button.click()
    pid = form.patient.patient_id  # type: ignore[union-attr]
    form.who_combo.setCurrentIndex(form.who_combo.findData(3))
    fill(
        qtbot, form, height_cm="168", weight_kg="72", nt_probnp_pg_ml="1800", rap_mmhg="9",
        spap_mmhg="85", dpap_mmhg="32", mpap_mmhg="52", pawp_mmhg="10", co_l_min="3.6",
        svo2_pct="58",
    )  # fmt: skip
    assert form.derived.text("pvr_wu") == "11.67 WU"  # 42 / 3.6
    assert form.derived.text("ph_class").startswith("pre-capillary PH")
    first = save_and_wait(qtbot, form)

    # 2. The chart, and from it a vasodilator challenge on the same day.
    chart_window = window.open_chart(pid)
    qtbot.waitUntil(lambda: chart_window.details is not None, timeout=LOAD_MS)
    clinical = chart_window.clinical
    assert clinical is not None and clinical.timeline.model.rowCount() == 1
    challenge = chart_window.new_record("vasodilator_challenge")
    wait_patient(qtbot, challenge)
    assert challenge.header.locked and challenge.header.code_edit.text() == code
    challenge.header.set_study_date(day(0))
    for number, values in {
        0: {"mpap_mmhg": "52", "pawp_mmhg": "10", "co_l_min": "3.6"},
        1: {"mpap_mmhg": "38", "pawp_mmhg": "9", "co_l_min": "3.8"},
    }.items():
        for column, text in values.items():
            type_into(qtbot, challenge.rows[number].fields[column], text)
    challenge.rows[1].dose_combo.setCurrentText("20")  # type: ignore[union-attr]
    assert challenge.result_label.text() == "Positive (step 1)"
    save_and_wait(qtbot, challenge)
    qtbot.waitUntil(lambda: clinical.timeline.model.rowCount() == 2, timeout=LIVE_MS)

    # 3. Walks and followups, from the chart and from the menu.
    def walk(n: int, distance: str) -> None:
        w = chart_window.new_record("six_minute_walk")
        wait_patient(qtbot, w)
        w.header.set_study_date(day(n))
        fill(qtbot, w, distance_m=distance, spo2_before_pct="95", spo2_after_pct="89")
        save_and_wait(qtbot, w)

    def followup(n: int, who_fc: int, nt_probnp: str) -> None:
        window.record_forms.actions["followup"].trigger()
        f = window.record_forms.forms()[-1]
        f.header.set_study_date(day(n))
        type_text(qtbot, f.header.code_edit, code)
        wait_patient(qtbot, f)
        assert not f.prerequisite_banner.isVisible()
        f.who_combo.setCurrentIndex(f.who_combo.findData(who_fc))
        fill(qtbot, f, height_cm="168", weight_kg="70", nt_probnp_pg_ml=nt_probnp)
        save_and_wait(qtbot, f)

    walk(2, "290")
    followup(200, 2, "420")
    walk(205, "410")
    followup(380, 2, "180")
    walk(382, "460")
    qtbot.waitUntil(lambda: clinical.timeline.model.rowCount() == 7, timeout=LIVE_MS)

    # 4. Medications on the chart: Add from a study date, Stop as of a later one.
    items = clinical.items
    items.date_edit.setDate(to_qdate(day(2)))
    qtbot.waitUntil(lambda: clinical.chart.as_of == day(2), timeout=LOAD_MS)  # type: ignore[union-attr]
    add = items.ask_add()
    assert add is not None
    add.name_combo.setCurrentText("nifedipine")
    add.details_edit.setText("30 mg twice daily")
    add.ok_button.click()
    qtbot.waitUntil(lambda: items.tabs.tabText(0) == "Medications (1)", timeout=LIVE_MS)
    items.date_edit.setDate(to_qdate(day(380)))
    qtbot.waitUntil(lambda: clinical.chart.as_of == day(380), timeout=LOAD_MS)  # type: ignore[union-attr]
    items.tabs.views["medication"].selectRow(0)
    stop = items.ask_stop()
    assert stop is not None and stop.stopped_on == day(380)
    stop.reason_combo.setCurrentText("changed to another medicine")
    stop.ok_button.click()
    qtbot.waitUntil(lambda: items.tabs.tabText(0) == "Medications (0)", timeout=LIVE_MS)
    add = items.ask_add()
    assert add is not None
    add.name_combo.setCurrentText("amlodipine")
    add.ok_button.click()
    qtbot.waitUntil(lambda: items.tabs.tabText(0) == "Medications (1)", timeout=LIVE_MS)

    # 5. What the chart shows.
    loaded = clinical.chart
    assert loaded is not None
    assert [(e.kind, e.study_date) for e in loaded.timeline] == [
        ("six_minute_walk", day(382)), ("followup", day(380)), ("six_minute_walk", day(205)),
        ("followup", day(200)), ("six_minute_walk", day(2)),
        ("vasodilator_challenge", day(0)), ("assessment", day(0)),
    ]  # fmt: skip
    assert {e.created_by for e in loaded.timeline} == {"t_clinician"}
    assert [m.data.name for m in loaded.medications] == ["amlodipine"]
    assert [(i.data.name, i.stopped_on, i.stop_reason) for i in loaded.stopped_items] == [
        ("nifedipine", day(380), "changed to another medicine")
    ]

    # Risk: the chart's course, the database view and phms_client.clinical agree.
    expected = [
        risk.assess(3, Decimal(290), None, Decimal(1800)),
        risk.assess(2, Decimal(410), None, Decimal(420)),
        risk.assess(2, Decimal(460), None, Decimal(180)),
    ]
    assert [r.label for r in expected] == ["intermediate-high", "intermediate-low", "low"]
    with admin_engine.connect() as conn:
        view = conn.execute(
            sa.text(
                "SELECT study_date, risk_stratum, risk_label FROM phms.assessment_risk"
                " WHERE patient_id = :p ORDER BY study_date"
            ),
            {"p": pid},
        ).all()
    assert [tuple(r) for r in view] == [
        (d, r.stratum, r.label) for d, r in zip((day(0), day(200), day(380)), expected, strict=True)
    ]
    course = clinical.risk_model
    # The first assessment is at diagnosis: its four strata are not shown, its three are.
    first_point = loaded.risk_course[0]
    assert first_point.at_diagnosis and first_point.risk_stratum is None
    assert [course.data(course.index(row, 2)) for row in range(2)] == [
        "low (1 of 4)", "intermediate-low (2 of 4)",
    ]  # fmt: skip
    assert course.data(course.index(2, 1)) == "diagnosis · 3 strata"
    assert course.data(course.index(2, 2)) == risk_text(first_point)
    assert clinical.latest.text("risk") == f"low (1 of 4)  ·  {format_day(day(380))}"

    # Haemodynamics of the first assessment, as stored and as computed here.
    co = Decimal("3.6")
    pvr, dyn = formulas.pvr_wood(52, 10, co), formulas.pvr_dyn(52, 10, co)
    assert pvr is not None and dyn is not None
    shown = f"{format_derived('pvr_wu', pvr)} ({format_derived('pvr_dyn_s_cm5', dyn)})"
    assert shown == "11.67 WU (933 dyn·s·cm⁻⁵)"
    assert clinical.latest.text("pvr_wu") == f"{shown}  ·  {format_day(day(0))}"
    assert first.derived.pvr_wu is not None
    assert abs(first.derived.pvr_wu - Decimal(repr(pvr))) < Decimal("1e-9")
    assert clinical.latest.text("vasoreactivity") == f"positive (step 1)  ·  {format_day(day(0))}"
    with admin_engine.connect() as conn:
        result = conn.execute(
            sa.text(
                "SELECT result, positive_step_no FROM phms.vasoreactivity WHERE patient_id = :p"
            ),
            {"p": pid},
        ).one()
    assert tuple(result) == ("positive", 1)
    # The latest walk's % predicted: height and weight of the followup 2 days before it.
    age = formulas.age_years(dt.date(1968, 4, 12), day(382))
    percent = formulas.walk_percent_predicted(460, "female", age, 168, 70)
    assert percent is not None
    assert clinical.latest.text("walk") == (
        f"460 m ({format_derived('walk_percent_predicted', percent)})  ·  {format_day(day(382))}"
    )
    with admin_engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT age_years, percent_predicted FROM phms.six_minute_walk_predicted"
                " WHERE patient_id = :p AND study_date = :d"
            ),
            {"p": pid, "d": day(382)},
        ).one()
    assert stored.age_years == age
    assert abs(stored.percent_predicted - Decimal(repr(percent))) < Decimal("1e-9")

    # Opening a record from the timeline shows who entered it.
    opened = chart_window.open_record(loaded.timeline[-1])
    assert opened is not None
    qtbot.waitUntil(lambda: opened.record is not None, timeout=LOAD_MS)
    assert opened.stamp_label.text().startswith("Entered by t_clinician on ")
    assert opened.fields["mpap_mmhg"].text() == "52"
    opened.reject()
