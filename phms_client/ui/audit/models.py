"""Qt models of the audit review: they hold rows handed to them and never query."""

from __future__ import annotations

from typing import Any, Final

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from phms_client.services.audit_review import ActivityRow, FieldChange, Flag
from phms_client.ui.shared.table_view import RowsTableModel

__all__ = ["ActivityModel", "FieldsModel", "FlagsModel", "when"]

AnyIndex = QModelIndex | QPersistentModelIndex
CHANGED_BACKGROUND: Final = QColor("#fff1a8")


def when(row: ActivityRow | Flag) -> str:
    return row.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _patient(row: ActivityRow | Flag) -> str:
    if row.patient_name:
        return f"{row.patient_name} ({row.patient_code})"
    return "" if row.patient_id is None else f"#{row.patient_id} (no longer on file)"


class ActivityModel(RowsTableModel):
    """Writes and chart openings, newest first, one page appended at a time.

    When the view scrolls to the end and more may follow, :meth:`fetchMore` emits
    ``more_wanted``; whoever loads the next page hands it to :meth:`append_page`.
    """

    HEADERS: Final = ("When", "Staff", "What", "Patient", "Record", "Workstation")
    more_wanted = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ActivityRow] = []
        self._more = False
        self._asked = False

    def set_rows(self, rows: list[ActivityRow], *, more: bool) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._more, self._asked = more, False
        self.endResetModel()

    def append_page(self, rows: list[ActivityRow], *, more: bool) -> None:
        if rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._more, self._asked = more, False

    def rows(self) -> list[ActivityRow]:
        return list(self._rows)

    def row_at(self, row: int) -> ActivityRow:
        return self._rows[row]

    @property
    def more(self) -> bool:
        return self._more

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._more and not self._asked

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._asked = True  # one request at a time
            self.more_wanted.emit()

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                when(r),
                r.staff,
                r.action,
                _patient(r),
                r.row_key or "",
                r.client_addr or "local",
            )[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 5:
            return r.application_name or None
        return None


class FlagsModel(RowsTableModel):
    HEADERS: Final = ("Flag", "When", "Staff", "Patient", "Why it is worth a look")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Flag] = []

    def set_rows(self, rows: list[Flag]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[Flag]:
        return list(self._rows)

    def row_at(self, row: int) -> Flag:
        return self._rows[row]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        f = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (f.title, when(f), f.staff, _patient(f), f.detail)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f.detail
        return None


class FieldsModel(RowsTableModel):
    """One event's fields: before and after side by side, changed ones highlighted."""

    HEADERS: Final = ("Field", "Before", "After")

    def __init__(self, fields: list[FieldChange], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[FieldChange] = list(fields)
        self._bold = QFont()
        self._bold.setBold(True)

    def rows(self) -> list[FieldChange]:
        return list(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        f = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (f.name, f.old, f.new)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() > 0:
            return (f.old, f.new)[index.column() - 1] or None
        if f.changed and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(CHANGED_BACKGROUND)
        if f.changed and role == Qt.ItemDataRole.FontRole:
            return self._bold
        if f.changed and role == Qt.ItemDataRole.AccessibleDescriptionRole:
            return "changed"
        return None
