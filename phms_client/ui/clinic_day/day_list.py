"""The appointment day list of the main window, and its Qt model.

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
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.appointments import Mark, Status
from phms_client.clinical.demographics import format_weekday
from phms_client.db.errors import classify, register_constraint_messages
from phms_client.services import appointments
from phms_client.services.appointments import AppointmentRow, DayList, StaleAppointment
from phms_client.ui.clinic_day.appointment_dialog import (
    AppointmentDialog,
    PatientChoice,
    clinic_zone,
)
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import appointment_date_range, day_display, style_date_edit
from phms_client.ui.shared.table_view import setup_list_view

__all__ = [
    "MARK_STYLE",
    "REFRESH_MS",
    "DayListModel",
    "DayListWidget",
    "clinic_zone",
]

log = logging.getLogger(__name__)

#: How often the marks are recomputed from the (server) clock.
REFRESH_MS: Final = 30_000

AnyIndex = QModelIndex | QPersistentModelIndex
ROW_ROLE: Final = Qt.ItemDataRole.UserRole + 1
MARK_ROLE: Final = Qt.ItemDataRole.UserRole + 2

COL_TIME, COL_PATIENT, COL_CODE, COL_KIND, COL_DURATION, COL_STATUS, COL_NOTE = range(7)
HEADERS: Final = ("Time", "Patient", "Patient ID", "Kind", "Duration", "Status", "Note")

#: Mark → (text, background, text colour). Light backgrounds, dark text: readable
#: in light and dark desktop themes alike.
MARK_STYLE: Final[dict[Mark, tuple[str, str, str]]] = {
    Mark.UPCOMING: ("upcoming", "#eef1f4", "#37474f"),
    Mark.DUE: ("due", "#ffe8a3", "#5d4200"),
    Mark.ARRIVED: ("arrived", "#cfe3ff", "#0d3c78"),
    Mark.MISSED: ("missed", "#f9c9c9", "#7f1010"),
    Mark.COMPLETED: ("completed", "#c8ebce", "#14532d"),
    Mark.DONE: ("done", "#e8f3ea", "#4b6b52"),
    Mark.CANCELLED: ("cancelled", "#e3e3e3", "#555555"),
    Mark.CANCELLED_EARLIER: ("cancelled", "#efefef", "#7a7a7a"),
}
_GREYED: Final = frozenset({Mark.DONE, Mark.CANCELLED, Mark.CANCELLED_EARLIER})

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


# --------------------------------------------------------------------------- status cell


class StatusDelegate(QStyledItemDelegate):
    """The status cell keeps its colour on the selected row.

    The row highlight is drawn as usual, then the status colour as a rounded badge
    inset by :attr:`INSET` pixels, so the row reads as selected and the status
    (missed, due, arrived …) stays visible at a glance.
    """

    INSET: Final = 3

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        if not option.state & QStyle.StateFlag.State_Selected:
            super().paint(painter, option, index)
            return
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        if not isinstance(background, QColor):
            super().paint(painter, option, index)
            return
        # The highlight alone (no text), then the badge, then the text in status colours.
        plain = QStyleOptionViewItem(option)
        self.initStyleOption(plain, index)
        plain.text = ""
        style = plain.widget.style() if plain.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, plain, painter, plain.widget)
        rect = option.rect.adjusted(self.INSET, self.INSET, -self.INSET, -self.INSET)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(rect, 3, 3)
        painter.setPen(foreground if isinstance(foreground, QColor) else QColor("#000000"))
        font = index.data(Qt.ItemDataRole.FontRole)
        if isinstance(font, QFont):
            painter.setFont(font)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), str(index.data() or ""))
        painter.restore()


# --------------------------------------------------------------------------- model


class DayListModel(QAbstractTableModel):
    """One day's appointments as handed to it, marked at ``now``; it never queries."""

    def __init__(self, zone: dt.tzinfo | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.zone = zone or clinic_zone()
        self._rows: list[AppointmentRow] = []
        self._now = dt.datetime.now(dt.UTC)
        self._strike = QFont()
        self._strike.setStrikeOut(True)

    # ------------------------------------------------------------- data in

    def set_rows(
        self, rows: tuple[AppointmentRow, ...] | list[AppointmentRow], now: dt.datetime
    ) -> None:
        self.beginResetModel()
        self._rows = sorted(rows, key=lambda r: (r.starts_at, r.id))
        self._now = now
        self.endResetModel()

    def set_now(self, now: dt.datetime) -> None:
        """Move the clock: marks (and colours) are recomputed, nothing is queried."""
        self._now = now
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(HEADERS) - 1)
            )

    @property
    def now(self) -> dt.datetime:
        return self._now

    def appointment(self, row: int) -> AppointmentRow:
        return self._rows[row]

    def rows(self) -> list[AppointmentRow]:
        return list(self._rows)

    def row_of(self, appointment_id: int) -> int | None:
        for n, row in enumerate(self._rows):
            if row.id == appointment_id:
                return n
        return None

    def mark(self, row: int) -> Mark:
        return self._rows[row].mark(self._now)

    # ------------------------------------------------------------- Qt

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == ROW_ROLE:
            return row
        mark = row.mark(self._now)
        if role == MARK_ROLE:
            return mark
        _text, background, foreground = MARK_STYLE[mark]
        if role == Qt.ItemDataRole.BackgroundRole and column == COL_STATUS:
            return QColor(background)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_STATUS:
                return QColor(foreground)
            if mark in _GREYED:
                return QColor("#8a8a8a")
            return None
        if role == Qt.ItemDataRole.FontRole and row.status is Status.CANCELLED:
            return self._strike
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_DURATION, COL_STATUS):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, mark)
        return None

    def _display(self, row: AppointmentRow, column: int) -> str | None:
        if column == COL_TIME:
            start = row.starts_at.astimezone(self.zone)
            end = start + dt.timedelta(minutes=row.duration_min)
            return f"{start:%H:%M}–{end:%H:%M}"
        if column == COL_PATIENT:
            return row.patient_name
        if column == COL_CODE:
            return row.patient_code
        if column == COL_KIND:
            return row.kind
        if column == COL_DURATION:
            return f"{row.duration_min} min"
        if column == COL_STATUS:
            return MARK_STYLE[row.mark(self._now)][0]
        if column == COL_NOTE:
            return (row.note or "").replace("\n", " ")
        return None

    def _tooltip(self, row: AppointmentRow, mark: Mark) -> str:
        parts = [f"{row.patient_name} ({row.patient_code}) — {row.kind}", f"Status: {row.status}"]
        if row.status_changed_at is not None and row.status is not Status.BOOKED:
            when = row.status_changed_at.astimezone(self.zone)
            parts.append(f"{str(row.status).capitalize()} at {when:%H:%M} ({row.updated_by})")
        if not row.editable(self._now):
            parts.append("No longer editable.")
        if row.note:
            parts.append(f"Note: {row.note}")
        return "\n".join(parts)


