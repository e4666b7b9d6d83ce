"""One look for every date, shown or edited: ``24.11.2026``, day first, as digits.

Shown dates come from :func:`phms_client.clinical.demographics.format_day`; date
edits use the same pattern, so a window never mixes two ways of writing a date.
Digits because clinic staff type dates as digits (a QDateEdit with a month-name
section silently ignores a typed month number). Day first always: dates are read
back day first. The separator follows the workstation's locale when that locale
writes dates day first (``.`` German, ``/`` British or French, ``-`` Dutch);
otherwise ``.``. Call :func:`use_locale` once at start.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from PySide6.QtCore import QDate, QLocale
from PySide6.QtWidgets import QDateEdit

from phms_client.clinical import demographics

__all__ = [
    "appointment_date_range",
    "date_display",
    "day_display",
    "item_date_range",
    "qdate",
    "record_date_range",
    "separator_for",
    "style_date_edit",
    "use_locale",
]

_LOCALE: Final = QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)
_DAY_FIRST: Final = re.compile(r"^d{1,2}([./-])M{1,2}\1y{2,4}$")


def separator_for(locale: QLocale) -> str:
    """The locale's separator if it writes short dates day, month, year; else ``.``."""
    match = _DAY_FIRST.match(locale.dateFormat(QLocale.FormatType.ShortFormat).strip())
    return match.group(1) if match else "."


def use_locale(locale: QLocale) -> None:
    demographics.set_date_separator(separator_for(locale))


def date_display() -> str:
    """The Qt display format of a date edit: ``dd.MM.yyyy`` (separator as shown)."""
    sep = demographics.date_separator()
    return f"dd{sep}MM{sep}yyyy"


def day_display() -> str:
    """With the weekday, where the day of the week matters (clinic day, appointments)."""
    return "ddd " + date_display()


def style_date_edit(edit: QDateEdit, display: str | None = None) -> QDateEdit:
    """Give ``edit`` the shared display format and English day names."""
    edit.setLocale(_LOCALE)
    edit.setDisplayFormat(display or date_display())
    calendar = edit.calendarWidget()
    if calendar is not None:
        calendar.setLocale(_LOCALE)
    return edit


def qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


# The dates the database accepts (phms_schema.limits); a date edit offers no other.
# (Imported when first asked: the login window shows before the schema is loaded.)
def record_date_range(today: dt.date | None = None) -> tuple[QDate, QDate]:
    """Study dates: from 1 Jan 1900 to today."""
    from phms_client.services.input_rules import limits

    return qdate(limits.DATE_MIN), qdate(today or dt.date.today())


def item_date_range(today: dt.date | None = None) -> tuple[QDate, QDate]:
    """Start and stop of a medication, allergy or disease: up to a year ahead."""
    from phms_client.services.input_rules import limits

    ahead = (today or dt.date.today()) + dt.timedelta(days=limits.ITEM_DAYS_AHEAD)
    return qdate(limits.DATE_MIN), qdate(ahead)


def appointment_date_range(today: dt.date | None = None) -> tuple[QDate, QDate]:
    """Appointments (and the day list): up to five years ahead."""
    from phms_client.services.input_rules import limits

    ahead = (today or dt.date.today()) + dt.timedelta(days=limits.APPOINTMENT_DAYS_AHEAD - 1)
    return qdate(limits.DATE_MIN), qdate(ahead)
