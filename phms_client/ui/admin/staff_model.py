"""The staff list's table model, and the staff groups as people read them."""

from __future__ import annotations

from typing import Any, Final

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from phms_client.services.staff import StaffMember
from phms_client.ui.shared.table_view import RowsTableModel

__all__ = ["GROUP_TEXT", "MEMBER_ROLE", "StaffModel"]

GROUP_TEXT: Final = {
    "clerk": "Clerk — demographics and appointments",
    "clinician": "Clinician — clinical records",
    "admin": "Administrator — clinical records, preferences, staff",
    "auditor": "Auditor — audit trail and statistics only",
}
MEMBER_ROLE: Final = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex


class StaffModel(RowsTableModel):
    """The staff list as handed to it; it never queries."""

    HEADERS: Final = ("User name", "Group", "Login")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StaffMember] = []

    def set_rows(self, rows: list[StaffMember]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[StaffMember]:
        return list(self._rows)

    def member(self, row: int) -> StaffMember:
        return self._rows[row]

    def row_of(self, name: str) -> int | None:
        for n, member in enumerate(self._rows):
            if member.name == name:
                return n
        return None

    def names(self) -> set[str]:
        return {m.name for m in self._rows}

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        member = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return member.name
            if column == 1:
                return GROUP_TEXT.get(member.group, member.group).split(" — ")[0]
            if column == 2:
                return "enabled" if member.enabled else "disabled"
        if role == Qt.ItemDataRole.ToolTipRole and column == 1:
            return GROUP_TEXT.get(member.group, member.group)
        if role == Qt.ItemDataRole.ForegroundRole and not member.enabled:
            return QColor("#8a8a8a")
        if role == MEMBER_ROLE:
            return member
        return None
