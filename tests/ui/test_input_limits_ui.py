"""Text limits shown as people type; date edits and the day list stay within accepted dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import DemographicsEntry
from phms_client.ui.chart.record_forms.fields import DecimalField
from phms_client.ui.clinic_day.day_list import DayListWidget
from phms_client.ui.patients.patient_form import PatientForm
from phms_client.ui.shared.text_limits import limit_text
from phms_schema import limits
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase, unique_code
from tests.ui.clinic_support import Workstation, clinic_context
from tests.ui.patient_env import Session, app_context


def test_line_edit_counts_near_its_limit(qtbot: QtBot) -> None:
    edit = QLineEdit()
    qtbot.addWidget(edit)
    hint = limit_text(edit, "patient", "family_name")
    edit.show()
    assert edit.maxLength() == 100
    edit.setText("N" * 79)
    assert not hint.label.isVisible()
    edit.setText("N" * 93)
    assert hint.label.isVisible() and hint.label.text() == "93/100"
    edit.setText("N" * 500)
    assert edit.text() == "N" * 100 and hint.label.text() == "100/100"
    edit.setText("Nowak\x1b[2J")
    assert hint.label.text() == "control characters are not allowed"
    assert "At most 100 characters." in edit.toolTip()


def test_plain_text_edit_is_cut_at_its_limit(qtbot: QtBot) -> None:
    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    hint = limit_text(edit, "patient", "address")
    edit.show()
    edit.setPlainText("1 High Street\nLondon")
    assert not hint.label.isVisible()
    edit.setPlainText("x" * 20_000)  # pasted far over the limit
    assert len(edit.toPlainText()) == 500
    assert hint.label.isVisible() and hint.label.text() == "500/500: the rest was cut"
    edit.setPlainText("line one\n\tline two")
    assert not hint.label.isVisible()
    edit.setPlainText("bell\x07")
    assert hint.label.text() == "control characters are not allowed"


def test_number_fields_take_at_most_three_decimals(qtbot: QtBot) -> None:
    field = DecimalField(None, label="Dose")
    qtbot.addWidget(field)
    assert field.edit.maxLength() == 16
    field.set_text("0.125")
    assert field.problem() is None
    field.set_text("0.0001")
    assert field.problem() == "Dose: at most 3 decimal places."
    field.set_text("1" * 40)
    assert len(field.text()) == 16


@pytest.fixture
def clerk_session(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clerk") as s:
        yield s


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("family_name", "\u200f", "The family name must contain at least one letter."),
        ("given_name", "\u200b", "The given name must contain at least one letter."),
        ("family_name", "Nowak\x07", "The family name contains control characters"),
        ("address", "Flat\x00 1", "The address contains a NUL character"),
    ],
)
def test_patient_form_refuses_nonsense_next_to_the_field(
    qtbot: QtBot, clerk_session: Session, field: str, value: str, message: str, tmp_path: Path
) -> None:
    values = {
        "patient_code": unique_code(),
        "family_name": "Nowak",
        "given_name": "Ewa",
        "sex": "female",
        "birth_date": "03.02.1951",
        field: value,
    }
    form = PatientForm(
        clerk_session.ctx,
        prefill=DemographicsEntry(**values),  # type: ignore[arg-type]
        parent=clerk_session.windows,
    )
    form.show()
    assert form.fields.family_edit.maxLength() == 100 and form.fields.email_edit.maxLength() == 254
    form.save_button.click()
    assert form.field_error(field).startswith(message)
    if field == "family_name" and value == "\u200f":
        form.grab().save(str(tmp_path / "patient-form-letter.png"))


@pytest.fixture
def clerk(qtbot: QtBot, db: PgDatabase) -> Iterator[Workstation]:
    with clinic_context(qtbot, db, "t_clerk") as station:
        yield station


def test_day_list_at_the_end_of_time(qtbot: QtBot, clerk: Workstation) -> None:
    widget = DayListWidget(clerk.ctx, clerk.windows)
    widget.show()
    low, high = widget.day_range()
    assert low == limits.DATE_MIN
    assert high - dt.date.today() < dt.timedelta(days=limits.APPOINTMENT_DAYS_AHEAD)
    assert widget.date_edit.maximumDate() == QDate(high.year, high.month, high.day)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_day(dt.date(9999, 12, 31))  # raised OverflowError before
    assert widget.day == high
    widget.step_day(1)  # the next day button at the last day
    assert widget.day == high
    widget.set_day(dt.date.min)
    assert widget.day == low
    qtbot.waitUntil(lambda: widget.status_label.text() != "Loading…", timeout=10_000)


def test_vasodilator_dose_fits_the_agents_range() -> None:
    from decimal import Decimal

    from phms_client.ui.chart.record_forms.vasodilator_form import Agent, dose_problem

    nitric = Agent("inhaled nitric oxide", "ppm", (Decimal(10), Decimal(20), Decimal(40)))
    assert dose_problem(nitric, Decimal(80)) is None
    assert dose_problem(nitric, Decimal("0.5")) is None
    assert dose_problem(nitric, Decimal(81)) == (
        "a dose of 81 ppm is more than 2 times the highest dose step of inhaled nitric oxide "
        "(40 ppm)."
    )
    assert dose_problem(nitric, Decimal("1e-1000")) == "a dose may have at most 3 decimal places."
    assert dose_problem(nitric, Decimal("1e30")) is not None


def test_pasting_a_megabyte_pastes_what_fits(qtbot: QtBot) -> None:
    from PySide6.QtGui import QGuiApplication

    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    hint = limit_text(edit, "appointment", "note")
    edit.show()
    edit.setPlainText("Call first. ")
    edit.moveCursor(edit.textCursor().MoveOperation.End)
    QGuiApplication.clipboard().setText("y" * 1_000_000)
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert edit.toPlainText() == "Call first. " + "y" * (2000 - 12)
    assert hint.label.text() == "2,000/2,000: the rest was cut"
    QGuiApplication.clipboard().setText(" and bring the letter")
    edit.setPlainText("Call first.")
    edit.moveCursor(edit.textCursor().MoveOperation.End)
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert edit.toPlainText() == "Call first. and bring the letter"
