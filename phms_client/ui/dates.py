"""One look for every date edit: ``24 Nov 2026``, as demographics write dates.

``dd.MM.yyyy`` reads as 11 Mar or 3 Nov depending on the reader; the month
name does not. Month names are English whatever the system locale, matching
:func:`phms_client.clinical.demographics.format_day` (and typing ``24 Nov 2026``
works on every machine).
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QDateEdit

__all__ = ["DATE_DISPLAY", "DAY_DISPLAY", "style_date_edit"]

#: Same shape as ``format_day``: ``24 Nov 2026``.
DATE_DISPLAY: Final = "d MMM yyyy"
#: With the weekday, where the day of the week matters (clinic day, appointments).
DAY_DISPLAY: Final = "ddd d MMM yyyy"
_LOCALE: Final = QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)


def style_date_edit(edit: QDateEdit, display: str = DATE_DISPLAY) -> QDateEdit:
    """Give ``edit`` the shared display format and English month names."""
    edit.setLocale(_LOCALE)
    edit.setDisplayFormat(display)
    calendar = edit.calendarWidget()
    if calendar is not None:
        calendar.setLocale(_LOCALE)
    return edit
