"""``phms`` itself: main() runs the login window in the real event loop and quits cleanly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from phms_client.app import main
from phms_client.ui.shell.login_dialog import LoginDialog
from phms_client.ui.shell.settings_dialog import SettingsDialog

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def settings_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the machine's own settings out: both files point into tmp_path."""
    for name in ("PHMS_SERVER", "PHMS_PORT", "PHMS_DATABASE", "PHMS_SSLMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PHMS_SITE_CONFIG", str(tmp_path / "site.toml"))
    monkeypatch.setenv("PHMS_USER_CONFIG", str(tmp_path / "user.toml"))
    return tmp_path


def run_main(argv: list[str], step: object) -> int:
    """main(argv) with ``step()`` polled in its event loop until it returns True."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    hook = sys.excepthook
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(step)  # type: ignore[arg-type]
    timer.start()
    guard = QTimer()  # a broken step must not hang the suite
    guard.setSingleShot(True)
    guard.timeout.connect(lambda: app.exit(99))
    guard.start(15_000)
    try:
        return main(argv)
    finally:
        timer.stop()
        guard.stop()
        app.setQuitOnLastWindowClosed(True)
        assert sys.excepthook is hook  # main() put the previous hook back


def test_main_shows_login_for_the_server_given_and_quits(
    qtbot: QtBot, settings_files: Path
) -> None:
    seen: list[str] = []

    def step() -> None:
        dialog = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, LoginDialog)), None
        )
        if dialog is not None and dialog.isVisible() and not seen:
            seen.append(dialog.server_label.text())
            dialog.quit_button.click()

    assert run_main(["--server", "db.example.invalid:5433"], step) == 0
    assert seen and "db.example.invalid:5433" in seen[0]


def test_main_with_a_bad_server_option_explains_and_opens_settings(
    qtbot: QtBot, settings_files: Path
) -> None:
    seen: list[str] = []

    def step() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and not seen:
            seen.append(box.informativeText())
            box.accept()
        elif isinstance(box, SettingsDialog) and len(seen) == 1:
            seen.append(box.error_label.text())
            box.reject()
            login = box.parentWidget()
            assert isinstance(login, LoginDialog)
            login.quit_button.click()

    assert run_main(["--server", "db:notaport"], step) == 0
    assert len(seen) == 2
    assert "port must be a whole number" in seen[0] and "Traceback" not in seen[0]
    assert "cannot be used" in seen[1]
