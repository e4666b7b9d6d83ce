"""One look for every date edit: ``24.11.2026``, day first, typed as digits.

Dates that are only shown (demographics, charts) use month names
(:func:`phms_client.clinical.demographics.format_day`), which no reader can
misread. Date *edits* keep digits: a QDateEdit with a month-name section
silently ignores a typed month number ("03.03.1956" became 3 Nov 1956), and
clinic staff type dates as digits. The format is fixed, not the system's, so
every workstation reads and takes dates the same way.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QDateEdit

__all__ = ["DATE_DISPLAY", "DAY_DISPLAY", "style_date_edit"]

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
