"""The start of every record: the study date, then the patient ID (:class:`StudyHeader`).

The **workflow** (PH_DOMAIN.md): every record starts with the study date (today by
default), then the patient ID. As soon as a complete, valid ID (site format) is
typed, :class:`StudyHeader` locks it and loads, through the task runner, the
patient's demographics and chart as of the study date (the medications current
on that date are shown). An unknown ID offers “New patient?”.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from phms_client.clinical.demographics import SEX_LABELS, age_on, format_day
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart as chart_service
from phms_client.services import patients
from phms_client.services.chart import Chart, ChartItem
from phms_client.services.input_rules import limits
from phms_client.services.patients import PatientDetails
from phms_client.ui.chart.record_forms.common import ERROR_STYLE, HINT_STYLE, from_qdate, to_qdate
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import qdate, style_date_edit
from phms_client.ui.shared.guard import while_alive

__all__ = ["PatientContext", "StudyHeader", "describe_medications", "load_patient"]

log = logging.getLogger(__name__)


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
