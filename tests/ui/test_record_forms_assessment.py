"""Assessment and followup forms: entry, live derived values, limits, prerequisites, saving,
two workstations on one assessment."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from phms_client.clinical import formulas
from phms_client.clinical.demographics import format_day
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart
from phms_client.services.chart import AssessmentInput, AssessmentRecord
from phms_client.ui.chart.record_forms.assessment_form import AssessmentForm
from phms_client.ui.chart.record_forms.common import show_number
from phms_client.ui.shared.record_conflict import Choice
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import (
    LOAD_MS,
    TODAY,
    add_assessment,
    add_walk,
    days_ago,
    enter_patient,
    leave,
    new_patient,
    save_and_wait,
    show_form,
    type_into,
)
from tests.ui.patient_env import Session, app_context, staff_database

#: A typical first catheter: severe pre-capillary PH.
CATHETER = {
    "height_cm": "170",
    "weight_kg": "70",
    "heart_rate_bpm": "88",
    "spo2_pct": "93",
    "nt_probnp_pg_ml": "1500",
    "rap_mmhg": "8",
    "spap_mmhg": "80",
    "dpap_mmhg": "30",
    "mpap_mmhg": "48",
    "pawp_mmhg": "9",
    "co_l_min": "3,9",
    "svo2_pct": "61",
}


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician") as s:
        yield s


def new_form(
    qtbot: QtBot, session: Session, kind: str = "assessment", **kw: object
) -> AssessmentForm:
    form = AssessmentForm(session.ctx, kind=kind, parent=session.windows, **kw)  # type: ignore[arg-type]
    show_form(qtbot, form)
    return form


def fill(qtbot: QtBot, form: AssessmentForm, values: dict[str, str]) -> None:
    for name, text in values.items():
        type_into(qtbot, form.fields[name], text)


def test_assessment_live_derived_values_then_saved_as_the_database_computes(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    p = new_patient(clinician.ctx.db)
    add_walk(clinician.ctx.db, p.id, days_ago(5), 300)
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    assert form.windowTitle() == f"PHMS — Assessment — {p.family_name}, Jan ({p.patient_code})"
    derived = form.derived
    assert derived.text("bsa_m2") == "—" and derived.text("ph_class") == "—"

    fill(qtbot, form, {"height_cm": "170", "weight_kg": "70"})
    assert derived.text("bsa_m2") == "1.82 m²"  # sqrt(170 × 70 / 3600) = 1.8181
    fill(qtbot, form, {"mpap_mmhg": "48", "pawp_mmhg": "9"})
    assert derived.text("tpg_mmhg") == "39 mmHg"
    assert derived.text("pvr_wu") == "—"  # no cardiac output yet
    assert derived.text("ph_class") == "PH (mPAP > 20 mmHg): PAWP and CO needed to classify"
    fill(qtbot, form, {"co_l_min": "3,9", "dpap_mmhg": "30", "spap_mmhg": "80"})
    assert derived.text("cardiac_index_l_min_m2") == "2.15 L/min/m²"  # 3.9 / 1.8181
    assert derived.text("dpg_mmhg") == "21 mmHg"
    assert derived.text("pvr_wu") == "10.00 WU"  # 39 / 3.9
    assert derived.text("pvr_dyn_s_cm5") == "800 dyn·s·cm⁻⁵"
    assert derived.text("ph_class") == "pre-capillary PH (PAWP ≤ 15 mmHg, PVR > 2 WU)"

    # The patient's first assessment: risk at diagnosis, three strata. WHO-FC III (2), the
    # walk of 5 days ago, 300 m (2), NT-proBNP 1500 (3), CI 2.15 (2): 2.25 → 2.
    form.who_combo.setCurrentIndex(form.who_combo.findData(3))
    fill(qtbot, form, {"nt_probnp_pg_ml": "1500", "bnp_pg_ml": "900"})
    assert derived.text("risk3").startswith("intermediate (stratum 2 of 3; 1-year mortality 5–20 %")
    walk = f"6MWD 300 m ({format_day(days_ago(5))}) → 2"
    assert derived.text("risk3_detail") == (
        f"WHO-FC III → 2\n{walk}\nNT-proBNP 1500 pg/mL → 3\nCardiac index 2.15 L/min/m² → 2"
    )
    assert derived.text("risk").startswith("not shown: the four strata are validated at follow")
    # Signs, echo and the catheter heart rate add their grades as they are chosen.
    form.choices["rhf_signs"].setCurrentIndex(form.choices["rhf_signs"].findData(True))
    form.effusion_combo.setCurrentIndex(form.effusion_combo.findData("minimal"))
    fill(qtbot, form, {"tapse_mm": "18", "echo_spap_mmhg": "50", "rhc_heart_rate_bpm": "70"})
    assert derived.text("tapse_spap") == "0.36 mm/mmHg"
    assert derived.text("svi_ml_m2") == "30.6 mL/m²"  # 2.145 × 1000 / 70
    detail = derived.text("risk3_detail")
    assert detail.startswith("Signs of right heart failure present → 3\nWHO-FC III → 2")
    for part in ("TAPSE/sPAP 0.36 mm/mmHg → 1", "Pericardial effusion minimal → 2",
                 "Stroke volume index 30.6 mL/m² → 3"):  # fmt: skip
        assert part in detail
    # 3 + 2 + 2 + 3 + 1 + 2 + 2 + 3 = 18 / 8 = 2.25 → 2
    assert derived.text("risk3").startswith("intermediate (stratum 2 of 3")

    record: AssessmentRecord = save_and_wait(qtbot, form)
    assert not form.isVisible()
    d, h = record.data, record.derived
    assert (d.kind, d.study_date, d.who_fc, d.co_l_min, d.pericardial_effusion) == (
        "assessment", TODAY, 3, Decimal("3.9"), "minimal",
    )  # fmt: skip
    assert (d.rhf_signs, d.symptom_progression, d.tapse_mm, d.echo_spap_mmhg) == (
        True, None, 18, 50,
    )  # fmt: skip
    # What the database stored and derived shows exactly as the preview did.
    assert show_number(h.bsa_m2, 2) == "1.82" and show_number(h.cardiac_index_l_min_m2, 2) == "2.15"
    assert (h.tpg_mmhg, h.dpg_mmhg, h.pvr_wu, h.pvr_dyn_s_cm5) == (39, 21, 10, 800)
    assert h.ph_class == formulas.PRE_CAPILLARY
    with admin_engine.connect() as conn:
        risk = conn.execute(
            sa.text(
                "SELECT risk_stratum, risk_label FROM phms.assessment_risk WHERE assessment_id = :i"
            ),
            {"i": record.id},
        ).one()
    assert tuple(risk) == (3, "intermediate-high")  # computed, not shown at diagnosis
    with admin_engine.connect() as conn:
        at_diagnosis = conn.execute(
            sa.text(
                "SELECT at_diagnosis, risk_stratum, n_variables, svi_grade"
                " FROM phms.assessment_risk_at_diagnosis WHERE assessment_id = :i"
            ),
            {"i": record.id},
        ).one()
    assert tuple(at_diagnosis) == (True, 2, 8, 3)  # what the preview showed
    assert record.stamp.created_by == "t_clinician"


def test_values_outside_the_ranges_are_refused_with_the_range_named(
    qtbot: QtBot, clinician: Session
) -> None:
    p = new_patient(clinician.ctx.db)
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    edges = {
        # field: (largest allowed, just above, message)
        "mpap_mmhg": ("150", "150.5", "Mean PA pressure must be between 0 and 150 mmHg."),
        "pawp_mmhg": ("60", "61", "PAWP must be between 0 and 60 mmHg."),
        "svo2_pct": ("100", "100.1", "SvO2 must be between 10 and 100 %."),
        "nt_probnp_pg_ml": ("100000", "100001", "NT-proBNP must be between 0 and 100000 pg/mL."),
    }
    for name, (ok, bad, message) in edges.items():
        field = form.fields[name]
        type_into(qtbot, field, ok)
        leave(qtbot, field)
        assert field.shown_problem() == "" and field.value() == Decimal(ok)
        type_into(qtbot, field, bad)
        assert field.shown_problem() == message  # shown while typing: it cannot come back
        assert field.value() is None
    low = form.fields["co_l_min"]
    type_into(qtbot, low, "0.4")
    assert low.shown_problem() == ""  # 0.4 may still become 0.45 … wait until the field is left
    leave(qtbot, low)
    assert low.shown_problem() == "Cardiac output must be between 0.5 and 20 L/min."
    # Nothing is sent while values are wrong; the form says what to correct.
    form.save_button.click()
    assert form.error_banner.text() == "Not saved: 5 values need correcting (marked in red)."
    assert form.isVisible() and not form.saving
    with clinician.ctx.db.session() as s:
        assert chart.load_chart(s, p.id).timeline == ()

    for name in edges:
        type_into(qtbot, form.fields[name], "")
    type_into(qtbot, low, "0.5")
    fill(qtbot, form, {"mpap_mmhg": "40", "spap_mmhg": "35"})
    form.save_button.click()
    assert form.error_banner.text() == (
        "Not saved: The mean PA pressure cannot be above the systolic."
    )
    assert (
        form.fields["mpap_mmhg"].shown_problem()
        == "The mean PA pressure cannot be above the systolic."
    )


def test_followup_has_fewer_fields_and_needs_an_earlier_assessment(
    qtbot: QtBot, clinician: Session
) -> None:
    db = clinician.ctx.db
    p = new_patient(db, sex="female")
    form = new_form(qtbot, clinician, kind="followup")
    assert form.windowTitle() == "PHMS — Followup"
    assert "mpap_mmhg" not in form.fields and "co_l_min" not in form.fields
    assert set(form.fields) >= {
        "height_cm",
        "weight_kg",
        "bnp_pg_ml",
        "nt_probnp_pg_ml",
        "tapse_mm",
    }
    assert "pvr_wu" not in form.derived.values

    # No assessment at all: said in words as soon as the patient is known.
    enter_patient(qtbot, form, p.patient_code)
    banner = form.prerequisite_banner
    assert banner.isVisible()
    assert banner.text() == (
        "A followup needs an earlier assessment of this patient, and there is none before "
        f"{format_day(TODAY)}. Enter the assessment first, or enter this visit as an assessment."
    )
    form.save_button.click()
    assert form.error_banner.text() == "Not saved. " + banner.text()
    form.reject()

    # An assessment on the same day does not count; an earlier one does.
    add_assessment(db, p.id, days_ago(90))
    add_assessment(db, p.id, TODAY, who_fc=3)
    form = new_form(qtbot, clinician, kind="followup", study_date=days_ago(90))
    enter_patient(qtbot, form, p.patient_code)
    assert "The assessment of that day does not count" in form.prerequisite_banner.text()
    form.header.set_study_date(days_ago(30))
    assert not form.prerequisite_banner.isVisible()

    # Risk at a followup: WHO-FC II (1) and BNP 120 (2): 1.5 rounds half up to 2.
    form.who_combo.setCurrentIndex(form.who_combo.findData(2))
    type_into(qtbot, form.fields["bnp_pg_ml"], "120")
    assert form.derived.text("risk") == "intermediate-low (stratum 2)"
    assert form.derived.text("risk_detail") == (
        "WHO-FC II → 1 · no 6-minute walk within 14 days · BNP 120 pg/mL → 2"
    )
    record = save_and_wait(qtbot, form)
    assert (record.data.kind, record.data.study_date, record.data.bnp_pg_ml) == (
        "followup", days_ago(30), Decimal(120),
    )  # fmt: skip


def test_the_database_refusal_is_explained_too(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    """The assessment the form relied on is deleted on another workstation before saving."""
    p = new_patient(clinician.ctx.db)
    baseline = add_assessment(clinician.ctx.db, p.id, days_ago(60))
    form = new_form(qtbot, clinician, kind="followup")
    enter_patient(qtbot, form, p.patient_code)
    assert not form.prerequisite_banner.isVisible()
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.delete_record(s, "assessment", baseline.id, baseline.stamp.version, "wrong patient")
    type_into(qtbot, form.fields["weight_kg"], "71")
    form.save_button.click()
    qtbot.waitUntil(form.error_banner.isVisible, timeout=LOAD_MS)
    assert form.error_banner.text() == (
        "Not saved: A followup needs an earlier assessment of the same patient, and there is "
        "none before this study date. Enter the assessment first, or enter this visit as an "
        "assessment. Everything you typed is still here."
    )
    assert form.fields["weight_kg"].text() == "71" and form.isVisible()
    # The same refusal, classified: an invalid value with the rule's words.
    with clinician.ctx.db.session() as s, pytest.raises(sa.exc.IntegrityError) as refused:
        chart.create_assessment(s, AssessmentInput(p.id, TODAY, kind="followup"))
    error = classify(refused.value)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert error.message.startswith("A followup needs an earlier assessment of the same patient")


def test_opening_a_record_shows_who_entered_and_changed_it(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    p = new_patient(clinician.ctx.db)
    with staff_database(db, "t_admin") as other:
        first = add_assessment(other, p.id, days_ago(10), height_cm=160, weight_kg=80)
    with clinician.ctx.db.session() as s:
        chart.update_assessment(
            s, first.id, first.stamp.version,
            AssessmentInput(p.id, days_ago(10), height_cm=Decimal(160), weight_kg=Decimal(81)),
        )  # fmt: skip
    form = AssessmentForm(clinician.ctx, first.id, parent=clinician.windows)
    with qtbot.waitSignal(form.loaded, timeout=LOAD_MS):
        show_form(qtbot, form)
    assert form.header.locked and not form.header.change_button.isVisible()
    assert form.header.study_date() == days_ago(10)
    assert form.fields["weight_kg"].text() == "81" and form.derived.text("bsa_m2") == "1.90 m²"
    stamp = form.stamp_label.text()
    assert (
        stamp.startswith("Entered by t_admin on ") and " · last changed by t_clinician on " in stamp
    )
    assert form.delete_button.isVisible() and not form.is_dirty()


# --------------------------------------------------------------------------- two workstations


def open_existing(qtbot: QtBot, session: Session, record_id: int) -> AssessmentForm:
    form = AssessmentForm(session.ctx, record_id, parent=session.windows)
    with qtbot.waitSignal(form.loaded, timeout=LOAD_MS):
        show_form(qtbot, form)
    return form


def test_two_workstations_on_one_assessment_compare_and_choose(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    p = new_patient(clinician.ctx.db)
    record = add_assessment(
        clinician.ctx.db, p.id, days_ago(3), mpap_mmhg=40, pawp_mmhg=10, co_l_min=4
    )
    form = open_existing(qtbot, clinician, record.id)
    type_into(qtbot, form.fields["co_l_min"], "5")
    assert form.is_dirty() and form.derived.text("pvr_wu") == "6.00 WU"

    # Meanwhile, another workstation corrects the PAWP.
    with staff_database(db, "t_admin") as other, other.session() as s:
        theirs = chart.update_assessment(
            s, record.id, record.stamp.version,
            AssessmentInput(p.id, days_ago(3), mpap_mmhg=Decimal(40), pawp_mmhg=Decimal(12),
                            co_l_min=Decimal(4)),
        )  # fmt: skip
    # A live note first (the form is being edited, so nothing is replaced).
    qtbot.waitUntil(form.change_banner.isVisible, timeout=2_500)
    assert form.change_banner.text().startswith("Changed by t_admin on ")
    assert form.fields["co_l_min"].text() == "5"

    # Saving: never silently; the dialog shows theirs against mine.
    form.save_button.click()
    qtbot.waitUntil(lambda: form.conflict_dialog is not None, timeout=LOAD_MS)
    dialog = form.conflict_dialog
    assert dialog is not None
    assert dialog.summary.text() == "Fields that differ: PAWP, Cardiac output."
    dialog.compare_button.click()
    assert dialog.comparing
    labels = [dialog.model.data(dialog.model.index(r, 0)) for r in range(dialog.model.rowCount())]
    pawp = labels.index("PAWP")
    assert [dialog.model.data(dialog.model.index(pawp, c)) for c in (1, 2)] == [
        "12 mmHg",
        "10 mmHg",
    ]
    assert dialog.model.headerData(1, Qt.Orientation.Horizontal) == "Saved by t_admin"

    # Cancel keeps mine on screen and says so.
    dialog.cancel_button.click()
    assert dialog.choice is Choice.CANCEL and form.conflict_dialog is None
    assert form.change_banner.text().startswith("Not saved. Changed by t_admin on ")
    assert form.fields["co_l_min"].text() == "5"

    # Overwrite saves mine on top of their version.
    form.save_button.click()
    qtbot.waitUntil(lambda: form.conflict_dialog is not None, timeout=LOAD_MS)
    with qtbot.waitSignal(form.saved, timeout=LOAD_MS) as saved:
        form.conflict_dialog.overwrite_button.click()
    mine = saved.args[0]
    assert mine.stamp.version == theirs.stamp.version + 1
    assert (mine.data.pawp_mmhg, mine.data.co_l_min) == (Decimal(10), Decimal(5))
    assert mine.stamp.updated_by == "t_clinician"


def test_an_untouched_form_follows_the_saved_version(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    p = new_patient(clinician.ctx.db)
    record = add_assessment(clinician.ctx.db, p.id, days_ago(3), who_fc=3)
    form = open_existing(qtbot, clinician, record.id)
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.update_assessment(
            s, record.id, record.stamp.version, AssessmentInput(p.id, days_ago(3), who_fc=2)
        )
    qtbot.waitUntil(lambda: form.who_combo.currentData() == 2, timeout=2_500)
    assert form.change_banner.text().startswith("Updated: Changed by t_admin on ")
    assert not form.is_dirty() and "last changed by t_admin" in form.stamp_label.text()


def test_delete_as_entered_in_error_asks_for_a_reason(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    p = new_patient(clinician.ctx.db)
    record = add_assessment(clinician.ctx.db, p.id, days_ago(3), who_fc=3)
    form = open_existing(qtbot, clinician, record.id)
    form.delete_button.click()
    dialog = form.reason_dialog
    assert dialog is not None and not dialog.ok_button.isEnabled()
    dialog.reason_combo.setCurrentText("wrong patient")
    with qtbot.waitSignal(form.deleted, timeout=LOAD_MS):
        dialog.ok_button.click()
    with admin_engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT entered_in_error, error_reason, error_by FROM phms.assessment WHERE id = :i"
            ),
            {"i": record.id},
        ).one()
    assert tuple(stored) == (True, "wrong patient", "t_clinician")


def test_a_later_assessment_shows_the_four_strata(qtbot: QtBot, clinician: Session) -> None:
    db = clinician.ctx.db
    p = new_patient(db)
    add_assessment(db, p.id, days_ago(200), who_fc=3)
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    form.who_combo.setCurrentIndex(form.who_combo.findData(2))
    type_into(qtbot, form.fields["bnp_pg_ml"], "120")
    assert form.derived.text("risk3") == "applies to the patient's first assessment only"
    assert form.derived.text("risk") == "intermediate-low (stratum 2)"
    # Moved before the first assessment, this visit becomes the one at diagnosis.
    form.header.set_study_date(days_ago(300))
    assert form.derived.text("risk").startswith("not shown")
    assert form.derived.text("risk3").startswith("not enough data (2 variables graded; 3 needed)")


def test_pressures_that_do_not_add_up_are_said_as_typed(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    fill(qtbot, form, {"mpap_mmhg": "10", "pawp_mmhg": "25", "co_l_min": "5"})
    pawp = form.fields["pawp_mmhg"]
    assert pawp.shown_problem() == (
        "PAWP cannot be above the mean PA pressure (TPG and PVR would be negative)."
    )
    # Refused, not classified: no "isolated post-capillary" from a typing error.
    assert form.derived.text("ph_class") == "— (the pressures do not add up)"
    assert form.derived.text("pvr_wu") == "— (the pressures do not add up)"
    type_into(qtbot, form.fields["mpap_mmhg"], "0")
    assert form.fields["mpap_mmhg"].shown_problem() == "The mean PA pressure must be above 0 mmHg."
    form.save_button.click()
    assert form.error_banner.text() == "Not saved: 2 values need correcting (marked in red)."
    type_into(qtbot, form.fields["mpap_mmhg"], "30")
    assert pawp.shown_problem() == "" and form.fields["mpap_mmhg"].shown_problem() == ""
    record = save_and_wait(qtbot, form)
    assert (record.derived.tpg_mmhg, record.derived.pvr_wu) == (5, 1)
