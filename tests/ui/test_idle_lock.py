"""Idle lock with a short timeout: cover, wrong and right password, activity, new windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout
from pytestqt.qtbot import QtBot

from phms_client.ui.shell.idle_lock import IdleLock, LockScreen
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ui.shell_support import Running, logged_in_shell, server_settings, write_location

IDLE_MS = 400


@pytest.fixture
def running(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> Iterator[Running]:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clinician", idle_timeout_ms=IDLE_MS) as run:
        yield run


def idle_lock(run: Running) -> IdleLock:
    assert run.shell.idle is not None
    return run.shell.idle


def wait_locked(qtbot: QtBot, run: Running) -> LockScreen:
    lock = idle_lock(run)
    qtbot.waitUntil(lambda: lock.locked, timeout=5_000)
    screen = lock.lock_screen
    assert screen is not None
    return screen


def unlock_with(qtbot: QtBot, screen: LockScreen, password: str) -> None:
    screen.password_edit.clear()
    qtbot.keyClicks(screen.password_edit, password)
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)


def test_locks_when_idle_and_needs_the_users_password(qtbot: QtBot, running: Running) -> None:
    window, lock = running.window, idle_lock(running)
    window.editor.setText("unsaved note")
    screen = wait_locked(qtbot, running)

    # Content is covered and cannot be used; the screen says who may unlock it.
    cover = screen.parentWidget()
    assert cover is not None and cover.parentWidget() is window
    assert cover.isVisible() and cover.geometry() == window.rect()
    assert not window.editor.isEnabled() and not window.menuBar().isEnabled()
    assert "t_clinician" in screen.who_label.text() and "clinician" in screen.who_label.text()

    unlock_with(qtbot, screen, "wrong-password")
    qtbot.waitUntil(lambda: not screen.message_label.isHidden(), timeout=10_000)
    assert "Wrong password" in screen.message_label.text()
    assert lock.locked and not window.editor.isEnabled()

    with qtbot.waitSignal(lock.locked_changed, timeout=10_000) as blocker:
        unlock_with(qtbot, screen, STAFF_PASSWORD)
    assert blocker.args == [False]
    assert not lock.locked
    assert window.editor.isEnabled() and window.menuBar().isEnabled()
    assert window.editor.text() == "unsaved note"  # work kept
    qtbot.waitUntil(lambda: not window.findChildren(LockScreen), timeout=1_000)
    # The timer runs again: idle once more, locked once more.
    wait_locked(qtbot, running)


def test_input_keeps_it_unlocked(qtbot: QtBot, running: Running) -> None:
    lock, editor = idle_lock(running), running.window.editor
    for _ in range(6):  # 6 x 150 ms of typing > IDLE_MS
        qtbot.keyClick(editor, Qt.Key.Key_A)
        qtbot.wait(150)
        assert not lock.locked
    wait_locked(qtbot, running)  # and once the typing stops, it locks


def test_windows_open_or_opening_while_locked_are_covered(qtbot: QtBot, running: Running) -> None:
    def chart_like_window() -> QDialog:
        other = QDialog(running.window)
        QVBoxLayout(other).addWidget(QLabel("Chart of a patient"))
        other.resize(500, 300)
        qtbot.addWidget(other)
        other.show()
        return other

    before = chart_like_window()
    screen = wait_locked(qtbot, running)
    assert before.findChildren(LockScreen)  # covered too
    after = chart_like_window()
    qtbot.waitUntil(lambda: bool(after.findChildren(LockScreen)), timeout=2_000)
    label = after.findChild(QLabel, options=Qt.FindChildOption.FindDirectChildrenOnly)
    assert label is not None and not label.isEnabled()

    unlock_with(qtbot, screen, STAFF_PASSWORD)
    qtbot.waitUntil(lambda: not idle_lock(running).locked, timeout=10_000)
    qtbot.waitUntil(lambda: not after.findChildren(LockScreen), timeout=2_000)
    assert label.isEnabled()


def test_quit_from_the_lock_screen_takes_two_clicks(qtbot: QtBot, running: Running) -> None:
    screen = wait_locked(qtbot, running)
    qtbot.mouseClick(screen.quit_button, Qt.MouseButton.LeftButton)
    assert running.exit_codes == [] and "unsaved changes will be lost" in screen.quit_button.text()
    with qtbot.waitSignal(running.shell.finished, timeout=5_000):
        qtbot.mouseClick(screen.quit_button, Qt.MouseButton.LeftButton)
    assert running.exit_codes == [0]


def test_site_idle_minutes_apply_and_follow_changes(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    update = sa.text("UPDATE phms.setting SET value = :v WHERE key = 'idle_lock_minutes'")
    with logged_in_shell(qtbot, location, "t_clerk", idle_timeout_ms=None) as run:
        ctx, lock = run.shell.context, idle_lock(run)
        assert ctx is not None
        qtbot.waitUntil(ctx.live.is_listening, timeout=10_000)
        assert lock.timeout_ms == 15 * 60_000  # the default site setting
        try:
            with admin_engine.begin() as conn:
                conn.execute(update, {"v": "5"})
            qtbot.waitUntil(lambda: lock.timeout_ms == 5 * 60_000, timeout=5_000)
            assert ctx.login.settings.idle_lock_minutes == 5
        finally:
            with admin_engine.begin() as conn:
                conn.execute(update, {"v": "15"})
