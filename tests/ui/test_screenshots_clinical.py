"""The clinical screens rendered for real: each record form filled (live derived values, one
validation message), the items panel's history, the compare dialog, the chart with a course.

``PHMS_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest
tests/ui/test_screenshots_clinical.py`` writes the PNGs; without it the screens are
rendered and checked to be real pictures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pytestqt.qtbot import QtBot

from phms_client.services import chart, patients
from phms_client.services.chart import AssessmentInput, StepInput
from phms_client.services.patients import PatientDetails, PatientInput
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.chart.record_forms.assessment_form import AssessmentForm
from phms_client.ui.chart.record_forms.chart_items_panel import ChartItemsPanel
from phms_client.ui.chart.record_forms.vasodilator_form import VasodilatorForm
from phms_client.ui.chart.record_forms.walk_form import WalkForm
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import (
    LOAD_MS,
    add_assessment,
    add_challenge,
    add_item,
    add_walk,
    days_ago,
    enter_patient,
    leave,
    show_form,
    type_into,
)
from tests.ui.patient_env import Session, app_context, staff_database
from tests.ui.screens import capture

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

CODE = "4720815-3"
NO = "inhaled nitric oxide"


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


def claire(session: Session, db: PgDatabase) -> PatientDetails:
    """Claire Moreau, idiopathic PAH, a responder followed for a year (made once per run)."""
    database = session.ctx.db
    with database.session() as s:
        found = patients.find_by_code(s, CODE)
    if found is not None:
        return found
    with database.session() as s:
        p = patients.create(
            s,
            PatientInput(
                CODE, "Moreau", "Claire", "female", dt.date(1968, 4, 12),
                ph_group=1, ph_subtype="idiopathic",
            ),
        )  # fmt: skip
    first = add_assessment(
        database, p.id, days_ago(380), who_fc=3, height_cm=164, weight_kg=61, heart_rate_bpm=92,
        spo2_pct=94, nt_probnp_pg_ml=1840, creatinine_umol_l=78, tapse_mm=15, rap_mmhg=11,
        spap_mmhg=88, dpap_mmhg=34, mpap_mmhg=54, pawp_mmhg=9, co_l_min="3.4", svo2_pct=58,
        rhc_heart_rate_bpm=90, rhf_signs=False, symptom_progression="slow", syncope="none",
        pericardial_effusion="none", echo_spap_mmhg=85, ra_area_cm2=21,
    )  # fmt: skip
    add_challenge(
        database, p.id, days_ago(380),
        StepInput(0, Decimal(54), pawp_mmhg=Decimal(9), co_l_min=Decimal("3.4")),
        StepInput(1, Decimal(47), agent=NO, dose=Decimal(10), dose_unit="ppm",
                  co_l_min=Decimal("3.5")),
        StepInput(2, Decimal(39), agent=NO, dose=Decimal(20), dose_unit="ppm",
                  co_l_min=Decimal("3.7")),
    )  # fmt: skip
    add_walk(database, p.id, days_ago(378), 296, spo2_before_pct=95, spo2_after_pct=88)
    add_item(database, "medication", p.id, "nifedipine", days_ago(378), details="30 mg twice daily",
             stopped=days_ago(120), reason="changed to another medicine",
             therapy_class="ccb")  # fmt: skip
    add_item(database, "medication", p.id, "amlodipine", days_ago(120), details="10 mg once daily",
             therapy_class="ccb")  # fmt: skip
    add_item(database, "medication", p.id, "Bosen", days_ago(10), details="typed, not on the list")
    add_item(database, "allergy", p.id, "iodine contrast", days_ago(2000), details="urticaria")
    add_item(
        database, "comorbidity", p.id, "hypothyroidism", days_ago(3000), details="on thyroxine"
    )
    add_item(database, "comorbidity", p.id, "iron deficiency", days_ago(380),
             stopped=days_ago(200), reason="cured")  # fmt: skip
    add_assessment(database, p.id, days_ago(200), "followup", who_fc=2, height_cm=164,
                   weight_kg=62, nt_probnp_pg_ml=520)  # fmt: skip
    add_walk(database, p.id, days_ago(198), 402)
    add_assessment(database, p.id, days_ago(30), "followup", who_fc=2, height_cm=164,
                   weight_kg=62, nt_probnp_pg_ml=240, tapse_mm=21)  # fmt: skip
    add_walk(database, p.id, days_ago(29), 468)
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.update_assessment(
            s, first.id, first.stamp.version,
            AssessmentInput(**{**first.data.__dict__, "creatinine_umol_l": Decimal(81)}),
        )  # fmt: skip
    return p


def test_assessment_form(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    claire(clinician, db)
    form = AssessmentForm(clinician.ctx, parent=clinician.windows)
    form.resize(980, 700)
    show_form(qtbot, form)
    enter_patient(qtbot, form, CODE)
    form.who_combo.setCurrentIndex(form.who_combo.findData(2))
    for name, text in {
        "height_cm": "164", "weight_kg": "62", "heart_rate_bpm": "76", "spo2_pct": "96",
        "nt_probnp_pg_ml": "210", "creatinine_umol_l": "80", "tapse_mm": "22",
        "rap_mmhg": "6", "spap_mmhg": "52", "dpap_mmhg": "20", "mpap_mmhg": "33",
        "pawp_mmhg": "8", "co_l_min": "4,6", "svo2_pct": "105",
    }.items():  # fmt: skip
        type_into(qtbot, form.fields[name], text)
    leave(qtbot, form.fields["svo2_pct"])
    assert form.fields["svo2_pct"].shown_problem() == "SvO2 must be between 10 and 100 %."
    assert form.derived.text("pvr_wu") == "5.43 WU"
    capture(qtbot, form, "record-assessment")


def test_assessment_form_at_diagnosis(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    """A new patient's first assessment: the three strata with the grade of each variable."""
    with clinician.ctx.db.session() as s:
        found = patients.find_by_code(s, "5300917-2")
        p = found or patients.create(
            s,
            PatientInput("5300917-2", "Lindqvist", "Erik", "male", dt.date(1959, 9, 3), ph_group=1),
        )
    add_walk(clinician.ctx.db, p.id, days_ago(1), 318)
    form = AssessmentForm(clinician.ctx, parent=clinician.windows)
    form.resize(1180, 1090)
    show_form(qtbot, form)
    enter_patient(qtbot, form, "5300917-2")
    form.who_combo.setCurrentIndex(form.who_combo.findData(3))
    signs = {"rhf_signs": False, "symptom_progression": "slow", "syncope": "occasional",
             "pericardial_effusion": "minimal"}  # fmt: skip
    for column, value in signs.items():
        form.choices[column].setCurrentIndex(form.choices[column].findData(value))
    for name, text in {
        "height_cm": "178", "weight_kg": "84", "heart_rate_bpm": "88", "spo2_pct": "93",
        "nt_probnp_pg_ml": "1450", "tapse_mm": "16", "echo_spap_mmhg": "70", "ra_area_cm2": "24",
        "rap_mmhg": "12", "spap_mmhg": "78", "dpap_mmhg": "30", "mpap_mmhg": "47",
        "pawp_mmhg": "52", "co_l_min": "4.1", "svo2_pct": "61", "rhc_heart_rate_bpm": "86",
        "peak_vo2_ml_min_kg": "12.5", "ve_vco2_slope": "46",
    }.items():  # fmt: skip
        type_into(qtbot, form.fields[name], text)
    assert form.fields["pawp_mmhg"].shown_problem().startswith("PAWP cannot be above")
    assert form.derived.text("risk3").startswith("intermediate (stratum 2 of 3")
    capture(qtbot, form, "record-assessment-diagnosis")


