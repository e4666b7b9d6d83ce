"""The shell around the real MainWindow (the patient side's window), logged in for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from phms_client.ui.shell.app_shell import main_window_factory
from tests.harness import PgDatabase
from tests.ui.keyboard import clashes, problems
from tests.ui.patient_env import create_patients, person, staff_database, unique_family
from tests.ui.shell_support import Running, logged_in_shell, server_settings, write_location

main_window = pytest.importorskip("phms_client.ui.shell.main_window")


@pytest.fixture
def running(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> Iterator[Running]:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clerk", window_factory=main_window_factory) as run:
        yield run


def test_shell_opens_main_window_with_its_menu_entries(running: Running) -> None:
    window = running.shell.window
    assert isinstance(window, main_window.MainWindow)
    assert running.shell.settings_action in window.options_menu.actions()
    assert running.shell.about_action in window.help_menu.actions()
    assert running.shell.problem_action in window.help_menu.actions()
    assert window.windowTitle().startswith("PHMS")


def test_lost_connection_makes_the_main_window_read_only_until_back(
    qtbot: QtBot, running: Running
) -> None:
    window, ctx, banner = running.shell.window, running.shell.context, running.shell.banner
    assert isinstance(window, main_window.MainWindow) and ctx is not None and banner is not None
    assert window.new_patient_action.isEnabled()
    ctx.connection.connection_lost()  # what a failed task reports
    assert banner.connection_lost_shown and not window.new_patient_action.isEnabled()
    # The server is in fact there: the first reconnect attempt brings everything back.
    qtbot.waitUntil(lambda: ctx.connection.online, timeout=10_000)
    assert not banner.connection_lost_shown and window.new_patient_action.isEnabled()


def test_idle_lock_also_hides_the_patient_list(qtbot: QtBot, running: Running) -> None:
    window, idle = running.shell.window, running.shell.idle
    assert isinstance(window, main_window.MainWindow) and idle is not None
    central = window.centralWidget()
    assert central is not None and central.isVisible()
    idle.lock()
    assert not central.isVisible()  # MainWindow.hide_patient_data, under the cover
    idle.unlock()
    assert central.isVisible()


@pytest.fixture
def clinician(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> Iterator[Running]:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clinician", window_factory=main_window_factory) as run:
        yield run


def press_ctrl_q(qtbot: QtBot, widget: QWidget) -> None:
    widget.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget, timeout=5_000)
    qtbot.keyClick(widget, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)


def test_file_quit_is_ctrl_q_and_ends_the_session(qtbot: QtBot, running: Running) -> None:
    window = running.shell.window
    assert isinstance(window, main_window.MainWindow)
    menu_bar = window.menuBar()
    assert menu_bar.actions()[0].text() == "&File"
    assert running.shell.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    press_ctrl_q(qtbot, window)
    qtbot.waitUntil(lambda: running.exit_codes == [0], timeout=5_000)
    assert not window.isVisible()


def test_ctrl_q_from_a_chart_window_closes_everything(
    qtbot: QtBot, clinician: Running, db: PgDatabase
) -> None:
    window = clinician.shell.window
    assert isinstance(window, main_window.MainWindow)
    with staff_database(db, "t_clinician") as database:
        (patient,) = create_patients(database, person(unique_family("Quit")))
    chart = window.open_chart(patient.id)
    qtbot.waitExposed(chart)
    press_ctrl_q(qtbot, chart)
    qtbot.waitUntil(lambda: clinician.exit_codes == [0], timeout=5_000)
    assert not shiboken6.isValid(chart) or not chart.isVisible()  # closed, deleted on close
    assert not window.isVisible()


def test_ctrl_q_with_unsaved_work_asks_first(qtbot: QtBot, clinician: Running) -> None:
    window = clinician.shell.window
    assert isinstance(window, main_window.MainWindow)
    window.new_patient_action.trigger()
    (form,) = window.forms()
    qtbot.waitExposed(form)
    form.fields.family_edit.setText("Not saved yet")
    assert form.is_dirty()
    press_ctrl_q(qtbot, window)
    qtbot.waitUntil(lambda: form.discard_box is not None, timeout=5_000)
    qtbot.wait(100)  # the shell looks once the window has decided
    assert clinician.exit_codes == [] and window.isVisible()
    box = form.discard_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert form.isVisible() and form.fields.family_edit.text() == "Not saved yet"
    assert clinician.exit_codes == []


def test_main_window_keys_are_all_different(qtbot: QtBot, clinician: Running) -> None:
    """Every button of the main window (day list included) has its Alt+letter, and no
    two share one (Alt+F was both the File menu and the search field)."""
    window = clinician.shell.window
    assert isinstance(window, main_window.MainWindow)
    qtbot.waitExposed(window)
    assert problems(window) == []
    assert clashes(window) == {}
