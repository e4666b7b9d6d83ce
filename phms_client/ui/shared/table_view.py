"""The read-only lists shown as tables (timeline, risk course, staff, the day's
appointments, medications, patients): one look for the views (whole rows, one at a
time, no editing, alternating colours, no row numbers, left-aligned headers that do
not light up) and one base for the simple row-per-item models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

__all__ = ["RowsTableModel", "setup_list_view"]

AnyIndex = QModelIndex | QPersistentModelIndex


#: Rows a column sized to its contents is measured over (Qt's default: 1,000).
RESIZE_PRECISION_ROWS = 100


def setup_list_view(
    view: QTableView,
    *,
    row_padding: int = 8,
    tab_key_navigation: bool = True,
    resize_mode: QHeaderView.ResizeMode = QHeaderView.ResizeMode.ResizeToContents,
) -> None:
    """Configure ``view`` as a read-only list; rows are one text line + ``row_padding`` px.

    ``tab_key_navigation=False`` lets Tab leave the table; ``resize_mode`` applies to
    every column (callers then stretch the ones that should take the room left).
    """
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    if not tab_key_navigation:
        view.setTabKeyNavigation(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + row_padding)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(resize_mode)
    # Columns sized to their contents look at this many rows, not at the first 1,000:
    # a busy day's 1,300 appointments cost 120,000 calls of the model's data() and
    # most of a second before the list showed.
    header.setResizeContentsPrecision(RESIZE_PRECISION_ROWS)


class RowsTableModel(QAbstractTableModel):
    """A read-only table over ``self._rows`` (one row each) with the column titles
    ``HEADERS``; subclasses give :meth:`data`."""

    HEADERS: tuple[str, ...] = ()
    _rows: Sequence[object]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None
