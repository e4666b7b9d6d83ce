"""The day list's Qt model and its status cell.

:class:`DayListModel` shows one day's appointments as handed to it, each with its mark
(*due*, *missed*, *arrived* …) at the time it is given; it never queries.
:class:`StatusDelegate` keeps the status colour visible on the selected row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from phms_client.clinical.appointments import Mark, Status
from phms_client.services.appointments import AppointmentRow
from phms_client.ui.clinic_day.appointment_dialog import clinic_zone

__all__ = [
    "COL_STATUS",
    "COL_TIME",
    "HEADERS",
    "MARK_ROLE",
    "MARK_STYLE",
    "ROW_ROLE",
    "DayListModel",
    "StatusDelegate",
]

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
