"""Medications, allergies and secondary diseases: Add, Stop, Del, and their history.

- **Add**: a new entry, started on the study date (changeable).
- **Stop**: ended as of the study date, with a reason (“stopped”, “cured” …);
  kept in the history, which shows both periods when it is added again later.
- **Del**: entered in error, with a reason: hidden from the chart, kept in the
  audit trail. Asks first.

What is current is decided by the chart service for the panel's study date
(started on or before it, not stopped on or before it). A stale Stop (someone
changed the entry meanwhile) opens the compare dialog; nothing is overwritten
silently.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from phms_client.clinical.demographics import format_day
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart as chart_service
from phms_client.services import clinical_rules
from phms_client.services.chart import (
    Chart,
    ChartItem,
    EntryNotFound,
    ItemInput,
    ItemKind,
    StaleEntry,
)
from phms_client.ui.chart.record_forms.chart_items_dialogs import (
    ItemDialog,
    StopDialog,
    delete_dialog,
    stop_conflict_dialog,
)
from phms_client.ui.chart.record_forms.chart_items_lists import ItemLists, item_status
from phms_client.ui.chart.record_forms.common import (
    HINT_STYLE,
    banner,
    can_edit_clinical,
    from_qdate,
    to_qdate,
)
from phms_client.ui.chart.record_forms.reason_dialog import ReasonDialog
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import style_date_edit
from phms_client.ui.shared.guard import OwnedTasks
from phms_client.ui.shared.record_conflict import Choice

__all__ = ["ChartItemsPanel"]

log = logging.getLogger(__name__)


class ChartItemsPanel(QWidget):
    """The three lists with Add / Stop / Del and a history view.

    Standalone (``autoload=True``) it loads the chart itself and reloads after each
    change; embedded in the chart window, the window hands it the chart it loaded
    (:meth:`set_chart`) and reloads when :attr:`changed` is emitted.
    """

    #: An entry was added, stopped or deleted (carries the item kind).
    changed = Signal(str)
    #: The chart was (re)loaded by the panel itself; carries :class:`Chart`.
    loaded = Signal(object)
    #: The study date changed (carries ``datetime.date``): the owner reloads as of it.
    as_of_changed = Signal(object)

    def __init__(
        self,
        ctx: AppContext,
        patient_id: int,
        *,
        as_of: dt.date | None = None,
        autoload: bool = True,
        today: Callable[[], dt.date] = dt.date.today,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.chart: Chart | None = None
        self.dialog: QDialog | None = None
        self._today = today
        self._as_of = as_of or today()
        self._autoload = autoload
        self._online = ctx.connection.online
        self._may_edit = can_edit_clinical(ctx)
        self._busy = False
        self.tasks = OwnedTasks(self, ctx)
        self._build()
        self.set_editable(self._online)
        if autoload:
            self.reload()

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("items_as_of")
        self.date_edit.setCalendarPopup(True)
        style_date_edit(self.date_edit)
        self.date_edit.setMaximumDate(to_qdate(max(self._today(), self._as_of)))
        self.date_edit.setDate(to_qdate(self._as_of))
        self.date_edit.setToolTip(
            "Study date: the lists show what was current on this day; Add starts and "
            "Stop ends entries as of this day."
        )
        self.date_edit.dateChanged.connect(self._date_changed)
        date_caption = QLabel("As of st&udy date:")
        date_caption.setBuddy(self.date_edit)
        self.history_box = QCheckBox("Show &history (stopped and later entries)")
        self.history_box.toggled.connect(lambda _: self._show())
        top = QHBoxLayout()
        top.addWidget(date_caption)
        top.addWidget(self.date_edit)
        top.addStretch(1)
        top.addWidget(self.history_box)

        self.tabs = ItemLists()
        self.tabs.selection_changed.connect(self._update_buttons)

        self.add_button = QPushButton("A&dd…")
        self.add_button.clicked.connect(self.ask_add)
        self.stop_button = QPushButton("St&op…")
        self.stop_button.clicked.connect(self.ask_stop)
        self.delete_button = QPushButton("De&l…")
        self.delete_button.setToolTip(
            "Delete as entered in error (hidden from the chart, kept in the audit trail)"
        )
        self.delete_button.clicked.connect(self.ask_delete)
        for button in (self.add_button, self.stop_button, self.delete_button):
            button.setAutoDefault(False)
        self.status_label = QLabel()
        self.status_label.setStyleSheet(HINT_STYLE)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.status_label, 1)
        self.message = banner("warning")
        self.message.setObjectName("items_message")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    # ----------------------------------------------------------------- state

    @property
    def as_of(self) -> dt.date:
        return self._as_of

    @property
    def kind(self) -> ItemKind:
        return self.tabs.kind

    def set_kind(self, kind: str) -> None:
        self.tabs.set_kind(kind)

    def selected(self) -> ChartItem | None:
        return self.tabs.selected()

    def select(self, item_id: int) -> bool:
        return self.tabs.select(item_id)

    @property
    def can_write(self) -> bool:
        return self._online and self._may_edit and not self._busy and self.chart is not None

    def set_editable(self, editable: bool) -> None:
        self._online = editable
        self._update_buttons()

    def _update_buttons(self) -> None:
        item = self.selected()
        current = item is not None and item_status(item, self._as_of).startswith("current")
        self.add_button.setEnabled(self.can_write)
        self.stop_button.setEnabled(self.can_write and current)
        self.delete_button.setEnabled(self.can_write and item is not None)
        tip = (
            "Your account may not change clinical records."
            if not self._may_edit
            else "Not connected to the server."
            if not self._online
            else ""
        )
        for button in (self.add_button, self.stop_button):
            button.setToolTip(tip)

    # ----------------------------------------------------------------- data

    def set_chart(self, chart: Chart) -> None:
        """Show the entries of a chart loaded as of the panel's study date."""
        self.chart = chart
        if chart.as_of != self._as_of:
            self._as_of = chart.as_of
            self.date_edit.blockSignals(True)
            self.date_edit.setDate(to_qdate(chart.as_of))
            self.date_edit.blockSignals(False)
        self._show()

    def _show(self) -> None:
        self.tabs.show_chart(self.chart, history=self.history_box.isChecked(), as_of=self._as_of)
        self._update_buttons()

    def reload(self) -> None:
        pid, day = self.patient_id, self._as_of
        self.tasks.run_in_session(
            "load",
            lambda s: chart_service.load_chart(s, pid, as_of=day),
            self._loaded,
            self._failed,
        )

    def _loaded(self, chart: Chart) -> None:
        self.set_chart(chart)
        self.loaded.emit(chart)

    def _date_changed(self) -> None:
        self._as_of = from_qdate(self.date_edit.date())
        self.as_of_changed.emit(self._as_of)
        if self._autoload:
            self.reload()

    def cancel(self) -> None:
        self.tasks.cancel_all()

    # ----------------------------------------------------------------- actions

    def _open(self, dialog: QDialog, done: Callable[[int], None]) -> None:
        self.dialog = dialog

        def finished(result: int) -> None:
            self.dialog = None
            done(result)
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.open()

    def ask_add(self) -> ItemDialog | None:
        if not self.can_write:
            return None
        kind = self.kind
        names: Sequence[str] = ()
        if kind == "medication":
            setting = self.ctx.login.settings.get("pah_medicines", [])
            names = [str(n) for n in setting] if isinstance(setting, list) else []
        dialog = ItemDialog(kind, start=self._as_of, names=names, today=self._today(), parent=self)

        def done(result: int) -> None:
            if result == QDialog.DialogCode.Accepted and self.can_write:
                self._add(kind, dialog.values(self.patient_id))

        self._open(dialog, done)
        return dialog

    def ask_stop(self) -> StopDialog | None:
        item = self.selected()
        if not self.can_write or item is None:
            return None
        dialog = StopDialog(item, stop=self._as_of, today=self._today(), parent=self)

        def done(result: int) -> None:
            if result == QDialog.DialogCode.Accepted and self.can_write:
                self._stop(item, item.stamp.version, dialog.stopped_on, dialog.reason)

        self._open(dialog, done)
        return dialog

    def ask_delete(self) -> ReasonDialog | None:
        item = self.selected()
        if not self.can_write or item is None:
            return None
        dialog = delete_dialog(item, parent=self)

        def done(result: int) -> None:
            if result == QDialog.DialogCode.Accepted and self.can_write:
                self._delete(item, dialog.reason)

        self._open(dialog, done)
        return dialog

    def _busy_with(self, text: str) -> None:
        self._busy = True
        self.status_label.setText(text)
        self.message.hide()
        self._update_buttons()

    def _done(self, kind: str, text: str) -> None:
        self._busy = False
        self.status_label.setText(text)
        self._update_buttons()
        self.changed.emit(kind)
        if self._autoload:
            self.reload()

    def _add(self, kind: ItemKind, data: ItemInput) -> None:
        self._busy_with("Adding…")
        self.tasks.run_in_session(
            "write",
            lambda s: chart_service.add_item(s, kind, data),
            lambda item: self._done(kind, f"Added {item.data.name}."),
            self._failed,
        )

    def _stop(self, item: ChartItem, version: int, day: dt.date, reason: str) -> None:
        def work(s: Session) -> ChartItem:
            return chart_service.stop_item(s, item.kind, item.id, version, day, reason)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, StaleEntry) and isinstance(exc.theirs, ChartItem):
                self._busy = False
                self.status_label.setText("")
                self._update_buttons()
                self._ask_conflict(item, exc.theirs, day, reason)
            else:
                self._failed(exc)

        self._busy_with("Stopping…")
        self.tasks.run_in_session(
            "write",
            work,
            lambda stopped: self._done(
                item.kind, f"Stopped {stopped.data.name} as of {format_day(day)}."
            ),
            failed,
        )

    def _ask_conflict(self, mine: ChartItem, theirs: ChartItem, day: dt.date, reason: str) -> None:
        dialog = stop_conflict_dialog(mine, theirs, day, reason, self)

        def done(_: int) -> None:
            if dialog.choice is Choice.OVERWRITE and self.can_write:
                self._stop(theirs, theirs.stamp.version, day, reason)
            else:
                self._note(
                    f"Not stopped: {theirs.data.name} was changed by {theirs.stamp.updated_by} "
                    "meanwhile. The list shows the saved version now."
                )
                self._refresh()

        self._open(dialog, done)

    def _delete(self, item: ChartItem, reason: str) -> None:
        def work(s: Session) -> None:
            chart_service.delete_item(s, item.kind, item.id, item.stamp.version, reason)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, StaleEntry):
                self._busy = False
                self.status_label.setText("")
                self._update_buttons()
                self._note(
                    f"Not deleted: {item.data.name} was changed by "
                    f"{exc.theirs.stamp.updated_by} since the list was loaded. Check the "
                    "saved version and delete again if it is still wrong."
                )
                self._refresh()
            else:
                self._failed(exc)

        self._busy_with("Deleting…")
        self.tasks.run_in_session(
            "write",
            work,
            lambda _: self._done(item.kind, f"Deleted {item.data.name} (entered in error)."),
            failed,
        )

    def _refresh(self) -> None:
        if self._autoload:
            self.reload()
        else:
            self.changed.emit(self.kind)

    def _note(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self.status_label.setText("")
        self._update_buttons()
        if self.ctx.connection.handle_error(exc):
            self._note(
                "The server cannot be reached. Nothing was changed; try again once "
                "PHMS has reconnected."
            )
            return
        if isinstance(exc, EntryNotFound):
            self._note("This entry was deleted as entered in error by someone else meanwhile.")
            self._refresh()
            return
        rejected = clinical_rules.rejected_field(exc)
        if rejected is not None:
            self._note(f"Not saved: {rejected[1]}")
            return
        error = classify(exc, address=self.ctx.db.address)
        if error.kind is ErrorKind.UNKNOWN:
            log.error("chart item change failed: %s", error.detail, exc_info=exc)
        self._note(f"{error.title}: {error.message}")
