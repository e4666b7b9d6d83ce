"""Shared pieces of the record forms: number fields, derived-value rows, the workflow header.

The **workflow** (PH_DOMAIN.md): every record starts with the study date (today by
default), then the patient ID. As soon as a complete, valid ID (site format) is
typed, :class:`StudyHeader` locks it and loads, through the task runner, the
patient's demographics and chart as of the study date (the medications current
on that date are shown). An unknown ID offers “New patient?”.

Numbers are typed as text and read as exact decimals (``,`` or ``.`` as the
decimal mark); a value outside its plausible range
(:mod:`phms_client.clinical.ranges`) is refused in the form with the range
named, the same sentence the database's refusal is shown with.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical import risk
from phms_client.clinical.demographics import SEX_LABELS, age_on, format_day
from phms_client.clinical.matching import WALK_WINDOW_DAYS, nearest
from phms_client.clinical.ranges import Range
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart as chart_service
from phms_client.services import patients
from phms_client.services.chart import Chart, ChartItem
from phms_client.services.input_rules import limits
from phms_client.services.patients import PatientDetails
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import qdate, style_date_edit
from phms_client.ui.shared.guard import while_alive
from phms_client.ui.shared.text_limits import limit_text

__all__ = [
    "BANNER_STYLES",
    "CLINICAL_GROUPS",
    "ERROR_STYLE",
    "DecimalField",
    "DerivedRows",
    "PatientContext",
    "ReasonDialog",
    "ReasonRequired",
    "StudyHeader",
    "banner",
    "can_edit_clinical",
    "from_qdate",
    "parse_decimal",
    "show_number",
    "to_qdate",
]

log = logging.getLogger(__name__)

#: Staff groups that may read and write clinical records (the database's GRANTs).
CLINICAL_GROUPS: Final = frozenset({"clinician", "admin"})
ERROR_STYLE: Final = "color: #b3261e;"
HINT_STYLE: Final = "color: palette(placeholder-text);"
BANNER_STYLES: Final = {
    "error": "background: #fde7e9; color: #5f1412; border: 1px solid #e6a5a1;",
    "warning": "background: #fff4ce; color: #4d3b00; border: 1px solid #e6cf7d;",
    "info": "background: #e5f1fb; color: #0b3a5b; border: 1px solid #a7cbe8;",
}

_NUMBER: Final = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
_WHOLE: Final = re.compile(r"^\d+$")
#: Characters a number field takes (``-12345.123`` and room to spare).
MAX_NUMBER_LENGTH: Final = 16


def can_edit_clinical(ctx: AppContext) -> bool:
    return ctx.login.group in CLINICAL_GROUPS


def banner(kind: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(BANNER_STYLES[kind] + " padding: 6px; border-radius: 3px;")
    label.hide()
    return label


def to_qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def from_qdate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())


def parse_decimal(text: str, *, whole: bool = False) -> Decimal | None:
    """The exact number typed (``3,9`` is 3.9); None when it is not a plain number."""
    text = text.strip().replace("\N{MINUS SIGN}", "-")
    if not (_WHOLE if whole else _NUMBER).match(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def show_number(value: Decimal | float | int | None, places: int = 0, unit: str = "") -> str:
    """Rounded half up for display (as the chart does); ``—`` when missing."""
    if value is None:
        return "—"
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(rounded, "f").replace("-", "\N{MINUS SIGN}")
    return f"{text} {unit}" if unit else text


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


# --------------------------------------------------------------------------- fields


class DecimalField(QWidget):
    """A number with its unit, checked against its plausible range as it is typed.

    The range message appears as soon as the value cannot come back into range by
    typing more digits (above the maximum, or below a negative minimum), and in
    any case when the field is left or the form is saved.
    """

    changed = Signal()

    def __init__(
        self,
        limits: Range | None,
        *,
        label: str | None = None,
        unit: str | None = None,
        whole: bool = False,
        required: bool = False,
        compact: bool = False,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.limits = limits
        self.label = label or (limits.label if limits else "Value")
        self.unit = unit if unit is not None else (limits.unit if limits else "")
        self.whole = whole
        self.required = required
        self.edit = QLineEdit()
        self.edit.setMaxLength(MAX_NUMBER_LENGTH)
        # Read by screen readers (the form's label is the wrapper's buddy, not the edit's).
        self.edit.setAccessibleName(f"{self.label} ({self.unit})" if self.unit else self.label)
        self.edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.edit.textEdited.connect(self._edited)
        self.edit.editingFinished.connect(self.check)
        metrics = self.edit.fontMetrics()
        if compact:
            self.edit.setFixedWidth(metrics.horizontalAdvance("0000.0") + 14)
        else:
            self.edit.setMaximumWidth(metrics.horizontalAdvance("00000.00") + 16)
            self.edit.setMinimumWidth(metrics.horizontalAdvance("0000.0") + 12)
        self.unit_label = QLabel(self.unit)
        self.unit_label.setStyleSheet(HINT_STYLE)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setObjectName("field_error")
        self.error_label.hide()
        if limits is not None:
            self.edit.setToolTip(limits.message.replace(" must be ", " may be "))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.edit)
        if self.unit and not compact:
            row.addWidget(self.unit_label)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(row)
        if not compact:
            layout.addWidget(self.error_label)
        self.setSizePolicy(
            QSizePolicy.Policy.Fixed if compact else QSizePolicy.Policy.Preferred,
            QSizePolicy.Policy.Fixed,
        )

    # -- values

    def text(self) -> str:
        return self.edit.text()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self._edited()

    def raw(self) -> Decimal | None:
        """The number typed, in range or not (None: empty or not a number)."""
        return parse_decimal(self.edit.text(), whole=self.whole)

    def value(self) -> Decimal | None:
        """The number typed when it is acceptable; None otherwise (or when empty)."""
        number = self.raw()
        if number is None or self.problem() is not None:
            return None
        return number

    def set_value(self, value: Decimal | int | None) -> None:
        self.set_text("" if value is None else _plain(Decimal(value)))

    def problem(self) -> str | None:
        """What is wrong with the contents, in words; None when acceptable."""
        text = self.edit.text().strip()
        if not text:
            return f"Enter the {self.label[0].lower() + self.label[1:]}." if self.required else None
        number = parse_decimal(text, whole=self.whole)
        if number is None:
            kind = "a whole number" if self.whole else "a number"
            return f"{self.label}: “{text}” is not {kind}."
        if self.limits is not None and not self.limits.contains(number):
            return self.limits.message + "."
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > limits.MAX_DECIMALS:
            return f"{self.label}: at most {limits.MAX_DECIMALS} decimal places."
        return None

    def _final_problem(self) -> bool:
        """True when typing more digits cannot bring the value back into range."""
        number = self.raw()
        if number is None or self.limits is None or self.limits.contains(number):
            return False
        if number >= 0:
            return number > self.limits.maximum
        return number < self.limits.minimum

    # -- showing problems

    def check(self) -> str | None:
        """Show (or clear) the problem; returns it."""
        problem = self.problem()
        self.show_problem(problem)
        return problem

    def show_problem(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text) and self.error_label.parent() is self)
        self.edit.setStyleSheet("border: 1px solid #b3261e;" if text else "")
        self.edit.setToolTip(
            text
            if text
            else (self.limits.message.replace(" must be ", " may be ") if self.limits else "")
        )

    def shown_problem(self) -> str:
        return self.error_label.text()

    def _edited(self, *_: Any) -> None:
        problem = self.problem()
        if problem is None:
            self.show_problem(None)
        elif self.shown_problem() or self._final_problem():
            self.show_problem(problem)
        self.changed.emit()

    def set_read_only(self, on: bool) -> None:
        self.edit.setReadOnly(on)


class DerivedRows(QWidget):
    """Read-only rows of derived values, each with an object name for tests and help."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.values: dict[str, QLabel] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for name, label in rows:
            value = QLabel("—")
            value.setObjectName(f"derived_{name}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.values[name] = value
            form.addRow(label + ":", value)

    def set(self, name: str, text: str | None) -> None:
        self.values[name].setText(text or "—")

    def text(self, name: str) -> str:
        return self.values[name].text()


# --------------------------------------------------------------------------- header


@dataclass(frozen=True)
class PatientContext:
    """The patient a form is about, as loaded for its study date."""

    details: PatientDetails
    #: The chart as of the study date it was loaded for (timeline for prerequisites,
    #: nearest assessment for body measures, nearest walk for the risk).
    chart: Chart
    #: Medications current on the study date.
    medications: tuple[ChartItem, ...]
    as_of: dt.date

    @property
    def patient_id(self) -> int:
        return self.details.id

    def age_on(self, day: dt.date) -> int:
        return age_on(self.details.birth_date, day)


def load_patient(
    ctx: AppContext, *, code: str | None = None, patient_id: int | None = None, as_of: dt.date
) -> Callable[[], PatientContext | None]:
    """A task: the patient by ID (or id) and the chart as of ``as_of``; None if unknown."""
    db = ctx.db

    def work() -> PatientContext | None:
        with db.session() as s:
            if patient_id is not None:
                details = patients.get(s, patient_id)
            else:
                assert code is not None
                found = patients.find_by_code(s, code)
                if found is None:
                    return None
                details = found
            loaded = chart_service.load_chart(s, details.id, as_of=as_of)
            return PatientContext(details, loaded, loaded.medications, as_of)

    return work


def describe_medications(items: Sequence[ChartItem], as_of: dt.date) -> str:
    if not items:
        return f"No medications current on {format_day(as_of)}."
    names = "; ".join(
        f"{i.data.name} {i.data.details}".strip() if i.data.details else i.data.name for i in items
    )
    return f"Medications on {format_day(as_of)}: {names}."


class StudyHeader(QWidget):
    """Study date, then patient ID: the start of every record (the clinic's workflow)."""

    #: A patient was found and loaded (carries :class:`PatientContext`).
    patient_loaded = Signal(object)
    #: The patient ID was unlocked or is not (yet) a known patient.
    patient_cleared = Signal()
    #: The study date changed (carries ``datetime.date``).
    study_date_changed = Signal(object)
    #: The ID typed is not known and the user asked to register the patient.
    new_patient_requested = Signal(str)

    def __init__(
        self,
        ctx: AppContext,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.ctx = ctx
        self._today = today
        self.patient: PatientContext | None = None
        self._fixed = False  # an existing record: its patient cannot change
        self._key = ("study_header", id(self))
        self._unknown_code: str | None = None

        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("study_date")
        self.date_edit.setCalendarPopup(True)
        style_date_edit(self.date_edit)
        self.date_edit.setDateRange(qdate(limits.DATE_MIN), to_qdate(today()))
        self.date_edit.setDate(to_qdate(today()))
        self.date_edit.setToolTip("The day of the study (not in the future)")
        self.date_edit.dateChanged.connect(self._date_changed)
        self.date_label = QLabel()
        self.date_label.setStyleSheet(HINT_STYLE)

        fmt = ctx.login.settings.patient_id_format
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("patient_code")
        self.code_edit.setPlaceholderText(fmt.pattern)
        self.code_edit.setToolTip(f"Patient ID, format {fmt.describe()}")
        self.code_edit.setMaximumWidth(
            self.code_edit.fontMetrics().horizontalAdvance(fmt.pattern + "MMMM") + 16
        )
        self.code_edit.textEdited.connect(self._code_edited)
        self.change_button = QPushButton("C&hange patient")
        self.change_button.setAutoDefault(False)
        self.change_button.setToolTip("Unlock the patient ID to enter another one")
        self.change_button.clicked.connect(self.unlock)
        self.change_button.hide()
        self.new_patient_button = QPushButton()
        self.new_patient_button.setAutoDefault(False)
        self.new_patient_button.clicked.connect(self._ask_new_patient)
        self.new_patient_button.hide()

        self.status_label = QLabel(f"Type the patient ID ({fmt.describe()}).")
        self.status_label.setObjectName("patient_status")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet(HINT_STYLE)
        self.patient_label = QLabel()
        self.patient_label.setObjectName("patient_summary")
        self.patient_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.patient_label.font()
        font.setBold(True)
        self.patient_label.setFont(font)
        self.patient_label.hide()
        self.medications_label = QLabel()
        self.medications_label.setObjectName("current_medications")
        self.medications_label.setWordWrap(True)
        self.medications_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.medications_label.hide()

        date_caption = QLabel("Study &date:")
        date_caption.setBuddy(self.date_edit)
        code_caption = QLabel("&Patient ID:")
        code_caption.setBuddy(self.code_edit)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.addWidget(date_caption, 0, 0)
        date_row = QHBoxLayout()
        date_row.setSpacing(10)
        date_row.addWidget(self.date_edit)
        date_row.addWidget(self.date_label)
        date_row.addStretch(1)
        grid.addLayout(date_row, 0, 1)
        grid.addWidget(code_caption, 1, 0)
        code_row = QHBoxLayout()
        code_row.setSpacing(10)
        code_row.addWidget(self.code_edit)
        code_row.addWidget(self.patient_label)
        code_row.addWidget(self.change_button)
        code_row.addStretch(1)
        grid.addLayout(code_row, 1, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.new_patient_button, 0, Qt.AlignmentFlag.AlignTop)
        grid.addLayout(status_row, 2, 1)
        grid.addWidget(self.medications_label, 3, 1)
        grid.setColumnStretch(1, 1)
        self._show_weekday()

    # ----------------------------------------------------------------- public

    def study_date(self) -> dt.date:
        return from_qdate(self.date_edit.date())

    def set_study_date(self, day: dt.date) -> None:
        if day > from_qdate(self.date_edit.maximumDate()):
            self.date_edit.setMaximumDate(to_qdate(day))
        self.date_edit.setDate(to_qdate(day))

    @property
    def locked(self) -> bool:
        return self.code_edit.isReadOnly()

    def set_patient_code(self, code: str) -> None:
        """Type an ID on the user's behalf (prefill from the chart or the patient form)."""
        self.code_edit.setText(code)
        self._code_edited(code)

    def fix_patient(self, context: PatientContext) -> None:
        """An existing record: show its patient, locked for good."""
        self._fixed = True
        self.code_edit.setText(context.details.patient_code)
        self._lock()
        self.change_button.hide()
        self._show_patient(context)

    def unlock(self) -> None:
        if self._fixed:
            return
        self.ctx.tasks.cancel(self._key)
        self.code_edit.setReadOnly(False)
        self.change_button.hide()
        self.patient = None
        self.patient_label.hide()
        self.medications_label.hide()
        self.code_edit.setFocus()
        self.code_edit.selectAll()
        self._status(
            f"Type the patient ID ({self.ctx.login.settings.patient_id_format.describe()})."
        )
        self.patient_cleared.emit()

    def reload(self) -> None:
        """Look the typed ID up again (after the patient was registered)."""
        self._code_edited(self.code_edit.text())

    def cancel(self) -> None:
        self.ctx.tasks.cancel(self._key)
        self.ctx.tasks.cancel(("meds", id(self)))

    # ----------------------------------------------------------------- internals

    def _status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else HINT_STYLE)
        self.status_label.setVisible(bool(text))

    def _show_weekday(self) -> None:
        day = self.study_date()
        self.date_label.setText(f"{day:%A}" + ("  (today)" if day == self._today() else ""))

    def _code_edited(self, text: str) -> None:
        if self.locked:
            return
        self.new_patient_button.hide()
        self._unknown_code = None
        fmt = self.ctx.login.settings.patient_id_format
        code = fmt.normalise(text)
        if fmt.is_valid(code):
            if code != text:
                self.code_edit.setText(code)
            self._lookup(code)
            return
        if self.patient is not None:
            self.patient = None
            self.patient_cleared.emit()
        if len(text.strip()) >= len(fmt.pattern):
            self._status(
                f"“{text.strip()}” is not a valid patient ID. Expected {fmt.describe()}.",
                error=True,
            )
        else:
            self._status(f"Type the patient ID ({fmt.describe()}).")

    def _lock(self) -> None:
        self.code_edit.setReadOnly(True)
        self.code_edit.setStyleSheet("QLineEdit { background: palette(window); }")

    def _lookup(self, code: str) -> None:
        self._lock()
        self.change_button.setVisible(not self._fixed)
        self._status(f"Looking up {code}…")
        self.ctx.tasks.run(
            load_patient(self.ctx, code=code, as_of=self.study_date()),
            on_success=while_alive(self, lambda found: self._found(code, found)),
            on_error=while_alive(self, self._failed),
            key=self._key,
        )

    def _found(self, code: str, found: PatientContext | None) -> None:
        if found is None:
            self.code_edit.setReadOnly(False)
            self.code_edit.setStyleSheet("")
            self.change_button.hide()
            self._unknown_code = code
            self._status(f"No patient has the ID {code}. New patient?", error=True)
            self.new_patient_button.setText(f"&New patient {code}…")
            self.new_patient_button.show()
            self.patient_cleared.emit()
            return
        self._show_patient(found)
        if found.as_of != self.study_date():
            self._reload_medications()  # the date moved while looking up

    def _show_patient(self, context: PatientContext) -> None:
        self.patient = context
        d = context.details
        sex = SEX_LABELS.get(d.sex, d.sex)
        self.patient_label.setText(
            f"{d.family_name}, {d.given_name}  ·  {sex}  ·  born {format_day(d.birth_date)}"
            f"  ·  {context.age_on(self.study_date())} years"
        )
        self.patient_label.show()
        self._status("")
        if d.status == "deceased":
            died = format_day(d.deceased_date) if d.deceased_date else "date unknown"
            self._status(f"This patient is recorded as deceased ({died}).", error=True)
        self.medications_label.setText(describe_medications(context.medications, context.as_of))
        self.medications_label.show()
        self.patient_loaded.emit(context)

    def _failed(self, exc: BaseException) -> None:
        if not self._fixed:
            self.code_edit.setReadOnly(False)
            self.code_edit.setStyleSheet("")
            self.change_button.hide()
        if self.ctx.connection.handle_error(exc):
            self._status(
                "The server cannot be reached; the patient is looked up once PHMS has "
                "reconnected. Retype the ID or press Change patient to try again.",
                error=True,
            )
            return
        error = classify(exc, address=self.ctx.db.address)
        if error.kind is ErrorKind.UNKNOWN:
            log.error("patient lookup failed: %s", error.detail, exc_info=exc)
        self._status(f"Could not load the patient. {error.title}: {error.message}", error=True)

    def _ask_new_patient(self) -> None:
        if self._unknown_code is not None:
            self.new_patient_requested.emit(self._unknown_code)

    def _date_changed(self, _: QDate) -> None:
        self._show_weekday()
        if self.patient is not None:
            d = self.patient.details
            self.patient_label.setText(
                self.patient_label.text().rsplit("  ·  ", 1)[0]
                + f"  ·  {age_on(d.birth_date, self.study_date())} years"
            )
            self._reload_medications()
        self.study_date_changed.emit(self.study_date())

    def _reload_medications(self) -> None:
        context = self.patient
        if context is None:
            return
        db, pid, day = self.ctx.db, context.patient_id, self.study_date()

        def work() -> list[ChartItem]:
            with db.session() as s:
                return chart_service.current_medications(s, pid, day)

        def done(items: list[ChartItem]) -> None:
            if self.patient is None or self.patient.patient_id != pid:
                return
            self.patient = PatientContext(
                self.patient.details, self.patient.chart, tuple(items), day
            )
            self.medications_label.setText(describe_medications(items, day))

        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, done),
            on_error=while_alive(self, self._meds_failed),
            key=("meds", id(self)),
        )

    def _meds_failed(self, exc: BaseException) -> None:
        if not self.ctx.connection.handle_error(exc):
            error = classify(exc, address=self.ctx.db.address)
            self.medications_label.setText(f"Could not load the medications: {error.message}")