# --------------------------------------------------------------------------- widget


class DayListWidget(QWidget):
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

    def _build_actions(self) -> None:
        self.open_chart_action = QAction("Open &chart", self)
        self.open_chart_action.triggered.connect(self.request_chart)
        self.reschedule_action = QAction("&Reschedule…", self)
        self.reschedule_action.triggered.connect(lambda: self.reschedule())
        self.book_for_patient_action = QAction("&New appointment for this patient…", self)
        self.book_for_patient_action.triggered.connect(lambda: self.book_for_current())
        self.cancel_action = QAction("&Cancel appointment…", self)
        self.cancel_action.triggered.connect(lambda: self.cancel())
        self.arrived_action = QAction("Mark &arrived", self)
        self.arrived_action.triggered.connect(lambda: self.set_status(Status.ARRIVED))
        self.completed_action = QAction("Mark co&mpleted", self)
        self.completed_action.triggered.connect(lambda: self.set_status(Status.COMPLETED))
        self.enter_data_action = QAction("&Enter data", self)
        self.enter_data_action.triggered.connect(self.request_enter_data)
        self.enter_data_action.setVisible(self.may_enter_data)
        self.arrived_button.clicked.connect(self.arrived_action.trigger)
        self.completed_button.clicked.connect(self.completed_action.trigger)
        self.reschedule_button.clicked.connect(self.reschedule_action.trigger)
        self.cancel_button.clicked.connect(self.cancel_action.trigger)
        self.enter_button.clicked.connect(self.enter_data_action.trigger)

    def context_menu(self) -> QMenu:
        """The menu of the selected appointment (as PHMS had it)."""
        menu = QMenu(self)
        menu.addAction(self.open_chart_action)
        menu.addSeparator()
        menu.addAction(self.reschedule_action)
        menu.addAction(self.book_for_patient_action)
        menu.addAction(self.cancel_action)
        menu.addSeparator()
        menu.addAction(self.arrived_action)
        menu.addAction(self.completed_action)
        if self.may_enter_data:
            menu.addSeparator()
            menu.addAction(self.enter_data_action)
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))

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

    def _present(self, exc: BaseException) -> None:
        """A lost connection goes to the banner; anything else gets a message."""
        if self._ctx.connection.handle_error(exc):
            return
        error = classify(exc, address=self._ctx.config.display_address())
        log.warning("day list: %s", error.detail)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            f"PHMS — {error.title}",
            error.title,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setInformativeText(error.message)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: setattr(self, "message_box", None))
        self.message_box = box
        box.open()

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

    def _update_actions(self) -> None:
        row = self.current()
        usable = self._editable and self.available
        editable = usable and row is not None and row.editable(self.now())
        active = row is not None and row.status in (Status.BOOKED, Status.ARRIVED)
        self.new_button.setEnabled(usable)
        self.reschedule_action.setEnabled(editable)
        self.book_for_patient_action.setEnabled(usable and row is not None)
        self.cancel_action.setEnabled(editable and active)
        self.arrived_action.setEnabled(editable and row is not None and row.status is Status.BOOKED)
        self.completed_action.setEnabled(editable and active)
        self.enter_data_action.setEnabled(self.may_enter_data and row is not None)
        for button, action in (
            (self.arrived_button, self.arrived_action),
            (self.completed_button, self.completed_action),
            (self.reschedule_button, self.reschedule_action),
            (self.cancel_button, self.cancel_action),
            (self.enter_button, self.enter_data_action),
        ):
            button.setEnabled(action.isEnabled())

    # ----------------------------------------------------------------- actions

    def book(self, patient: PatientChoice | None = None) -> AppointmentDialog | None:
        if not (self._editable and self.available):
            return None
        dialog = AppointmentDialog(self._ctx, patient=patient, day=self.day, parent=self)
        return self._open(dialog)

    def book_for_current(self) -> AppointmentDialog | None:
        row = self.current()
        if row is None:
            return None
        return self.book(PatientChoice(row.patient_id, row.patient_code, row.patient_name))

    def reschedule(self) -> AppointmentDialog | None:
        row = self.current()
        if row is None or not self.reschedule_action.isEnabled():
            return None
        return self._open(AppointmentDialog(self._ctx, row=row, parent=self))

    def _open(self, dialog: AppointmentDialog) -> AppointmentDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._saved)
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _saved(self, row: AppointmentRow) -> None:
        local = row.starts_at.astimezone(self.model.zone)
        if local.date() != self.day:
            self.set_day(local.date())
        self.reload(select=row.id)

    def cancel(self) -> QMessageBox | None:
        row = self.current()
        if row is None or not self.cancel_action.isEnabled():
            return None
        start = row.starts_at.astimezone(self.model.zone)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "PHMS — Cancel appointment",
            f"Cancel the appointment of {row.patient_name} at {start:%H:%M} ({row.kind})?",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setInformativeText("A cancelled appointment cannot be changed afterwards.")
        yes = box.addButton("Cancel appointment", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)

        def answered(_result: int) -> None:
            self.message_box = None
            if box.clickedButton() is yes:
                self.change_status(row, Status.CANCELLED)
            box.deleteLater()

        box.finished.connect(answered)
        self.message_box = box
        box.open()
        return box

    def set_status(self, status: Status) -> None:
        row = self.current()
        if row is None:
            return
        self.change_status(row, status)

    def change_status(self, row: AppointmentRow, status: Status) -> None:
        """Set ``row``'s status over the version shown (stale → who changed it)."""
        db = self._ctx.db

        def change() -> AppointmentRow:
            with db.session() as session:
                return appointments.set_status(session, row.id, row.version, status)

        self._ctx.tasks.run(
            change,
            on_success=lambda new: self.reload(select=new.id),
            on_error=self._change_failed,
        )

    def _change_failed(self, exc: BaseException) -> None:
        if isinstance(exc, StaleAppointment):
            self.show_stale(exc.theirs)
            return
        self.reload()
        self._present(exc)

    def show_stale(self, theirs: AppointmentRow) -> QMessageBox:
        """Someone changed the appointment first: say who, and show the list as it is."""
        self.reload(select=theirs.id)
        start = theirs.starts_at.astimezone(self.model.zone)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "PHMS — Changed by someone else",
            f"{theirs.updated_by} changed this appointment first.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setInformativeText(
            f"It is now: {start:%H:%M}, {theirs.kind}, {theirs.status}.\n\n"
            "Your change was not made. The list shows the appointment as it is now; "
            "please check it and try again if still needed."
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: setattr(self, "message_box", None))
        self.message_box = box
        box.open()
        return box

    def request_chart(self) -> None:
        row = self.current()
        if row is not None and self.available:
            self.chart_requested.emit(row.patient_id)

    def request_enter_data(self) -> None:
        row = self.current()
        if row is not None and self.may_enter_data:
            self.enter_data.emit(row.patient_id)

    def apply_settings(self, _settings: object) -> None:
        """Site settings changed (appointment kinds are read when a dialog opens)."""
        self._update_actions()

    def closeEvent(self, event: Any) -> None:
        self.timer.stop()
        self._ctx.tasks.cancel(self._key)
        super().closeEvent(event)
