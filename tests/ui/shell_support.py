"""Helpers for the application-shell tests: real logins through the real dialogs.

``StandInWindow`` is the smallest main window that keeps the shell's agreement with
``MainWindow`` (``options_menu``, ``help_menu``, ``set_editable``), so the shell is
tested on its own. Settings come from files in a temporary folder and an empty
environment, never from the machine running the tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMainWindow, QWidget
from pytestqt.qtbot import QtBot

from phms_client.db.errors import UserError
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shell.app_shell import AppShell, WindowFactory
from phms_client.ui.shell.login_dialog import LoginDialog
from phms_client.ui.shell.settings_values import ConfigLocation
from tests.harness import STAFF_PASSWORD, PgDatabase

#: Reconnect quickly in tests; the production pauses are ui.connection.RETRY_MS.
FAST_RETRY_MS = (300, 600, 1000)


class StandInWindow(QMainWindow):
    """What the shell needs of MainWindow, and a field holding unsaved text."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("PHMS")
        self.options_menu = self.menuBar().addMenu("&Options")
        self.help_menu = self.menuBar().addMenu("&Help")
        self.editor = QLineEdit("unsaved text")
        self.setCentralWidget(self.editor)
        self.editable_calls: list[bool] = []
        self.resize(720, 420)

    def set_editable(self, editable: bool) -> None:
        self.editable_calls.append(editable)
        self.editor.setReadOnly(not editable)


def write_location(
    folder: Path,
    user: Mapping[str, object] | None = None,
    site: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConfigLocation:
    """Settings files in ``folder`` (absent when None) and an explicit environment."""
    site_path, user_path = folder / "site.toml", folder / "user.toml"
    for path, values in ((site_path, site), (user_path, user)):
        if values is not None:
            path.write_text(tomli_w.dumps(dict(values)))
    return ConfigLocation(site_path=site_path, user_path=user_path, environ=dict(environ or {}))


def server_settings(db: PgDatabase, **overrides: object) -> dict[str, object]:
    """The user-file values that reach the test database."""
    values: dict[str, object] = {
        "server": f"127.0.0.1:{db.server.port}",
        "database": db.name,
        "sslmode": "disable",
        "connect_timeout": 3,
    }
    values.update(overrides)
    return values


def type_login(qtbot: QtBot, dialog: LoginDialog, user: str, password: str) -> None:
    dialog.user_edit.clear()
    qtbot.keyClicks(dialog.user_edit, user)
    dialog.password_edit.clear()
    qtbot.keyClicks(dialog.password_edit, password)
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)


def wait_for_message(qtbot: QtBot, dialog: LoginDialog, timeout: int = 15_000) -> str:
    qtbot.waitUntil(lambda: not dialog.message_frame.isHidden(), timeout=timeout)
    assert dialog.busy_widget.isHidden()
    return dialog.message_label.text()


@dataclass
class Running:
    shell: AppShell
    window: StandInWindow
    presented: list[UserError] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)


@contextmanager
def logged_in_shell(
    qtbot: QtBot,
    location: ConfigLocation,
    user: str = "t_clinician",
    *,
    password: str = STAFF_PASSWORD,
    idle_timeout_ms: int | None = 0,
    window_factory: WindowFactory = StandInWindow,
) -> Iterator[Running]:
    """Start the shell, log in through the login dialog, and tear everything down."""
    presented: list[UserError] = []
    shell = AppShell(
        location,
        window_factory=window_factory,
        idle_timeout_ms=idle_timeout_ms,
        retry_ms=FAST_RETRY_MS,
        fallback_presenter=presented.append,
    )
    exit_codes: list[int] = []
    shell.finished.connect(exit_codes.append)
    dialog = shell.start()
    qtbot.addWidget(dialog)
    try:
        with qtbot.waitSignal(shell.main_window_opened, timeout=15_000):
            type_login(qtbot, dialog, user, password)
        window = shell.window
        assert window is not None
        qtbot.addWidget(window)
        yield Running(shell, window, presented, exit_codes)  # type: ignore[arg-type]
    finally:
        shell.shutdown()
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QWidget) and widget.isVisible():
                widget.close()