# --------------------------------------------------------------------------- reasons


class ReasonRequired(QDialog):
    """A dialog whose OK needs a reason typed in ``reason_combo`` (spaces collapsed).
    Subclasses build ``reason_combo`` and ``ok_button`` and call ``_update`` on edits."""

    reason_combo: QComboBox
    ok_button: QPushButton

    @property
    def reason(self) -> str:
        return " ".join(self.reason_combo.currentText().split())

    def _update(self, *_: Any) -> None:
        self.ok_button.setEnabled(bool(self.reason))

    def accept(self) -> None:
        if self.reason:
            super().accept()


class ReasonDialog(ReasonRequired):
    """Ask for a reason (deleting as entered in error); OK only with a reason typed."""

    def __init__(
        self,
        title: str,
        text: str,
        *,
        ok_text: str,
        suggestions: Sequence[str] = (),
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle(f"PHMS — {title}")
        self.text_label = QLabel(text)
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reason_combo = QComboBox()
        self.reason_combo.setEditable(True)
        self.reason_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.reason_combo.addItems(list(suggestions))
        self.reason_combo.setCurrentText("")
        line = self.reason_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("reason (required)")
        line.textChanged.connect(self._update)
        self.reason_hint = limit_text(line, "assessment", "error_reason")
        caption = QLabel("&Reason:")
        caption.setBuddy(self.reason_combo)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text if "&" in ok_text else f"&{ok_text}")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(caption)
        row.addWidget(self.reason_combo, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_label)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._update()


