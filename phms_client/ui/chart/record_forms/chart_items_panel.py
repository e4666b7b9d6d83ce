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
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from phms_client.clinical import therapy
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
from phms_client.ui.chart.record_forms.common import (
    HINT_STYLE,
    ReasonDialog,
    ReasonRequired,
    banner,
    can_edit_clinical,
    from_qdate,
    to_qdate,
)
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import item_date_range, style_date_edit
from phms_client.ui.shared.guard import OwnedTasks
from phms_client.ui.shared.record_conflict import Choice, RecordConflictDialog
from phms_client.ui.shared.table_view import setup_list_view
from phms_client.ui.shared.text_limits import limit_text

__all__ = ["KIND_LABELS", "ChartItemsPanel", "ItemDialog", "ItemsModel", "StopDialog"]

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex
KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "medication": ("Medications", "medication"),
    "allergy": ("Allergies", "allergy"),
    "comorbidity": ("Secondary diseases", "secondary disease"),
}
DETAILS_HINTS: Final = {
    "medication": "dose and frequency, e.g. 62.5 mg twice daily",
    "allergy": "reaction, e.g. rash",
    "comorbidity": "note",
}
STOP_REASONS: Final = {
    "medication": ("stopped", "side effects", "not effective", "changed to another medicine"),
    "allergy": ("no longer present", "ruled out"),
    "comorbidity": ("cured", "resolved", "ruled out"),
}
ITEM_ROLE: Final = Qt.ItemDataRole.UserRole + 1
_GREY: Final = QColor(110, 110, 110)


def item_status(item: ChartItem, as_of: dt.date) -> str:
    # A reason that only says "stopped" adds nothing to "stopped 3.12.2026".
    why = f" ({item.stop_reason})" if item.stop_reason not in (None, "", "stopped") else ""
    if item.stopped_on is not None and item.stopped_on <= as_of:
        return f"stopped {format_day(item.stopped_on)}{why}"
    if item.data.started_on > as_of:
        return f"starts {format_day(item.data.started_on)}"
    if item.stopped_on is not None:
        return f"current; stops {format_day(item.stopped_on)}{why}"
    return "current"


def medicine_text(item: ChartItem) -> str:
    """A medication's name with its PAH therapy class, or marked as typed freely."""
    cls = item.data.therapy_class
    if cls is None:
        return f"{item.data.name} (not in list)"
    if cls == therapy.OTHER:
        return item.data.name
    return f"{item.data.name} — {therapy.SHORT[cls]}"


