"""The shared pieces of the record forms: number fields and the study-date / patient-ID header."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import format_day
from phms_client.clinical.ranges import HEIGHT, OXYGEN_FLOW, RAP, STOPS
from phms_client.services import chart
from phms_client.ui.chart.record_forms.common import format_derived, parse_decimal, show_number
from phms_client.ui.chart.record_forms.fields import DecimalField
from phms_client.ui.chart.record_forms.launcher import RecordForms
from phms_client.ui.chart.record_forms.walk_form import WalkForm
from phms_client.ui.patients.patient_form import PatientForm
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase, unique_code
from tests.ui.clinical_env import (
    LOAD_MS,
    TODAY,
    add_item,
    days_ago,
    enter_patient,
    new_patient,
    show_form,
)
from tests.ui.patient_env import Session, app_context, type_text


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [("170", "170"), ("3,9", "3.9"), ("3.9", "3.9"), (" -5 ", "-5"), ("−2", "-2"), (".5", "0.5")],
)
def test_parse_decimal_reads_what_was_typed(text: str, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1e3", "1.2.3", "12 cm", "nan", "--1"])
def test_parse_decimal_refuses_what_is_not_a_number(text: str) -> None:
    assert parse_decimal(text) is None


def test_numbers_shown_rounded_half_up() -> None:
    assert show_number(Decimal("2.145"), 2) == "2.15"
    assert show_number(1.8181131, 2, "m²") == "1.82 m²"
    assert show_number(None) == "—"
    assert show_number(Decimal(-3), 0, "mmHg") == "\N{MINUS SIGN}3 mmHg"
    assert format_derived("tpg_mmhg", Decimal(39)) == "39 mmHg"
    assert format_derived("tpg_mmhg", Decimal("12.5")) == "12.5 mmHg"
    assert format_derived("pvr_dyn_s_cm5", 800.0) == "800 dyn·s·cm⁻⁵"


def test_range_message_at_the_edges(qtbot: QtBot) -> None:
    field = DecimalField(HEIGHT)
    qtbot.addWidget(field)
    field.show()
    for ok in ("30", "250", "175.5", "250.0"):
        field.set_text(ok)
        assert field.check() is None and field.value() == Decimal(ok)
        assert not field.error_label.isVisible()
    for bad in ("29.9", "250.1", "0"):
        field.set_text(bad)
        assert field.check() == "Height must be between 30 and 250 cm."
        assert field.value() is None and field.raw() == Decimal(bad)
        assert field.error_label.isVisible()
        assert field.error_label.text() == "Height must be between 30 and 250 cm."
    field.set_text("1,75 m")
    assert field.check() == "Height: “1,75 m” is not a number."


def test_range_message_appears_while_typing_only_when_final(qtbot: QtBot) -> None:
    """Typing 1-7-0: “1” is below 30 but may still become 170, so no message yet;
    260 can only grow, so it is refused at once."""
    field = DecimalField(HEIGHT)
    qtbot.addWidget(field)
    field.show()
    qtbot.keyClicks(field.edit, "1")
    assert not field.error_label.isVisible()
    qtbot.keyClicks(field.edit, "70")
    assert not field.error_label.isVisible() and field.value() == Decimal(170)
    field.set_text("")
    qtbot.keyClicks(field.edit, "260")
    assert field.error_label.text() == "Height must be between 30 and 250 cm."
    qtbot.keyClick(field.edit, Qt.Key.Key_Backspace)  # 26: a message once shown stays
    assert field.error_label.text() == "Height must be between 30 and 250 cm."
    qtbot.keyClick(field.edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(field.edit, "00")  # 200
    assert not field.error_label.isVisible() and field.value() == Decimal(200)


def test_negative_minimum_and_whole_numbers(qtbot: QtBot) -> None:
    rap = DecimalField(RAP)
    stops = DecimalField(STOPS, whole=True)
    oxygen = DecimalField(OXYGEN_FLOW, required=True)
    for w in (rap, stops, oxygen):
        qtbot.addWidget(w)
    rap.set_text("-5")
    assert rap.check() is None
    rap.set_text("-5.5")
    assert rap.check() == "Right atrial pressure must be between \N{MINUS SIGN}5 and 40 mmHg."
    stops.set_text("2.5")
    assert stops.check() == "Number of stops: “2.5” is not a whole number."
    stops.set_text("51")
    assert stops.check() == "Number of stops must be between 0 and 50."
    assert oxygen.check() == "Enter the oxygen flow."
    oxygen.set_text("0.05")
    assert oxygen.check() == "Oxygen flow must be between 0.1 and 15 L/min."


# --------------------------------------------------------------------------- the workflow


def test_study_date_first_then_id_locks_and_loads_medications_as_of_that_date(
    qtbot: QtBot, clinician: Session
) -> None:
    db = clinician.ctx.db
    p = new_patient(db, sex="female")
    add_item(db, "medication", p.id, "bosentan", days_ago(400), details="62.5 mg twice daily")
    add_item(db, "medication", p.id, "sildenafil", days_ago(300), stopped=days_ago(60))
    add_item(db, "medication", p.id, "Amiodarone", days_ago(200), stopped=days_ago(20))
    add_item(db, "medication", p.id, "macitentan", days_ago(10), details="10 mg")
    add_item(db, "allergy", p.id, "penicillin", days_ago(900))

    form = WalkForm(clinician.ctx, parent=clinician.windows)
    show_form(qtbot, form)
    header = form.header
    # The study date comes first and defaults to today; the fields wait for the patient.
    assert header.study_date() == TODAY and form.focusWidget() is header.date_edit
    assert not form.body.isEnabled() and not form.save_button.isEnabled()
    study = days_ago(30)
    header.set_study_date(study)
    # An incomplete ID does nothing yet.
    type_text(qtbot, header.code_edit, p.patient_code[:5])
    assert not header.locked and header.patient is None
    assert "Type the patient ID (NNNNNNN-N" in header.status_label.text()
    with qtbot.waitSignal(header.patient_loaded, timeout=LOAD_MS):
        type_text(qtbot, header.code_edit, p.patient_code[5:])
    # A complete valid ID: locked, demographics and the medications current on the date.
    assert header.locked and header.code_edit.isReadOnly()
    assert header.change_button.isVisible()
    assert header.patient_label.text().startswith(f"{p.family_name}, Jan  ·  Female  ·  born ")
    expected = f"Medications on {format_day(study)}: Amiodarone; bosentan 62.5 mg twice daily."
    assert header.medications_label.text() == expected
    with db.session() as s:
        current = chart.current_medications(s, p.id, study)
    assert [m.data.name for m in header.patient.medications] == [m.data.name for m in current]
    assert form.body.isEnabled() and form.save_button.isEnabled()
    assert p.patient_code in form.windowTitle()

    # Moving the study date reloads the medications as of the new date.
    header.set_study_date(TODAY)
    later = f"Medications on {format_day(TODAY)}: bosentan 62.5 mg twice daily; macitentan 10 mg."
    qtbot.waitUntil(lambda: header.medications_label.text() == later, timeout=LOAD_MS)

    # Change patient unlocks the ID; the fields wait again.
    header.change_button.click()
    assert not header.locked and header.patient is None and not form.body.isEnabled()


def test_id_typed_without_the_dash_is_completed(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    form = WalkForm(clinician.ctx, parent=clinician.windows)
    show_form(qtbot, form)
    enter_patient(qtbot, form, p.patient_code.replace("-", ""))
    assert form.header.code_edit.text() == p.patient_code and form.header.locked


def test_invalid_id_is_named(qtbot: QtBot, clinician: Session) -> None:
    form = WalkForm(clinician.ctx, parent=clinician.windows)
    show_form(qtbot, form)
    type_text(qtbot, form.header.code_edit, "12345AB-9")
    assert not form.header.locked
    assert form.header.status_label.text().startswith("“12345AB-9” is not a valid patient ID.")


# The offscreen platform cannot raise windows; the form asks for it when the patient is made.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_unknown_id_offers_new_patient_and_continues_with_it(
    qtbot: QtBot, clinician: Session
) -> None:
    forms = RecordForms(clinician.ctx, clinician.windows)
    form = forms.open_new("six_minute_walk")
    assert form is not None
    qtbot.waitExposed(form)
    code = unique_code()
    type_text(qtbot, form.header.code_edit, code)
    qtbot.waitUntil(form.header.new_patient_button.isVisible, timeout=LOAD_MS)
    assert form.header.status_label.text() == f"No patient has the ID {code}. New patient?"
    assert form.header.patient is None and not form.header.locked
    assert form.header.new_patient_button.text() == f"&New patient {code}…"

    form.header.new_patient_button.click()
    patient_forms = [w for w in forms.windows() if isinstance(w, PatientForm)]
    assert len(patient_forms) == 1
    patient_form = patient_forms[0]
    assert patient_form.fields.code_edit.text() == code  # prefilled with the ID typed
    type_text(qtbot, patient_form.fields.family_edit, "Nováková")
    type_text(qtbot, patient_form.fields.given_edit, "Eva")
    patient_form.fields.sex_combo.setCurrentIndex(patient_form.fields.sex_combo.findData("female"))
    type_text(qtbot, patient_form.fields.birth_edit, "03.04.1971")
    with qtbot.waitSignal(form.header.patient_loaded, timeout=LOAD_MS):
        patient_form.save_button.click()
    # The record form goes on with the patient just registered.
    assert form.header.locked and form.header.patient is not None
    assert form.header.patient.details.patient_code == code
    assert "Nováková, Eva" in form.header.patient_label.text()
    assert form.header.medications_label.text().startswith("No medications current on ")


def test_study_date_is_day_first_digits(qtbot: QtBot, clinician: Session) -> None:
    """Typed as digits, like every date edit (phms_client.ui.shared.dates); the header's
    weekday label names the day in words."""
    form = WalkForm(clinician.ctx, parent=clinician.windows)
    show_form(qtbot, form)
    assert form.header.date_edit.text() == TODAY.strftime("%d.%m.%Y")
