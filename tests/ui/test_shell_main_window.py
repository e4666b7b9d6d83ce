"""The shell around the real MainWindow (the patient side's window), logged in for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from phms_client.ui.app_shell import main_window_factory
from tests.harness import PgDatabase
from tests.ui.shell_support import Running, logged_in_shell, server_settings, write_location

main_window = pytest.importorskip("phms_client.ui.main_window")


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
