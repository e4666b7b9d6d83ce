"""Screens of the shell, rendered for real: login errors, settings, banner, lock, About.

With ``PHMS_SCREENSHOTS=DIR`` the images are written there as PNG (for docs/screenshots);
without it, the test still renders each screen and checks the image is a real picture
(the right size, not one flat colour).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from phms_admin.embedded import free_port
from phms_client import logbuffer
from phms_client.db.errors import ErrorKind
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.login_dialog import LoginDialog
from phms_client.ui.shell.problem_dialog import ProblemDialog
from phms_client.ui.shell.settings_dialog import SettingsDialog
from phms_client.version import client_version
from phms_schema.ddl_compat import DOWNLOAD_HINT_KEY, MIN_CLIENT_KEY
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ui import screens
from tests.ui.shell_support import (
    Running,
    StandInWindow,
    logged_in_shell,
    server_settings,
    type_login,
    wait_for_message,
    write_location,
)

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def window_factory() -> Callable[[AppContext], QMainWindow]:
    """The real main window when it is there; the stand-in otherwise."""
    try:
        from phms_client.ui.shell.main_window import MainWindow
    except ImportError:
        return StandInWindow
    return MainWindow


#: Grab, check and (with PHMS_SCREENSHOTS) save a screenshot.
capture = partial(screens.capture, settle_ms=50)


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner(presenter=lambda error: pytest.fail(f"unexpected {error}"))
    yield runner
    assert runner.shutdown(10_000)


def test_login_unreachable(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    port = free_port()
    location = write_location(
        tmp_path, site={"server": "127.0.0.1", "port": port, "sslmode": "disable"}
    )
    dialog = LoginDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    type_login(qtbot, dialog, "dr.moreau", "secret-password")
    wait_for_message(qtbot, dialog)
    dialog.adjustSize()
    capture(qtbot, dialog, "login-unreachable")


def _window(admin_engine: sa.Engine, minimum: str, hint: str) -> None:
    """Set the database's window as IT would (the superuser may also lower it)."""
    with admin_engine.begin() as conn:
        for key, value in ((MIN_CLIENT_KEY, minimum), (DOWNLOAD_HINT_KEY, hint)):
            conn.execute(
                sa.text(
                    "UPDATE phms.setting SET value = to_jsonb(CAST(:v AS text)) WHERE key = :k"
                ),
                {"k": key, "v": value},
            )


def test_login_client_too_old(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    """The database accepts only a newer PHMS: the login says which, and where to get it."""
    hint = "https://it.clinic.example/phms"
    location = write_location(tmp_path, user=server_settings(db))
    _window(admin_engine, "9.0", hint)
    try:
        dialog = LoginDialog(location, tasks)
        qtbot.addWidget(dialog)
        dialog.show()
        type_login(qtbot, dialog, "t_clinician", STAFF_PASSWORD)
        message = wait_for_message(qtbot, dialog)
    finally:
        _window(admin_engine, "0.2.0", "")
    error = dialog.last_error
    assert error is not None and error.kind is ErrorKind.CLIENT_TOO_OLD
    assert "Newer PHMS needed" in message and html.escape(error.message) in message
    assert f"PHMS {client_version()} is older than this clinic's database accepts" in error.message
    assert f"(9.0 or newer). Get it from {hint}." in error.message
    dialog.adjustSize()
    capture(qtbot, dialog, "login-client-too-old")


def test_settings(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase) -> None:
    location = write_location(
        tmp_path,
        site={"server": "db.clinic.local", "sslmode": "verify-full", "connect_timeout": 5},
        user={"hospital_id": "RBH"},
    )
    dialog = SettingsDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_value("hosts", "127.0.0.1")
    dialog.set_value("port", str(db.server.port))
    dialog.set_value("database", db.name)
    dialog.set_value("sslmode", "disable")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Testing" not in dialog.result_label.text(), timeout=10_000)
    dialog.adjustSize()
    capture(qtbot, dialog, "settings")


@pytest.fixture
def running(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> Iterator[Running]:
    logbuffer.install()
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clinician") as run:
        yield run


@pytest.fixture
def main_window(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase
) -> Iterator[tuple[Running, QMainWindow]]:
    """A logged-in shell whose window is the real MainWindow when it exists."""
    logbuffer.install()
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clinician", window_factory=window_factory()) as run:
        window = run.shell.window
        assert window is not None
        window.resize(960, 600)
        yield run, window


def test_connection_lost_banner(qtbot: QtBot, main_window: tuple[Running, QMainWindow]) -> None:
    run, window = main_window
    banner, ctx = run.shell.banner, run.shell.context
    assert banner is not None and ctx is not None
    banner.show_connection_lost(ctx.config.display_address())
    banner.retry_in(8_000, "Cannot reach the server")
    getattr(window, "set_editable")(False)  # noqa: B009 (the agreed MainWindow hook)
    banner.show_broadcast("The server restarts at 18:00 for maintenance; please save your work.")
    capture(qtbot, window, "banner-connection-lost")


def test_lock_screen(qtbot: QtBot, main_window: tuple[Running, QMainWindow]) -> None:
    run, window = main_window
    idle = run.shell.idle
    assert idle is not None
    idle.lock()
    screen = idle.lock_screen
    assert screen is not None
    qtbot.keyClicks(screen.password_edit, "not-my-password")
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.message_label.isHidden(), timeout=10_000)
    capture(qtbot, window, "lock-screen")


def test_about(qtbot: QtBot, running: Running) -> None:
    dialog = running.shell.open_about()
    qtbot.waitUntil(dialog.status_label.isHidden, timeout=5_000)
    dialog.adjustSize()
    capture(qtbot, dialog, "about")
    dialog.reject()


def test_report_problem(qtbot: QtBot, running: Running) -> None:
    dialog = running.shell.open_problem()
    assert isinstance(dialog, ProblemDialog)
    qtbot.keyClicks(dialog.description_edit, "The patient list did not refresh after saving.")
    capture(qtbot, dialog, "report-problem")
    dialog.reject()
