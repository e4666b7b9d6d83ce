"""Book an appointment, or reschedule / change one from the day list.

Booking: find the patient by name, patient ID or date of birth (the same search as the
main window, :func:`phms_client.services.patients.search`), then date, time, kind (the
site's ``appointment_kinds``), duration and a note. Rescheduling keeps the patient and
saves over the version that was loaded; if someone changed the appointment meanwhile
(:class:`~phms_client.services.appointments.StaleAppointment`) the dialog says who and
what it is now, keeps the values typed, and a second *Save* puts them over theirs.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import zoneinfo
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QDate, Qt, QTime, QTimer, QTimeZone, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import format_day
from phms_client.db.errors import classify
from phms_client.services import appointments, patients
from phms_client.services.appointments import AppointmentInput, AppointmentRow, StaleAppointment
from phms_client.services.patients import PatientSummary
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import appointment_date_range, day_display, style_date_edit
from phms_client.ui.shared.notices import add_connection_notice
from phms_client.ui.shared.text_limits import limit_text

__all__ = ["AppointmentDialog", "PatientChoice", "clinic_zone"]

log = logging.getLogger(__name__)

SEARCH_DELAY_MS: Final = 250
SEARCH_LIMIT: Final = 8
DEFAULT_DURATION: Final = 30


@dataclass(frozen=True)
class PatientChoice:
    id: int
    code: str
    name: str

    @classmethod
    def of(cls, summary: PatientSummary) -> PatientChoice:
        return cls(summary.id, summary.patient_code, summary.display_name)


def clinic_zone() -> dt.tzinfo:
    """The time zone days are counted in: this workstation's (the clinic's)."""
    try:
        return zoneinfo.ZoneInfo(QTimeZone.systemTimeZoneId().data().decode())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        local = dt.datetime.now().astimezone().tzinfo
        return local if local is not None else dt.UTC


class AppointmentDialog(QDialog):
    """Emits ``saved(AppointmentRow)`` and closes."""

    saved = Signal(object)

    def __init__(
        self,
        ctx: AppContext,
        *,
        row: AppointmentRow | None = None,
        patient: PatientChoice | None = None,
        day: dt.date | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.row = row
        self.zone = clinic_zone()
        self._search_key = ("appointment-patient-search", id(self))
        self._save_key = ("appointment-save", id(self))
        self._saving = False
        if row is not None:
            patient = PatientChoice(row.patient_id, row.patient_code, row.patient_name)
        self.patient: PatientChoice | None = patient
        self.setWindowTitle("PHMS — Reschedule appointment" if row else "PHMS — New appointment")

        # --- patient
        self.patient_label = QLabel()
        self.patient_label.setTextFormat(Qt.TextFormat.RichText)
        self.search_edit = QLineEdit()
        self.search_edit.setMaxLength(patients.MAX_SEARCH)  # the search reads no more
        self.search_edit.setPlaceholderText("Name, patient ID or date of birth")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Find the patient")
        self.search_edit.textChanged.connect(self._search_typed)
        self.results = QListWidget()
        self.results.setMaximumHeight(self.results.sizeHintForRow(0) * 6 + 40)
        self.results.itemActivated.connect(self._result_chosen)
        self.results.itemClicked.connect(self._result_chosen)
        self.results.setAccessibleName("Patients found")
        self.results.setVisible(False)
        self.search_status = QLabel()
        self.search_status.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.search_status.setVisible(False)
        patient_box = QWidget()
        patient_layout = QVBoxLayout(patient_box)
        patient_layout.setContentsMargins(0, 0, 0, 0)
        patient_layout.setSpacing(4)
        patient_layout.addWidget(self.patient_label)
        patient_layout.addWidget(self.search_edit)
        patient_layout.addWidget(self.results)
        patient_layout.addWidget(self.search_status)
        self.search_edit.setVisible(row is None)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.search_now)

        # --- when, what
        start = (
            row.starts_at.astimezone(self.zone)
            if row is not None
            else self._default_start(day or dt.date.today())
        )
        self.date_edit = QDateEdit(QDate(start.year, start.month, start.day))
        self.date_edit.setCalendarPopup(True)
        style_date_edit(self.date_edit, day_display())
        self.date_edit.setDateRange(*appointment_date_range())
        self.date_edit.setAccessibleName("Date")
        self.time_edit = QTimeEdit(QTime(start.hour, start.minute))
        self.time_edit.setDisplayFormat("HH:mm")
        self.time_edit.setAccessibleName("Time")
        when = QHBoxLayout()
        when.addWidget(self.date_edit, 1)
        when.addWidget(QLabel("at"))
        when.addWidget(self.time_edit)
        self.kind_combo = QComboBox()
        kinds = [str(k) for k in ctx.login.settings.get("appointment_kinds", []) or []]
        if row is not None and row.kind not in kinds:
            kinds.append(row.kind)  # booked when the list still had it
        self.kind_combo.addItems(kinds)
        if row is not None:
            self.kind_combo.setCurrentText(row.kind)
        self.duration_spin = QSpinBox()
        self.duration_spin.setRange(5, 480)
        self.duration_spin.setSingleStep(5)
        self.duration_spin.setSuffix(" min")
        self.duration_spin.setValue(row.duration_min if row is not None else DEFAULT_DURATION)
        self.note_edit = QPlainTextEdit(row.note or "" if row is not None else "")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 3 + 16)
        self.note_hint = limit_text(self.note_edit, "appointment", "note")

        form = QFormLayout()
        form.addRow(self._caption("&Patient:", self.search_edit), patient_box)
        form.addRow(self._caption("Dat&e:", self.date_edit), when)
        form.addRow(self._caption("&Kind:", self.kind_combo), self.kind_combo)
        form.addRow(self._caption("D&uration:", self.duration_spin), self.duration_spin)
        form.addRow(self._caption("N&ote:", self.note_edit), self.note_edit)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("&Save" if row is not None else "&Book")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.connection_notice = add_connection_notice(ctx, self)
        self.setMinimumWidth(480)
        self._show_patient()
        if self.patient is None:
            self.search_edit.setFocus()
        else:
            self.time_edit.setFocus()

    @staticmethod
    def _caption(text: str, buddy: QWidget) -> QLabel:
        """A row's label: Alt+its letter goes to ``buddy``, which a screen reader names
        by it."""
        label = QLabel(text)
        label.setBuddy(buddy)
        if not buddy.accessibleName():
            buddy.setAccessibleName(text.replace("&", "").rstrip(":"))
        return label

    def _default_start(self, day: dt.date) -> dt.datetime:
        """The next quarter hour today, 09:00 on another day."""
        now = dt.datetime.now(self.zone)
        if day == now.date():
            minutes = (now.hour * 60 + now.minute + 14) // 15 * 15
            minutes = min(minutes, 23 * 60 + 45)
            return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), self.zone)
        return dt.datetime.combine(day, dt.time(9, 0), self.zone)

    # ----------------------------------------------------------------- patient

    def _show_patient(self) -> None:
        if self.patient is None:
            self.patient_label.setText("<i>Find the patient:</i>")
        else:
            self.patient_label.setText(
                f"<b>{html.escape(self.patient.name)}</b> &nbsp;·&nbsp; "
                f"{html.escape(self.patient.code)}"
            )

    def _search_typed(self, _text: str) -> None:
        self._search_timer.start()

    def search_now(self) -> None:
        self._search_timer.stop()
        text = self.search_edit.text().strip()
        if not text:
            self._ctx.tasks.cancel(self._search_key)
            self.results.clear()
            self.results.setVisible(False)
            self.search_status.setVisible(False)
            return
        db = self._ctx.db

        def find() -> list[PatientSummary]:
            with db.session() as session:
                return patients.search(session, text, limit=SEARCH_LIMIT)

        self._ctx.tasks.run(
            find, on_success=self._found, on_error=self._search_failed, key=self._search_key
        )

    def _found(self, found: list[PatientSummary]) -> None:
        self.results.clear()
        for summary in found:
            born = format_day(summary.birth_date)
            item = QListWidgetItem(f"{summary.display_name}   {summary.patient_code}   born {born}")
            item.setData(Qt.ItemDataRole.UserRole, PatientChoice.of(summary))
            self.results.addItem(item)
        self.results.setVisible(bool(found))
        self.search_status.setText("" if found else "No patient found.")
        self.search_status.setVisible(not found)
        if len(found) == 1:
            self.results.setCurrentRow(0)

    def _search_failed(self, exc: BaseException) -> None:
        if self._ctx.connection.handle_error(exc):
            return
        self.search_status.setText(classify(exc).title)
        self.search_status.setVisible(True)

    def _result_chosen(self, item: QListWidgetItem) -> None:
        self.choose(item.data(Qt.ItemDataRole.UserRole))

    def choose(self, patient: PatientChoice) -> None:
        self.patient = patient
        self._show_patient()
        self.message_label.setVisible(False)
        self.time_edit.setFocus()

    # ----------------------------------------------------------------- saving

    def starts_at(self) -> dt.datetime:
        d, t = self.date_edit.date(), self.time_edit.time()
        return dt.datetime.combine(
            dt.date(d.year(), d.month(), d.day()), dt.time(t.hour(), t.minute()), self.zone
        )

    def entry(self) -> AppointmentInput | None:
        """What is on screen, or None (with a message) when something is missing."""
        if self.patient is None:
            current = self.results.currentItem()
            if current is not None and self.results.isVisible():
                self.choose(current.data(Qt.ItemDataRole.UserRole))
        if self.patient is None:
            self.show_message("Please choose the patient first.")
            self.search_edit.setFocus()
            return None
        kind = self.kind_combo.currentText().strip()
        if not kind:
            self.show_message(
                "Please choose the kind of appointment (an admin sets the kinds in Preferences)."
            )
            return None
        return AppointmentInput(
            patient_id=self.patient.id,
            starts_at=self.starts_at(),
            kind=kind,
            duration_min=self.duration_spin.value(),
            note=self.note_edit.toPlainText().strip() or None,
        )

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    def save(self) -> None:
        if self._saving:
            return
        data = self.entry()
        if data is None:
            return
        db, row = self._ctx.db, self.row

        def write() -> AppointmentRow:
            with db.session() as session:
                if row is None:
                    return appointments.book(session, data)
                return appointments.edit(session, row.id, row.version, data)

        self._saving = True
        self.save_button.setEnabled(False)
        self._ctx.tasks.run(
            write, on_success=self._saved, on_error=self._failed, key=self._save_key
        )

    def _saved(self, row: AppointmentRow) -> None:
        self._saving = False
        log.info("appointment %d saved", row.id)
        self.saved.emit(row)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        if isinstance(exc, StaleAppointment):
            theirs = exc.theirs
            self.row = theirs  # a second Save goes over their version
            start = theirs.starts_at.astimezone(self.zone)
            self.show_message(
                f"{theirs.updated_by} changed this appointment meanwhile: it is now "
                f"{format_day(start.date())} {start:%H:%M}, {theirs.kind}, "
                f"{theirs.duration_min} min, "
                f"{theirs.status}. Your values are still here: Save puts them over theirs, "
                "Cancel keeps theirs."
            )
            return
        if self._ctx.connection.handle_error(exc):
            self.show_message(
                "The connection to the server was lost; nothing was saved. Save again when "
                "it is back."
            )
            return
        error = classify(exc, address=self._ctx.config.display_address())
        self.show_message(f"{error.title}: {error.message}")

    def done(self, result: int) -> None:
        if self._saving and result != QDialog.DialogCode.Accepted:
            return
        self._search_timer.stop()
        self._ctx.tasks.cancel(self._search_key)
        super().done(result)
