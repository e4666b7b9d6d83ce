"""The patient list's item model: holds the rows it is handed, never queries.

Style anchor: Vorta's ``archive_table_model.py``. Paging is Qt's lazy-loading
protocol: when the view scrolls to the end it calls :meth:`fetchMore`, which only
emits :attr:`fetch_more_requested` with the offset to load; a controller (see
``patient_search.py``) runs the query through the task runner and hands the page
back with :meth:`append_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QHeaderView, QTableView

from phms_client.clinical.demographics import SEX_LABELS, STATUS_LABELS, age_on, format_day
from phms_client.services.patients import PatientSummary
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["PATIENT_ID_ROLE", "PatientTableModel", "setup_patient_view"]

PATIENT_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
AnyIndex = QModelIndex | QPersistentModelIndex

COLUMNS: Final = ("Patient ID", "Name", "Date of birth", "Age", "Sex", "Status")
COL_CODE, COL_NAME, COL_BORN, COL_AGE, COL_SEX, COL_STATUS = range(len(COLUMNS))


class PatientTableModel(QAbstractTableModel):
    """Rows of :class:`PatientSummary`; one row per patient."""

    #: The view wants more rows; the argument is the offset of the next page.
    fetch_more_requested = Signal(int)

    def __init__(self, parent: Any = None, *, today: Callable[[], dt.date] = dt.date.today):
        super().__init__(parent)
        self._rows: list[PatientSummary] = []
        self._has_more = False
        self._fetching = False
        self._today = today

    # ----------------------------------------------------------------- feeding

    def set_rows(self, rows: Sequence[PatientSummary], *, has_more: bool = False) -> None:
        """Replace everything (a new search, or a refresh of the current one)."""
        self.beginResetModel()
        self._rows = list(rows)
        self._has_more = has_more
        self._fetching = False
        self.endResetModel()

    def append_rows(self, rows: Sequence[PatientSummary], *, has_more: bool) -> None:
        """Add the page asked for by :attr:`fetch_more_requested`."""
        known = {r.id for r in self._rows}
        new = [r for r in rows if r.id not in known]  # rows shifted by others' inserts
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()
        self._has_more = has_more
        self._fetching = False

    def fetch_failed(self) -> None:
        """The page could not be loaded; scrolling to the end may ask again."""
        self._fetching = False

    def clear(self) -> None:
        self.set_rows([], has_more=False)

    # ----------------------------------------------------------------- reading

    @property
    def has_more(self) -> bool:
        return self._has_more

    @property
    def rows(self) -> tuple[PatientSummary, ...]:
        return tuple(self._rows)

    def summary(self, row: int) -> PatientSummary:
        return self._rows[row]

    def row_of(self, patient_id: int) -> int | None:
        for row, summary in enumerate(self._rows):
            if summary.id == patient_id:
                return row
        return None

    # ----------------------------------------------------------------- Qt API

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return not parent.isValid() and self._has_more and not self._fetching

    def fetchMore(self, parent: AnyIndex) -> None:
        if self.canFetchMore(parent):
            self._fetching = True
            self.fetch_more_requested.emit(len(self._rows))

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.TextAlignmentRole
            and orientation == Qt.Orientation.Horizontal
            and section == COL_AGE
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            return str(section + 1)
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        p = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(p, col)
        if role == PATIENT_ID_ROLE:
            return p.id
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_NAME:
            return f"{p.display_name} — {p.patient_code}, born {format_day(p.birth_date)}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_AGE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and p.status == "deceased":
            return QApplication.palette().brush(QPalette.ColorRole.PlaceholderText)
        return None

    def _text(self, p: PatientSummary, col: int) -> str:
        if col == COL_CODE:
            return p.patient_code
        if col == COL_NAME:
            return p.display_name
        if col == COL_BORN:
            return format_day(p.birth_date)
        if col == COL_AGE:
            return "" if p.status == "deceased" else str(age_on(p.birth_date, self._today()))
        if col == COL_SEX:
            return SEX_LABELS.get(p.sex, p.sex)
        if col == COL_STATUS:
            return STATUS_LABELS.get(p.status, p.status)
        return ""


# Widest texts a column shows (dates are "30 Sep 1938"; sexes and statuses are fixed).
_SAMPLES: Final = {
    COL_CODE: "0000000-0",
    COL_BORN: "30 Sep 2000",
    COL_AGE: "Age",
    COL_SEX: "Unknown",
    COL_STATUS: "Transferred",
}


def setup_patient_view(view: QTableView) -> None:
    """One look for every list of patients: whole rows, steady column widths, the name
    taking the room that is left. Call after ``setModel``."""
    setup_list_view(
        view,
        row_padding=10,
        tab_key_navigation=False,
        resize_mode=QHeaderView.ResizeMode.Interactive,
    )
    metrics = view.fontMetrics()
    header = view.horizontalHeader()
    padding = 3 * metrics.averageCharWidth()
    header_metrics = header.fontMetrics()
    for column, sample in _SAMPLES.items():
        width = max(
            metrics.horizontalAdvance(sample), header_metrics.horizontalAdvance(COLUMNS[column])
        )
        header.resizeSection(column, width + padding)
    header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
    model = view.model()

    def fit_codes() -> None:  # a site's ID format may be longer than the sample
        wanted = view.sizeHintForColumn(COL_CODE) + padding // 2
        if wanted > header.sectionSize(COL_CODE):
            header.resizeSection(COL_CODE, wanted)

    model.modelReset.connect(fit_codes)
    model.rowsInserted.connect(fit_codes)