def test_followup_form(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    claire(clinician, db)
    form = AssessmentForm(clinician.ctx, kind="followup", parent=clinician.windows)
    form.resize(860, 560)
    show_form(qtbot, form)
    enter_patient(qtbot, form, CODE)
    form.who_combo.setCurrentIndex(form.who_combo.findData(2))
    for name, text in {"weight_kg": "62.5", "heart_rate_bpm": "74", "spo2_pct": "97",
                       "bnp_pg_ml": "38", "nt_probnp_pg_ml": "1500000"}.items():  # fmt: skip
        type_into(qtbot, form.fields[name], text)
    assert form.fields["nt_probnp_pg_ml"].shown_problem().startswith("NT-proBNP must be between")
    capture(qtbot, form, "record-followup")


def test_vasodilator_form(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    claire(clinician, db)
    form = VasodilatorForm(clinician.ctx, parent=clinician.windows)
    form.resize(1060, 500)
    show_form(qtbot, form)
    enter_patient(qtbot, form, CODE)
    rows = {
        0: {"mpap_mmhg": "54", "pawp_mmhg": "9", "co_l_min": "3.4", "spap_mmhg": "88",
            "dpap_mmhg": "34", "heart_rate_bpm": "92", "svo2_pct": "58"},
        1: {"mpap_mmhg": "47", "pawp_mmhg": "9", "co_l_min": "3.5", "heart_rate_bpm": "90",
            "svo2_pct": "60"},
        2: {"mpap_mmhg": "39", "pawp_mmhg": "8", "co_l_min": "3.7", "heart_rate_bpm": "88",
            "svo2_pct": "6"},
    }  # fmt: skip
    form.rows[1].dose_combo.setCurrentText("10")  # type: ignore[union-attr]
    form.add_step()
    for number, values in rows.items():
        for column, text in values.items():
            type_into(qtbot, form.rows[number].fields[column], text)
    form.save_button.click()  # refused: the SvO2 of step 2 is out of range
    assert form.steps_error.text() == "Step 2: SvO2 must be between 10 and 100 %."
    assert form.result_label.text() == "Positive (step 2)"
    capture(qtbot, form, "record-vasodilator")


def test_walk_form(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    claire(clinician, db)
    form = WalkForm(clinician.ctx, parent=clinician.windows)
    form.resize(780, 600)
    show_form(qtbot, form)
    enter_patient(qtbot, form, CODE)
    form.with_oxygen.setChecked(True)
    for name, text in {
        "oxygen_l_min": "2", "distance_m": "471", "stops": "0",
        "spo2_before_pct": "96", "spo2_after_pct": "91",
        "heart_rate_before_bpm": "72", "heart_rate_after_bpm": "118",
        "borg_before": "0.5", "borg_after": "12",
    }.items():  # fmt: skip
        type_into(qtbot, form.fields[name], text)
    assert form.fields["borg_after"].shown_problem() == "Borg score must be between 0 and 10."
    assert form.derived.text("percent_predicted").endswith("% predicted")
    capture(qtbot, form, "record-walk")


def test_items_panel_history(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    p = claire(clinician, db)
    panel = ChartItemsPanel(clinician.ctx, p.id, parent=clinician.windows)
    panel.resize(760, 300)
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        panel.show()
    panel.history_box.setChecked(True)
    panel.tabs.views["medication"].selectRow(0)
    capture(qtbot, panel, "chart-items-history")


def test_record_conflict(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    p = claire(clinician, db)
    with clinician.ctx.db.session() as s:
        loaded = chart.load_chart(s, p.id)
    newest = next(e for e in loaded.timeline if e.kind == "six_minute_walk")
    form = WalkForm(clinician.ctx, newest.record_id, parent=clinician.windows)
    with qtbot.waitSignal(form.loaded, timeout=LOAD_MS):
        show_form(qtbot, form)
    type_into(qtbot, form.fields["distance_m"], "486")
    record = newest.record
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.update_walk(
            s, record.id, record.stamp.version,
            chart.WalkInput(**{**record.data.__dict__, "distance_m": Decimal(468), "stops": 1}),
        )  # fmt: skip
    form.save_button.click()
    qtbot.waitUntil(lambda: form.conflict_dialog is not None, timeout=LOAD_MS)
    dialog = form.conflict_dialog
    assert dialog is not None
    dialog.set_comparing(True)
    dialog.resize(640, dialog.sizeHint().height())
    capture(qtbot, dialog, "record-conflict")
    dialog.reject()


def test_chart_with_a_course(qtbot: QtBot, clinician: Session, db: PgDatabase) -> None:
    p = claire(clinician, db)
    window = ChartWindow(clinician.ctx, p.id, clinician.windows)
    window.resize(1240, 900)
    with qtbot.waitSignal(window.loaded, timeout=LOAD_MS):
        window.show()
    assert window.clinical is not None
    window.clinical.timeline.table.selectRow(0)
    capture(qtbot, window, "chart-clinical")
    window.clinical.tabs.setCurrentIndex(1)
    capture(qtbot, window, "chart-clinical-risk")
    window.clinical.tabs.setCurrentIndex(2)
    capture(qtbot, window, "chart-clinical-trends")
    window.close()
