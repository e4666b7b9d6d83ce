"""Every date edit shows day-first digits whatever the system locale, and takes typed
digits (a month-name section would silently ignore a typed month number)."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate, QLocale, Qt
from PySide6.QtWidgets import QDateEdit
from pytestqt.qtbot import QtBot

from phms_client.clinical import demographics
from phms_client.ui.shared import dates
from phms_client.ui.shared.dates import day_display, style_date_edit


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
    assert _edit(qtbot, day_display()).text() == "Tue 24.11.2026"


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


@pytest.mark.parametrize(
    ("language", "country", "separator"),
    [
        (QLocale.Language.German, QLocale.Country.Germany, "."),
        (QLocale.Language.English, QLocale.Country.UnitedKingdom, "/"),
        (QLocale.Language.Dutch, QLocale.Country.Netherlands, "-"),
        # Month first or year first: dates are read back day first, so "." instead.
        (QLocale.Language.English, QLocale.Country.UnitedStates, "."),
        (QLocale.Language.Chinese, QLocale.Country.China, "."),
    ],
)
def test_separator_from_the_system_locale(
    language: QLocale.Language, country: QLocale.Country, separator: str
) -> None:
    assert dates.separator_for(QLocale(language, country)) == separator


def test_one_format_for_shown_and_edited_dates(qtbot: QtBot) -> None:
    """A window never mixes two ways of writing a date: the edit, the weekday header
    and the shown text all come from the same pattern, whichever the locale."""
    try:
        dates.use_locale(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
        edit = _edit(qtbot, day_display())
        day = dt.date(2026, 11, 24)
        assert edit.text() == "Tue 24/11/2026" == demographics.format_weekday(day)
        assert demographics.format_day(dt.date(1956, 4, 1)) == "01/04/1956"
        assert demographics.parse_day(demographics.format_day(day)) == day
    finally:
        dates.use_locale(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    assert demographics.format_day(dt.date(1956, 4, 1)) == "01.04.1956"
