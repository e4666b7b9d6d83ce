"""Help > About, Help > Report a problem, the unexpected-error hook and ``phms --version``."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from phms_client import logbuffer
from phms_client.ui.shell.about_dialog import AboutDialog
from phms_client.ui.shell.app_shell import install_excepthook, unexpected_error_hook
from phms_client.ui.shell.problem_dialog import ProblemDialog
from phms_client.version import OLDEST_SCHEMA, client_version
from phms_schema import SCHEMA_REVISION
from tests.harness import PgDatabase
from tests.ui.shell_support import Running, logged_in_shell, server_settings, write_location


@pytest.fixture
def running(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> Iterator[Running]:
    logbuffer.install()
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clerk") as run:
        yield run


def test_menus_carry_the_shell_actions(running: Running) -> None:
    window = running.window
    assert running.shell.settings_action in window.options_menu.actions()
    help_actions = window.help_menu.actions()
    assert running.shell.about_action in help_actions
    assert running.shell.problem_action in help_actions
    assert [a.text() for a in help_actions if not a.isSeparator()] == [
        "&What's new…",
        "&Report a problem…",
        "&About PHMS",
    ]
    # Every menu entry has its Alt+letter (menus, then the entry's letter).
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        assert "&" in menu_action.text(), menu_action.text()
        assert menu is not None
        for action in menu.actions():
            if action.isVisible() and not action.isSeparator():
                assert "&" in action.text(), action.text()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_about_shows_versions_server_and_user(
    qtbot: QtBot, running: Running, db: PgDatabase
) -> None:
    assert running.shell.about_action is not None
    running.shell.about_action.trigger()
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, AboutDialog)
    qtbot.waitUntil(lambda: dialog.status_label.isHidden(), timeout=5_000)
    values = {key: label.text() for key, label in dialog.values.items()}
    assert values["client"] == client_version()
    assert values["server"] == f"127.0.0.1:{db.server.port}"
    assert values["database"] == db.name
    assert values["postgres"].startswith("18")
    assert values["schema"] == f"{SCHEMA_REVISION} (as this client expects)"
    assert values["works_with"] == f"schema {OLDEST_SCHEMA} or newer"
    assert values["accepts"] == "PHMS 0.2.0 or newer"
    assert values["user"] == "t_clerk (clerk)"
    assert "t_clerk (clerk)" in dialog.details() and values["postgres"] in dialog.details()
    dialog.copy_details()
    assert QApplication.clipboard().text() == dialog.details()
    dialog.reject()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_report_a_problem_shows_and_stores_exactly_what_is_sent(
    qtbot: QtBot, running: Running, admin_engine: sa.Engine
) -> None:
    marker = "phms-test-marker before the report"
    logging.getLogger("phms_client.test").warning(marker)
    assert running.shell.problem_action is not None
    running.shell.problem_action.trigger()
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, ProblemDialog)
    logging.getLogger("phms_client.test").warning("after opening: not part of this report")

    preview = dialog.preview.toPlainText()
    assert marker in preview and "after opening" not in preview
    assert f"Client version:  {client_version()}" in preview
    assert "Reported by:     t_clerk" in preview

    dialog.send_button.click()  # no description yet
    assert "describe the problem" in dialog.message_label.text()
    qtbot.keyClicks(dialog.description_edit, "The list did not refresh after saving.")
    assert "The list did not refresh after saving." in dialog.preview.toPlainText()
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.send_button.click()
    assert "sent to IT" in running.window.statusBar().currentMessage()

    with admin_engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT reported_by, description, client_version, log_tail, schema_revision"
                " FROM phms.problem_report ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert row.reported_by == "t_clerk"
    assert row.description == "The list did not refresh after saving."
    assert row.client_version == client_version()
    assert row.log_tail == dialog.log_tail and marker in row.log_tail
    assert row.schema_revision == SCHEMA_REVISION


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_unexpected_error_is_logged_and_shown_without_traceback(qtbot: QtBot) -> None:
    logbuffer.install()
    previous = install_excepthook()
    try:
        assert sys.excepthook is unexpected_error_hook
    finally:
        sys.excepthook = previous
    try:
        raise ZeroDivisionError("a bug in a slot")
    except ZeroDivisionError as exc:
        unexpected_error_hook(type(exc), exc, exc.__traceback__)
    box = next(
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    )
    try:
        assert box.windowTitle() == "PHMS — Unexpected error"
        assert "Report a problem" in box.informativeText()
        assert "Traceback" not in box.text() + box.informativeText()
        assert "Traceback" in logbuffer.MEMORY_LOG.tail()  # for IT, in the report's log tail
        assert "ZeroDivisionError: a bug in a slot" in logbuffer.MEMORY_LOG.tail()
    finally:
        box.accept()  # (deletes itself on close)


def test_version_needs_no_gui() -> None:
    code = (
        "import sys; from phms_client.app import main; rc = main(['--version']); "
        "print('qt loaded' if 'PySide6.QtWidgets' in sys.modules else 'no qt'); sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"PHMS {client_version()}", "no qt"]
