"""One look for the read-only lists shown as tables (timeline, risk course, staff, the
day's appointments, medications, patients): whole rows, one at a time, no editing,
alternating colours, no row numbers, left-aligned headers that do not light up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

__all__ = ["setup_list_view"]


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
