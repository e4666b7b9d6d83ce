"""Every date edit reads like the demographics (``24 Nov 2026``) and still takes typing."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QLocale, Qt
from PySide6.QtWidgets import QDateEdit
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import format_day
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
    assert edit.text() == format_day(dt.date(2026, 11, 24)) == "24 Nov 2026"
    edit.setDate(QDate(1956, 3, 3))
    assert edit.text() == "3 Mar 1956" == format_day(dt.date(1956, 3, 3))
    assert edit.calendarWidget().locale().language() == QLocale.Language.English


def test_with_the_weekday(qtbot: QtBot) -> None:
    assert _edit(qtbot, DAY_DISPLAY).text() == "Tue 24 Nov 2026"


def test_typing_a_date(qtbot: QtBot) -> None:
    edit = _edit(qtbot)
    edit.setFocus(Qt.FocusReason.TabFocusReason)
    edit.setSelectedSection(QDateEdit.Section.DaySection)  # where Tab or a click lands
    qtbot.keyClicks(edit, "3 Mar 1956")
    qtbot.keyClick(edit, Qt.Key.Key_Tab)
    assert edit.date() == QDate(1956, 3, 3)
    assert edit.text() == "3 Mar 1956"
