"""The chart items panel's lists: a tab per kind (medications, allergies, secondary
diseases), each a table of the kind's entries, current ones or the whole history with
each entry's status as of the study date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableView, QTabWidget, QWidget

from phms_client.clinical import therapy
from phms_client.clinical.demographics import format_day
from phms_client.services.chart import Chart, ChartItem, ItemKind
from phms_client.ui.shared.table_view import setup_list_view

__all__ = [
    "ITEM_ROLE",
    "KIND_LABELS",
    "ItemLists",
    "ItemsModel",
    "entries_of",
    "item_status",
    "medicine_text",
]

AnyIndex = QModelIndex | QPersistentModelIndex
#: Item kind → (tab title, what one entry is called).
KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "medication": ("Medications", "medication"),
    "allergy": ("Allergies", "allergy"),
    "comorbidity": ("Secondary diseases", "secondary disease"),
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


def entries_of(chart: Chart, kind: str, history: bool) -> list[ChartItem]:
    """A kind's current entries in the chart, or (history) every entry of that kind, the
    latest started first."""
    current = {
        "medication": chart.medications,
        "allergy": chart.allergies,
        "comorbidity": chart.comorbidities,
    }[kind]
    if not history:
        return list(current)
    everything = [
        *current,
        *(i for i in chart.stopped_items if i.kind == kind),
        *(i for i in chart.later_items if i.kind == kind),
    ]
    return sorted(everything, key=lambda i: (i.data.started_on, i.id), reverse=True)


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


class ItemLists(QTabWidget):
    """A tab per kind listing its entries; the selection survives a new chart."""

    #: The current tab or the selected entry changed.
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
            view.selectionModel().currentRowChanged.connect(
                lambda *_: self.selection_changed.emit()
            )
            self.models[kind] = model
            self.views[kind] = view
            self.addTab(view, KIND_LABELS[kind][0])
        self.currentChanged.connect(lambda _: self.selection_changed.emit())

    @property
    def kind(self) -> ItemKind:
        return list(KIND_LABELS)[self.currentIndex()]  # type: ignore[return-value]

    def set_kind(self, kind: str) -> None:
        self.setCurrentIndex(list(KIND_LABELS).index(kind))

    def selected(self) -> ChartItem | None:
        index = self.views[self.kind].currentIndex()
        if not index.isValid():
            return None
        return self.models[self.kind].item(index.row())

    def select(self, item_id: int) -> bool:
        row = self.models[self.kind].row_of(item_id)
        if row is None:
            return False
        self.views[self.kind].selectRow(row)
        return True

    def show_chart(self, chart: Chart | None, *, history: bool, as_of: dt.date) -> None:
        """Each kind's entries of the chart; a tab's title counts its current ones."""
        keep = {kind: self._selected_id(kind) for kind in KIND_LABELS}
        for n, (kind, (label, _)) in enumerate(KIND_LABELS.items()):
            rows = [] if chart is None else entries_of(chart, kind, history)
            self.models[kind].set_items(rows, history=history, as_of=as_of)
            current = 0 if chart is None else len(entries_of(chart, kind, False))
            self.setTabText(n, f"{label} ({current})")
            row = self.models[kind].row_of(keep[kind]) if keep[kind] is not None else None
            if row is not None:
                self.views[kind].selectRow(row)

    def _selected_id(self, kind: str) -> int | None:
        index = self.views[kind].currentIndex()
        return self.models[kind].item(index.row()).id if index.isValid() else None