# --------------------------------------------------------------------------- derived values

#: How derived values are shown everywhere (forms and chart): places, unit.
DERIVED_FORMATS: Final = {
    "bsa_m2": (2, "m²"),
    "cardiac_index_l_min_m2": (2, "L/min/m²"),
    "tpg_mmhg": (None, "mmHg"),
    "dpg_mmhg": (None, "mmHg"),
    "pvr_wu": (2, "WU"),
    "pvr_dyn_s_cm5": (0, "dyn·s·cm⁻⁵"),
    "walk_distance_m": (0, "m"),
    "walk_percent_predicted": (0, "% predicted"),
    "predicted_m": (0, "m"),
}
ROMAN: Final = {1: "I", 2: "II", 3: "III", 4: "IV"}


def format_derived(name: str, value: Decimal | float | None) -> str:
    """A derived value as forms and chart show it. Differences of typed values (TPG,
    DPG) are exact and shown as they are (``39`` or ``12.5``); others are rounded."""
    places, unit = DERIVED_FORMATS[name]
    if places is None and value is not None:
        exact = value if isinstance(value, Decimal) else Decimal(repr(value))
        places = max(0, -exact.normalize().as_tuple().exponent)  # type: ignore[operator]
    return show_number(value, places or 0, unit)


def nearest_walk(context: PatientContext, day: dt.date) -> Any:
    """The walk the risk at ``day`` uses (nearest within 14 days; the view's rule)."""
    walks = [e.record for e in context.chart.timeline if e.kind == "six_minute_walk"]
    return nearest(
        walks,
        day,
        WALK_WINDOW_DAYS,
        date_of=lambda w: w.data.study_date,
        id_of=lambda w: w.id,
    )


def describe_risk(
    who_fc: int | None,
    walk: Any,
    bnp: Decimal | None,
    nt_probnp: Decimal | None,
) -> tuple[str, str]:
    """(stratum text, how it was reached) for the live preview, COMPERA 2.0."""
    distance = walk.data.distance_m if walk is not None else None
    result = risk.assess(who_fc, distance, bnp, nt_probnp)
    parts = []
    if who_fc is not None:
        parts.append(f"WHO-FC {ROMAN[who_fc]} → {result.fc_grade}")
    if walk is not None:
        parts.append(
            f"6MWD {show_number(distance)} m ({format_day(walk.data.study_date)}) "
            f"→ {result.walk_grade}"
        )
    else:
        parts.append("no 6-minute walk within 14 days")
    if result.peptide is not None:
        parts.append(
            f"{result.peptide} {show_number(result.peptide_value)} pg/mL → {result.peptide_grade}"
        )
    how = " · ".join(parts)
    if result.stratum is None:
        return (
            f"not enough data ({result.n_variables} of WHO-FC, 6MWD, BNP/NT-proBNP; 2 needed)",
            how,
        )
    return f"{result.label} (stratum {result.stratum})", how
