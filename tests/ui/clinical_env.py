"""Helpers for the clinical UI tests: real patients and records, typed like a person would.

Records are made through the chart service as a clinician (another workstation,
as far as the window under test is concerned); forms are filled through their
widgets, and the database is asked afterwards what was stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from phms_client.db.database import Database
from phms_client.services import chart
from phms_client.services.chart import (
    AssessmentInput,
    AssessmentRecord,
    ChallengeInput,
    ChallengeRecord,
    ChartItem,
    ItemInput,
    StepInput,
    WalkInput,
    WalkRecord,
)
from phms_client.services.patients import PatientDetails
from phms_client.ui.chart.record_forms.base import RecordForm
from phms_client.ui.chart.record_forms.fields import DecimalField
from tests.ui.patient_env import create_patients, person, type_text, unique_family

TODAY = dt.date.today()
LOAD_MS = 5_000


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (28 Feb for 29 Feb)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def new_patient(
    database: Database, *, sex: str = "male", born: dt.date = dt.date(1960, 5, 17)
) -> PatientDetails:
    (p,) = create_patients(database, person(unique_family("Ř"), given="Jan", born=born, sex=sex))
    return p


def D(value: object) -> Decimal:
    return Decimal(str(value))


#: Assessment values that are not numbers (kept as given).
_NOT_NUMBERS = ("who_fc", "rhf_signs", "symptom_progression", "syncope", "pericardial_effusion")


def add_assessment(
    database: Database, patient_id: int, day: dt.date, kind: str = "assessment", **values: Any
) -> AssessmentRecord:
    converted = {
        k: (D(v) if isinstance(v, (int, float, str)) and k not in _NOT_NUMBERS else v)
        for k, v in values.items()
    }
    with database.session() as s:
        return chart.create_assessment(s, AssessmentInput(patient_id, day, kind, **converted))


def add_walk(
    database: Database, patient_id: int, day: dt.date, distance: object, **values: Any
) -> WalkRecord:
    converted = {
        k: (D(v) if isinstance(v, (int, float, str)) and k != "stops" else v)
        for k, v in values.items()
    }
    with database.session() as s:
        return chart.create_walk(s, WalkInput(patient_id, day, D(distance), **converted))


def add_challenge(
    database: Database, patient_id: int, day: dt.date, *steps: StepInput
) -> ChallengeRecord:
    with database.session() as s:
        return chart.create_challenge(s, ChallengeInput(patient_id, day, tuple(steps)))


def add_item(
    database: Database,
    kind: str,
    patient_id: int,
    name: str,
    started: dt.date,
    *,
    details: str | None = None,
    stopped: dt.date | None = None,
    reason: str = "stopped",
    therapy_class: str | None = None,
) -> ChartItem:
    with database.session() as s:
        data = ItemInput(patient_id, name, started, details, therapy_class=therapy_class)
        item = chart.add_item(s, kind, data)  # type: ignore[arg-type]
        if stopped is not None:
            item = chart.stop_item(s, item.kind, item.id, item.stamp.version, stopped, reason)
        return item


def enter_patient(qtbot: QtBot, form: RecordForm, code: str) -> None:
    """Type the patient ID as a person would and wait for the patient to load."""
    with qtbot.waitSignal(form.header.patient_loaded, timeout=LOAD_MS):
        type_text(qtbot, form.header.code_edit, code)


def type_into(qtbot: QtBot, field: DecimalField, text: str) -> None:
    field.edit.setFocus()
    field.edit.selectAll()
    if field.edit.text():
        qtbot.keyClick(field.edit, Qt.Key.Key_Delete)
    type_text(qtbot, field.edit, text)


def leave(qtbot: QtBot, field: DecimalField) -> None:
    """Leave the field (the range message shows when a field is left)."""
    field.edit.editingFinished.emit()


def show_form(qtbot: QtBot, form: QWidget) -> None:
    form.show()
    qtbot.waitExposed(form)


def save_and_wait(qtbot: QtBot, form: RecordForm) -> Any:
    with qtbot.waitSignal(form.saved, timeout=LOAD_MS) as blocker:
        form.save_button.click()
    return blocker.args[0]


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    """Every statement sent through ``engine`` while inside (before_cursor_execute)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def row(admin_engine: sa.Engine, sql: str, **params: Any) -> sa.RowMapping:
    with admin_engine.connect() as conn:
        return conn.execute(sa.text(sql), params).mappings().one()
