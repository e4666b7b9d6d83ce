"""The appointment day list of the main window.

One day's appointments (:func:`phms_client.services.appointments.day_list`, one
query) with their status marks: *due*, *missed*, *arrived*, *completed* and
*cancelled* (PH_DOMAIN.md, Workflow; :mod:`phms_client.clinical.appointments`). The
marks are computed from the **server's** clock: the list remembers the server's time
at loading and adds the time elapsed since, so marks move every 30 seconds without
asking the server again and agree with the database's 30-minute rule even when this
workstation's clock is off.

Changes made anywhere (a booking at the front desk, a status set in a consulting
room) arrive as notifications and reload the day. A change refused because someone
else changed the appointment first says who did, and reloads. The list shows only
demographics and appointment fields, so clerks may use it; *Enter data* (clinicians
and admins) emits :attr:`DayListWidget.enter_data` with the patient's id.

Its Qt model is in :mod:`~phms_client.ui.clinic_day.day_list_model`, what can be done
with an appointment in :mod:`~phms_client.ui.clinic_day.day_list_actions`.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.appointments import Status
from phms_client.clinical.demographics import format_weekday
from phms_client.db.errors import register_constraint_messages
from phms_client.services import appointments
from phms_client.services.appointments import AppointmentRow, DayList
from phms_client.ui.clinic_day.appointment_dialog import AppointmentDialog, clinic_zone
from phms_client.ui.clinic_day.day_list_actions import AppointmentActions
from phms_client.ui.clinic_day.day_list_model import (
    COL_NOTE,
    COL_PATIENT,
    COL_STATUS,
    DayListModel,
    StatusDelegate,
)
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import appointment_date_range, day_display, style_date_edit
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["REFRESH_MS", "DayListWidget"]

#: How often the marks are recomputed from the (server) clock.
REFRESH_MS: Final = 30_000

register_constraint_messages(
    {
        "ck_appointment_cancelled_is_final": (
            "A cancelled appointment cannot be changed; book a new one."
        ),
        "ck_appointment_completed_is_final": (
            "This appointment was completed more than 30 minutes ago and can no longer be changed."
        ),
        "ck_appointment_duration_min_range": "The duration must be 5 to 480 minutes.",
        "ck_appointment_kind_present": "The kind of appointment is missing.",
        "fk_appointment_patient_id_patient": "The patient of this appointment does not exist.",
    }
)


class DayListWidget(AppointmentActions, QWidget):
    """Date navigation, the day's appointments, and what can be done with them."""

    enter_data = Signal(int)  # patient id
    chart_requested = Signal(int)  # patient id: double-click or Enter on a row
    day_changed = Signal(object)  # datetime.date
    loaded = Signal()  # after every (re)load of the day

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("day_list")
        self._ctx = ctx
        self._key = ("day-list", id(self))
        self._editable = ctx.connection.online
        self._server_now: dt.datetime | None = None
        self._received = 0.0
        self._pending_select: int | None = None
        self.available = ctx.login.group != "auditor"  # auditors have no appointment rights
        self.may_enter_data = ctx.login.group in ("clinician", "admin")
        self.dialog: AppointmentDialog | None = None
        self.message_box: QMessageBox | None = None
        self.day = dt.date.today()

        self.model = DayListModel(clinic_zone(), self)
        self._build()
        self._build_actions()

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_marks)
        ctx.live.changed.connect(self._live_change)
        ctx.connection.online_changed.connect(self.set_editable)
        if self.available:
            self.timer.start()
            self.reload()
        self._update_actions()

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.title_label = QLabel("Appointments")
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.prev_button = QToolButton()
        self.prev_button.setText("◀")
        self.prev_button.setToolTip("Previous day (Alt+Left)")
        self.prev_button.setShortcut("Alt+Left")
        self.prev_button.clicked.connect(lambda: self.step_day(-1))
        self.next_button = QToolButton()
        self.next_button.setText("▶")
        self.next_button.setToolTip("Next day (Alt+Right)")
        self.next_button.setShortcut("Alt+Right")
        self.next_button.clicked.connect(lambda: self.step_day(1))
        self.today_button = QPushButton("To&day")
        self.today_button.setToolTip("Back to today (Alt+Home)")
        self.today_button.setShortcut("Alt+Home")
        self.today_button.clicked.connect(lambda: self.set_day(self.today()))
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setAccessibleName("Day shown")
        style_date_edit(self.date_edit, day_display())
        self.date_edit.setDateRange(*appointment_date_range())
        self.date_edit.setDate(QDate(self.day.year, self.day.month, self.day.day))
        self.date_edit.dateChanged.connect(self._date_picked)
        self.new_button = QPushButton("New &appointment…")
        self.new_button.clicked.connect(lambda: self.book())
        top = QHBoxLayout()
        top.addWidget(self.title_label)
        top.addSpacing(12)
        top.addWidget(self.prev_button)
        top.addWidget(self.date_edit)
        top.addWidget(self.next_button)
        top.addWidget(self.today_button)
        top.addStretch(1)
        top.addWidget(self.new_button)

        self.table = QTableView()
        self.table.setObjectName("appointments")
        self.table.setAccessibleName("Appointments of the day shown")
        self.table.setModel(self.model)
        self.status_delegate = StatusDelegate(self.table)
        self.table.setItemDelegateForColumn(COL_STATUS, self.status_delegate)
        setup_list_view(self.table, row_padding=10, tab_key_navigation=False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_PATIENT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_NOTE, QHeaderView.ResizeMode.Stretch)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_actions())
        # Double-click or Enter opens the patient's chart, as a clinic expects;
        # rescheduling stays in the context menu and on its button.
        self.table.activated.connect(lambda *_: self.open_chart_action.trigger())

        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.table)

        self.arrived_button = QPushButton("A&rrived")
        self.completed_button = QPushButton("Co&mpleted")
        self.reschedule_button = QPushButton("Res&chedule…")
        self.cancel_button = QPushButton("Cance&l appointment…")
        self.enter_button = QPushButton("&Enter data")
        self.enter_button.setVisible(self.may_enter_data)
        self.status_label = QLabel()
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        bottom = QHBoxLayout()
        for button in (
            self.arrived_button,
            self.completed_button,
            self.reschedule_button,
            self.cancel_button,
            self.enter_button,
        ):
            bottom.addWidget(button)
        bottom.addStretch(1)
        bottom.addWidget(self.status_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addLayout(bottom)
        if not self.available:
            self.empty_label.setText("Appointments are not available to auditors.")
            for widget in (self.new_button, self.prev_button, self.next_button):
                widget.setEnabled(False)

    # ----------------------------------------------------------------- clock and day

    def today(self) -> dt.date:
        return self.now().astimezone(self.model.zone).date()

    def now(self) -> dt.datetime:
        """The server's clock: its time at the last load plus the time elapsed since."""
        if self._server_now is None:
            return dt.datetime.now(dt.UTC)
        return self._server_now + dt.timedelta(seconds=time.monotonic() - self._received)

    def refresh_marks(self) -> None:
        self.model.set_now(self.now())
        self._update_actions()

    def day_range(self) -> tuple[dt.date, dt.date]:
        """The days the list offers: those an appointment may have (up to five years ahead)."""
        low, high = appointment_date_range()
        return low.toPython(), high.toPython()  # type: ignore[return-value]

    def step_day(self, days: int) -> None:
        """``days`` forward (or back), staying within :meth:`day_range`."""
        low, high = self.day_range()
        ordinal = min(max(self.day.toordinal() + days, low.toordinal()), high.toordinal())
        self.set_day(dt.date.fromordinal(ordinal))

    def set_day(self, day: dt.date) -> None:
        low, high = self.day_range()
        day = min(max(day, low), high)
        if day == self.day and self._server_now is not None:
            return
        self.day = day
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(day.year, day.month, day.day))
        self.date_edit.blockSignals(False)
        self.day_changed.emit(day)
        self.reload()

    def _date_picked(self, date: QDate) -> None:
        self.set_day(dt.date(date.year(), date.month(), date.day()))

    # ----------------------------------------------------------------- loading

    def reload(self, select: int | None = None) -> None:
        if not self.available:
            return
        if select is not None:
            self._pending_select = select
        db, day, zone = self._ctx.db, self.day, self.model.zone

        def load() -> DayList:
            with db.session() as session:
                return appointments.day_list(session, day, zone)

        self.status_label.setText("Loading…")
        self._ctx.tasks.run(load, on_success=self._loaded, on_error=self._failed, key=self._key)

    def _loaded(self, listing: DayList) -> None:
        if listing.day != self.day:
            return  # an older day's answer
        current = self.current()
        keep = self._pending_select or (current.id if current is not None else None)
        self._pending_select = None
        self._server_now, self._received = listing.server_now, time.monotonic()
        self.model.set_rows(listing.rows, listing.server_now)
        if keep is not None:
            row = self.model.row_of(keep)
            if row is not None:
                self.table.selectRow(row)
        self._show_summary()
        self._update_actions()
        self.loaded.emit()

    def _show_summary(self) -> None:
        rows = self.model.rows()
        active = [r for r in rows if r.status is not Status.CANCELLED]
        if not rows:
            when = "today" if self.day == self.today() else "on " + format_weekday(self.day)
            self.empty_label.setText(f"No appointments {when}.")
            self.stack.setCurrentIndex(0)
        else:
            self.stack.setCurrentIndex(1)
        cancelled = len(rows) - len(active)
        text = f"{len(active)} appointment{'s' if len(active) != 1 else ''}"
        if cancelled:
            text += f", {cancelled} cancelled"
        self.status_label.setText(text)

    def _failed(self, exc: BaseException) -> None:
        self.status_label.setText("Not loaded")
        self._present(exc)

    def _live_change(self, payload: dict[str, Any]) -> None:
        if payload.get("table") in ("appointment", "patient") and self.available:
            self.reload()

    # ----------------------------------------------------------------- state

    def current(self) -> AppointmentRow | None:
        index = self.table.currentIndex()
        return self.model.appointment(index.row()) if index.isValid() else None

    def select(self, appointment_id: int) -> bool:
        row = self.model.row_of(appointment_id)
        if row is None:
            return False
        self.table.selectRow(row)
        return True

    def set_editable(self, editable: bool) -> None:
        """Offline (or otherwise not allowed): no changes; the list stays visible."""
        self._editable = editable
        self._update_actions()

    def hide_patient_data(self, hidden: bool) -> None:
        """For the idle lock: the list names patients."""
        self.stack.setVisible(not hidden)

    def apply_settings(self, _settings: object) -> None:
        """Site settings changed (appointment kinds are read when a dialog opens)."""
        self._update_actions()

    def closeEvent(self, event: Any) -> None:
        self.timer.stop()
        self._ctx.tasks.cancel(self._key)
        super().closeEvent(event)
