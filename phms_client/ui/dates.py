"""One look for every date edit: ``24.11.2026``, day first, typed as digits.

Dates that are only shown (demographics, charts) use month names
(:func:`phms_client.clinical.demographics.format_day`), which no reader can
misread. Date *edits* keep digits: a QDateEdit with a month-name section
silently ignores a typed month number ("03.03.1956" became 3 Nov 1956), and
clinic staff type dates as digits. The format is fixed, not the system's, so
every workstation reads and takes dates the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from PySide6.QtCore import QDate, QLocale
from PySide6.QtWidgets import QDateEdit

from phms_client.services.input_rules import limits

__all__ = [
    "DATE_DISPLAY",
    "DAY_DISPLAY",
    "appointment_date_range",
    "item_date_range",
    "qdate",
    "record_date_range",
    "style_date_edit",
]

#: Day first, digits: ``24.11.2026``.
DATE_DISPLAY: Final = "dd.MM.yyyy"
#: With the weekday, where the day of the week matters (clinic day, appointments).
DAY_DISPLAY: Final = "ddd dd.MM.yyyy"
_LOCALE: Final = QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)


def style_date_edit(edit: QDateEdit, display: str = DATE_DISPLAY) -> QDateEdit:
    """Give ``edit`` the shared display format and English month names."""
    edit.setLocale(_LOCALE)
    edit.setDisplayFormat(display)
    calendar = edit.calendarWidget()
    if calendar is not None:
        calendar.setLocale(_LOCALE)
    return edit


def qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


# The dates the database accepts (phms_schema.limits); a date edit offers no other.
def record_date_range(today: dt.date | None = None) -> tuple[QDate, QDate]:
    """Study dates: from 1 Jan 1900 to today."""
    return qdate(limits.DATE_MIN), qdate(today or dt.date.today())


def item_date_range(today: dt.date | None = None) -> tuple[QDate, QDate]:
    """Start and stop of a medication, allergy or disease: up to a year ahead."""
    ahead = (today or dt.date.today()) + dt.timedelta(days=limits.ITEM_DAYS_AHEAD)
    return qdate(limits.DATE_MIN), qdate(ahead)


def appointment_date_range(today: dt.date | None = None) -> tuple[QDate, QDate]:
    """Appointments (and the day list): up to five years ahead."""
    ahead = (today or dt.date.today()) + dt.timedelta(days=limits.APPOINTMENT_DAYS_AHEAD - 1)
    return qdate(limits.DATE_MIN), qdate(ahead)
