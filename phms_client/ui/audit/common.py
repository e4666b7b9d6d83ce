"""Pieces every audit tab shares: a period chooser and errors in plain words."""

from __future__ import annotations

import datetime as dt

import psycopg
import sqlalchemy as sa
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QDateEdit, QHBoxLayout, QLabel, QWidget

from phms_client.db.errors import classify

__all__ = ["PeriodEdit", "explain"]


def explain(exc: BaseException, address: str = "") -> str:
    """A failed review in plain words; the database's own sentence for a refused filter."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if isinstance(orig, psycopg.errors.InvalidParameterValue) and orig.diag.message_primary:
        return f"{orig.diag.message_primary}."
    error = classify(exc, address=address)
    return f"{error.title}: {error.message}"


class PeriodEdit(QWidget):
    """From one day to another, both included (local time)."""

    def __init__(self, days: int = 30, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        today = QDate.currentDate()
        self.from_edit = QDateEdit(today.addDays(-days))
        self.to_edit = QDateEdit(today)
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setMinimumDate(QDate(1900, 1, 1))
            edit.setMaximumDate(QDate(2199, 12, 31))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("From"))
        layout.addWidget(self.from_edit)
        layout.addWidget(QLabel("to"))
        layout.addWidget(self.to_edit)
        layout.addStretch(1)

    def set_days(self, first: dt.date, last: dt.date) -> None:
        self.from_edit.setDate(QDate(first.year, first.month, first.day))
        self.to_edit.setDate(QDate(last.year, last.month, last.day))

    def problem(self) -> str | None:
        if self.from_edit.date() > self.to_edit.date():
            return "The period starts after it ends: choose an earlier first day."
        return None

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Start of the first day and start of the day after the last, local time."""
        first = self.from_edit.date().toPython()
        last = self.to_edit.date().toPython()
        assert isinstance(first, dt.date) and isinstance(last, dt.date)
        start = dt.datetime.combine(first, dt.time.min).astimezone()
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min).astimezone()
        return start, end
