"""What can be done with the day list's appointments: the actions of the selected one
(menu and buttons, enabled by its status and the server's clock), booking and
rescheduling in :class:`~phms_client.ui.clinic_day.appointment_dialog.AppointmentDialog`,
cancelling (asks first) and status changes.

A change refused because someone else changed the appointment first says who did, and
reloads. :class:`AppointmentActions` is mixed into
:class:`~phms_client.ui.clinic_day.day_list.DayListWidget`, which builds the buttons
and the table and provides the day, the clock and the loading.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt, SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QPushButton, QTableView

from phms_client.clinical.appointments import Status
from phms_client.db.errors import classify
from phms_client.services import appointments
from phms_client.services.appointments import AppointmentRow, StaleAppointment
from phms_client.ui.clinic_day.appointment_dialog import AppointmentDialog, PatientChoice
from phms_client.ui.clinic_day.day_list_model import DayListModel
from phms_client.ui.shared.context import AppContext

__all__ = ["AppointmentActions"]

log = logging.getLogger(__name__)


class AppointmentActions:
    """The day list's actions and changes (a mixin of a ``QWidget``)."""

    if TYPE_CHECKING:  # provided by the day list
        _ctx: AppContext
        _editable: bool
        available: bool
        may_enter_data: bool
        day: dt.date
        model: DayListModel
        table: QTableView
        dialog: AppointmentDialog | None
        message_box: QMessageBox | None
        new_button: QPushButton
        arrived_button: QPushButton
        completed_button: QPushButton
        reschedule_button: QPushButton
        cancel_button: QPushButton
        enter_button: QPushButton
        chart_requested: SignalInstance
        enter_data: SignalInstance

        def current(self) -> AppointmentRow | None: ...
        def now(self) -> dt.datetime: ...
        def reload(self, select: int | None = None) -> None: ...
        def set_day(self, day: dt.date) -> None: ...

    # ----------------------------------------------------------------- the actions

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

    # ----------------------------------------------------------------- changes

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