class ItemsModel(QAbstractTableModel):
    """One kind's entries: current ones, or (history) every entry with its status."""

    CURRENT_HEADERS: Final = ("Name", "Details", "Since", "Entered by")
    HISTORY_HEADERS: Final = ("Name", "Details", "Started", "Status", "Entered by")

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._rows: list[ChartItem] = []
        self._history = False
        self._as_of = dt.date.today()

    @property
    def history(self) -> bool:
        return self._history

    def set_items(self, items: Sequence[ChartItem], *, history: bool, as_of: dt.date) -> None:
        self.beginResetModel()
        self._rows = list(items)
        self._history = history
        self._as_of = as_of
        self.endResetModel()

    def item(self, row: int) -> ChartItem:
        return self._rows[row]

    def row_of(self, item_id: int) -> int | None:
        return next((n for n, i in enumerate(self._rows) if i.id == item_id), None)

    def _headers(self) -> tuple[str, ...]:
        return self.HISTORY_HEADERS if self._history else self.CURRENT_HEADERS

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers())

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        headers = self._headers()
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(headers)
        ):
            return headers[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        item = self._rows[index.row()]
        if role == ITEM_ROLE:
            return item
        current = item_status(item, self._as_of).startswith("current")
        if role == Qt.ItemDataRole.ForegroundRole and not current:
            return QBrush(_GREY)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        column = self._headers()[index.column()]
        if column == "Name":
            return medicine_text(item) if item.kind == "medication" else item.data.name
        if column == "Details":
            return item.data.details or ""
        if column in ("Since", "Started"):
            return format_day(item.data.started_on)
        if column == "Status":
            return item_status(item, self._as_of)
        if role == Qt.ItemDataRole.ToolTipRole and item.stamp.version > 1:
            return f"entered by {item.stamp.created_by}, last changed by {item.stamp.updated_by}"
        return item.stamp.created_by


# --------------------------------------------------------------------------- dialogs


class ItemDialog(QDialog):
    """Add an entry: name (pick list + free text), details, start date.

    A medication picked from the list (or typed as a list entry, in any case) is
    stored as that entry with its PAH therapy class. A name not on the list is
    possible, but saying so takes one confirmation: the first *Add* explains (and
    suggests the entry it may have meant, "Bosen" → bosentan), the second saves it
    as free text, marked "not in list" and not counted as PAH therapy.
    """

    def __init__(
        self,
        kind: str,
        *,
        start: dt.date,
        names: Sequence[str] = (),
        today: dt.date,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.kind = kind
        what = KIND_LABELS[kind][1]
        self.setWindowTitle(f"PHMS — Add {what}")
        self.name_combo = QComboBox()
        self.name_combo.setObjectName("item_name")
        self.name_combo.setEditable(True)
        self.name_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_combo.addItems(list(names))
        self.name_combo.setCurrentText("")
        completer = QCompleter(list(names), self.name_combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name_combo.setCompleter(completer)
        line = self.name_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("choose from the list or type")
        line.textChanged.connect(self._update)
        self.details_edit = QLineEdit()
        self.details_edit.setObjectName("item_details")
        self.details_edit.setPlaceholderText(DETAILS_HINTS[kind])
        self.limit_hints = [
            limit_text(line, kind, "name"),
            limit_text(self.details_edit, kind, "details"),
        ]
        self.start_edit = QDateEdit()
        self.start_edit.setObjectName("item_started_on")
        self.start_edit.setCalendarPopup(True)
        style_date_edit(self.start_edit)
        self.start_edit.setMinimumDate(item_date_range(today)[0])
        self.start_edit.setMaximumDate(to_qdate(max(today, start)))
        self.start_edit.setDate(to_qdate(start))
        self.listed = list(names) if kind == "medication" else []
        self._confirmed_free_text: str | None = None
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        form = QFormLayout()
        name_caption = QLabel("&Name:")
        name_caption.setBuddy(self.name_combo)
        form.addRow(name_caption, self.name_combo)
        details_caption = QLabel("&Details:")
        details_caption.setBuddy(self.details_edit)
        form.addRow(details_caption, self.details_edit)
        start_caption = QLabel("&Started on:")
        start_caption.setBuddy(self.start_edit)
        form.addRow(start_caption, self.start_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Add")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self._update()

    def name(self) -> str:
        return " ".join(self.name_combo.currentText().split())

    def list_entry(self) -> str | None:
        """The list entry the name stands for (medications only), or None."""
        return therapy.list_entry(self.name(), self.listed) if self.listed else None

    def values(self, patient_id: int) -> ItemInput:
        entry = self.list_entry()
        return ItemInput(
            patient_id=patient_id,
            name=entry or self.name(),
            started_on=from_qdate(self.start_edit.date()),
            details=" ".join(self.details_edit.text().split()) or None,
            therapy_class=None if entry is None else therapy.class_of_listed(entry),
        )

    def _update(self, *_: Any) -> None:
        self.ok_button.setEnabled(bool(self.name()))
        if self._confirmed_free_text is not None and self._confirmed_free_text != self.name():
            self._confirmed_free_text = None  # a new name: ask again
            self.ok_button.setText("&Add")
            self.error_label.hide()

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def accept(self) -> None:
        name = self.name()
        if not name:
            return
        if self.listed and self.list_entry() is None and self._confirmed_free_text != name:
            self._confirmed_free_text = name
            guess = therapy.suggestion(name, self.listed)
            meant = f" Did you mean {guess}? Pick it from the list." if guess else ""
            self.show_error(
                f"“{name}” is not in the list of PAH medicines.{meant} Press “Add as not in "
                "list” to keep it as typed: it is marked “not in list” and not counted as "
                "PAH therapy."
            )
            self.ok_button.setText("Add as &not in list")
            return
        super().accept()


class StopDialog(ReasonRequired):
    """Stop an entry as of a date (the study date by default), with a reason."""

    def __init__(
        self, item: ChartItem, *, stop: dt.date, today: dt.date, parent: QWidget | None = None
    ):
        super().__init__(parent)
        what = KIND_LABELS[item.kind][1]
        self.item = item
        self.setWindowTitle(f"PHMS — Stop {what}")
        since = format_day(item.data.started_on)
        details = f" {item.data.details}" if item.data.details else ""
        self.text_label = QLabel(
            f"Stop {item.data.name}{details} (since {since}). It stays in the history."
        )
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("item_stopped_on")
        self.date_edit.setCalendarPopup(True)
        style_date_edit(self.date_edit)
        self.date_edit.setMinimumDate(to_qdate(item.data.started_on))
        self.date_edit.setMaximumDate(to_qdate(max(today, stop, item.data.started_on)))
        self.date_edit.setDate(to_qdate(max(stop, item.data.started_on)))
        self.reason_combo = QComboBox()
        self.reason_combo.setObjectName("item_stop_reason")
        self.reason_combo.setEditable(True)
        self.reason_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.reason_combo.addItems(list(STOP_REASONS[item.kind]))
        line = self.reason_combo.lineEdit()
        assert line is not None
        line.textChanged.connect(self._update)
        self.reason_hint = limit_text(line, item.kind, "stop_reason")
        form = QFormLayout()
        date_caption = QLabel("Stopped &as of:")
        date_caption.setBuddy(self.date_edit)
        form.addRow(date_caption, self.date_edit)
        reason_caption = QLabel("&Reason:")
        reason_caption.setBuddy(self.reason_combo)
        form.addRow(reason_caption, self.reason_combo)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Stop")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_label)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)
        self._update()

    @property
    def stopped_on(self) -> dt.date:
        return from_qdate(self.date_edit.date())


# --------------------------------------------------------------------------- the panel


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

        self.tabs = QTabWidget()
        self.models: dict[str, ItemsModel] = {}
        self.views: dict[str, QTableView] = {}
        for kind in KIND_LABELS:
            model = ItemsModel(self)
            view = QTableView()
            view.setObjectName(f"items_{kind}")
            view.setAccessibleName(KIND_LABELS[kind][0])
            view.setModel(model)
            setup_list_view(view)
            view.horizontalHeader().setStretchLastSection(True)
            view.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
            self.models[kind] = model
            self.views[kind] = view
            self.tabs.addTab(view, KIND_LABELS[kind][0])
        self.tabs.currentChanged.connect(lambda _: self._update_buttons())

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
        return list(KIND_LABELS)[self.tabs.currentIndex()]  # type: ignore[return-value]

    def set_kind(self, kind: str) -> None:
        self.tabs.setCurrentIndex(list(KIND_LABELS).index(kind))

    def selected(self) -> ChartItem | None:
        view = self.views[self.kind]
        index = view.currentIndex()
        if not index.isValid():
            return None
        return self.models[self.kind].item(index.row())

    def select(self, item_id: int) -> bool:
        row = self.models[self.kind].row_of(item_id)
        if row is None:
            return False
        self.views[self.kind].selectRow(row)
        return True

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

    def items(self, kind: str, *, history: bool | None = None) -> list[ChartItem]:
        chart = self.chart
        if chart is None:
            return []
        current = {
            "medication": chart.medications,
            "allergy": chart.allergies,
            "comorbidity": chart.comorbidities,
        }[kind]
        if not (self.history_box.isChecked() if history is None else history):
            return list(current)
        everything = [
            *current,
            *(i for i in chart.stopped_items if i.kind == kind),
            *(i for i in chart.later_items if i.kind == kind),
        ]
        return sorted(everything, key=lambda i: (i.data.started_on, i.id), reverse=True)

    def _show(self) -> None:
        history = self.history_box.isChecked()
        keep = {kind: self._selected_id(kind) for kind in KIND_LABELS}
        for n, (kind, (label, _)) in enumerate(KIND_LABELS.items()):
            rows = self.items(kind, history=history)
            self.models[kind].set_items(rows, history=history, as_of=self._as_of)
            current = len(self.items(kind, history=False))
            self.tabs.setTabText(n, f"{label} ({current})")
            row = self.models[kind].row_of(keep[kind]) if keep[kind] is not None else None
            if row is not None:
                self.views[kind].selectRow(row)
        self._update_buttons()

    def _selected_id(self, kind: str) -> int | None:
        index = self.views[kind].currentIndex()
        return self.models[kind].item(index.row()).id if index.isValid() else None

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
        what = KIND_LABELS[item.kind][1]
        dialog = ReasonDialog(
            f"Delete {what}",
            f"Delete {item.data.name} (since {format_day(item.data.started_on)}) as entered in "
            "error? It is hidden from the chart and its history, and kept with your reason in "
            f"the audit trail. To end a {what} that was right, use Stop instead.",
            ok_text="&Delete",
            suggestions=("wrong patient", "entered twice", "typing error"),
            parent=self,
        )

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
        def stop_text(i: ChartItem) -> str:
            return "—" if i.stopped_on is None else f"{format_day(i.stopped_on)} ({i.stop_reason})"

        rows = [
            ("Name", theirs.data.name, mine.data.name),
            ("Details", theirs.data.details or "—", mine.data.details or "—"),
            ("Started on", format_day(theirs.data.started_on), format_day(mine.data.started_on)),
            ("Stopped", stop_text(theirs), f"{format_day(day)} ({reason})"),
        ]
        what = KIND_LABELS[mine.kind][1]
        dialog = RecordConflictDialog(f"the {what} {mine.data.name}", theirs.stamp, rows, self)

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
