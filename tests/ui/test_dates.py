"""Every date edit shows day-first digits whatever the system locale, and takes typed
digits (a month-name section would silently ignore a typed month number)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QDate, QLocale, Qt
from PySide6.QtWidgets import QDateEdit
from pytestqt.qtbot import QtBot

from phms_client.ui.dates import DAY_DISPLAY, style_date_edit


def _edit(qtbot: QtBot, display: str | None = None) -> QDateEdit:
    edit = QDateEdit(QDate(2026, 11, 24))
    edit.setCalendarPopup(True)
    if display is None:
        style_date_edit(edit)
    else:
        style_date_edit(edit, display)
    qtbot.addWidget(edit)
    edit.show()
    qtbot.waitExposed(edit)
    return edit


def test_shows_the_demographics_format_whatever_the_system_locale(qtbot: QtBot) -> None:
    previous = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    try:
        edit = _edit(qtbot)
    finally:
        QLocale.setDefault(previous)
    assert edit.text() == "24.11.2026"
    edit.setDate(QDate(1956, 3, 3))
    assert edit.text() == "03.03.1956"
    assert edit.calendarWidget().locale().language() == QLocale.Language.English


def test_with_the_weekday(qtbot: QtBot) -> None:
    assert _edit(qtbot, DAY_DISPLAY).text() == "Tue 24.11.2026"


@pytest.mark.parametrize("typed", ["3.3.1956", "03031956"])
def test_typing_a_date_as_digits(qtbot: QtBot, typed: str) -> None:
    """Both ways staff type a date: with separators, or two-digit sections (Qt moves
    on to the next section by itself after two digits)."""
    edit = _edit(qtbot)
    edit.setFocus(Qt.FocusReason.TabFocusReason)
    edit.setSelectedSection(QDateEdit.Section.DaySection)  # where Tab or a click lands
    qtbot.keyClicks(edit, typed)
    qtbot.keyClick(edit, Qt.Key.Key_Tab)
    assert edit.date() == QDate(1956, 3, 3)
    assert edit.text() == "03.03.1956"
