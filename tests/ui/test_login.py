"""The login dialog against the real test server: success and every kind of refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from phms_admin.embedded import free_port
from phms_client import credentials
from phms_client.services import staff
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.login_dialog import NOT_ALLOWED_TO_REMEMBER, LoginDialog, LoginOutcome
from phms_client.ui.shell.settings_dialog import SettingsDialog
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ui.keyboard import problems, tab_order
from tests.ui.shell_support import server_settings, type_login, wait_for_message, write_location
from tests.unit.phms_client.test_credentials import MemoryKeyring


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner(presenter=lambda error: pytest.fail(f"unexpected {error}"))
    yield runner
    assert runner.shutdown(10_000)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def make_dialog(
    qtbot: QtBot, tasks: TaskRunner, folder: Path, db: PgDatabase, **overrides: object
) -> LoginDialog:
    dialog = LoginDialog(write_location(folder, user=server_settings(db, **overrides)), tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def log_in(qtbot: QtBot, dialog: LoginDialog, user: str, password: str) -> LoginOutcome:
    with qtbot.waitSignal(dialog.logged_in, timeout=15_000) as blocker:
        type_login(qtbot, dialog, user, password)
    outcome = blocker.args[0]
    assert isinstance(outcome, LoginOutcome)
    return outcome


def test_login_succeeds_as_the_staff_member(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    assert f"127.0.0.1:{db.server.port}" in dialog.server_label.text()
    outcome = log_in(qtbot, dialog, "t_clinician", STAFF_PASSWORD)
    try:
        assert (outcome.info.user, outcome.info.group) == ("t_clinician", "clinician")
        with outcome.db.session() as s:
            assert s.execute(sa.text("SELECT session_user")).scalar() == "t_clinician"
        assert dialog.result() == LoginDialog.DialogCode.Accepted
        assert dialog.password_edit.text() == ""  # not kept in the widget
    finally:
        outcome.db.close()


def test_busy_indicator_while_connecting(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    with qtbot.waitSignal(dialog.logged_in, timeout=15_000) as blocker:
        type_login(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
        # Right after the click: busy shown, inputs locked, until the answer comes.
        assert not dialog.busy_widget.isHidden()
        assert "Connecting to 127.0.0.1:" in dialog.busy_label.text()
        assert not dialog.login_button.isEnabled() and not dialog.user_edit.isEnabled()
    blocker.args[0].db.close()


def test_wrong_password(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    type_login(qtbot, dialog, "t_clerk", "not-the-password")
    text = wait_for_message(qtbot, dialog)
    assert "Login failed" in text and "Wrong user name or password" in text
    assert dialog.password_edit.text() == ""
    assert dialog.login_button.text() == "&Log in" and dialog.login_button.isEnabled()
    assert dialog.isVisible()


def test_unreachable_server_names_address_and_offers_retry_settings_quit(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    port = free_port()
    dialog = make_dialog(qtbot, tasks, tmp_path, db, server=f"127.0.0.1:{port}")
    type_login(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
    text = wait_for_message(qtbot, dialog)
    assert "Cannot reach the server" in text
    assert f"127.0.0.1:{port}" in text
    assert "VPN" in text and "network" in text and "running" in text
    assert "Traceback" not in text
    assert dialog.login_button.text() == "&Retry"
    assert dialog.settings_button.isEnabled() and dialog.quit_button.isEnabled()
    # Retry really tries again (and fails the same way).
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    assert dialog.message_frame.isHidden()
    assert "Cannot reach the server" in wait_for_message(qtbot, dialog)


def test_quit_rejects(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    with qtbot.waitSignal(dialog.rejected, timeout=2_000):
        qtbot.mouseClick(dialog.quit_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def test_disabled_account(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    with admin_engine.begin() as conn:
        if "x_login_off" not in {m.name for m in staff.list_staff(conn)}:
            staff.create(conn, "x_login_off", "clerk", "a-long-password-3")
        staff.set_enabled(conn, "x_login_off", False)
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    type_login(qtbot, dialog, "x_login_off", "a-long-password-3")
    text = wait_for_message(qtbot, dialog)
    assert "Account disabled" in text and "administrator" in text


def test_tls_failure(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase) -> None:
    # The embedded server has no TLS; insisting on it is a real TLS failure.
    dialog = make_dialog(qtbot, tasks, tmp_path, db, sslmode="require")
    type_login(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
    text = wait_for_message(qtbot, dialog)
    assert "Secure connection failed" in text and "did not send your password" in text


def test_not_a_staff_account(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    type_login(qtbot, dialog, db.server.superuser, db.server.password)
    text = wait_for_message(qtbot, dialog)
    assert "Not a staff account" in text and "not a PHMS staff account" in text


@pytest.mark.parametrize(
    ("revision", "minimum", "expected"),
    [
        ("0001", "0.2.0", "phms-admin db upgrade"),  # older than this client works with
        ("9999", "9.0", "(9.0 or newer)"),  # newer, and it accepts only newer clients
    ],
)
def test_schema_mismatch(
    qtbot: QtBot,
    tasks: TaskRunner,
    tmp_path: Path,
    db: PgDatabase,
    fresh_database: PgDatabase,
    revision: str,
    minimum: str,
    expected: str,
) -> None:
    from phms_admin import migrate

    migrate.upgrade(fresh_database.admin_url)
    engine = sa.create_engine(fresh_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        conn.execute(
            sa.text(
                "UPDATE phms.setting SET value = to_jsonb(CAST(:m AS text)) "
                "WHERE key = 'min_client_version'"
            ),
            {"m": minimum},
        )
    engine.dispose()
    dialog = make_dialog(qtbot, tasks, tmp_path, fresh_database)
    type_login(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
    text = wait_for_message(qtbot, dialog)
    assert expected in text and "Nothing has been changed" in text


def test_empty_fields_are_asked_for(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    assert "enter your user name and password" in dialog.message_label.text()
    assert tasks.pending == 0  # nothing was sent to the server


def offer_stored_password(qtbot: QtBot, dialog: LoginDialog, user: str, stored: str) -> str:
    """Store a password as an earlier login did, type the user name, wait for the offer."""
    assert dialog.config is not None
    key = dialog.config.credential_key
    credentials.remember(key, user, stored)
    qtbot.keyClicks(dialog.user_edit, user)
    dialog.user_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: dialog.password_edit.text() == stored, timeout=5_000)
    assert dialog.remember_box.isChecked()
    return key


def test_remembered_password_is_offered_but_forgotten_when_site_forbids(
    qtbot: QtBot,
    tasks: TaskRunner,
    tmp_path: Path,
    db: PgDatabase,
    memory_keyring: MemoryKeyring,
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    # Stored under an earlier, laxer policy.
    key = offer_stored_password(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
    with qtbot.waitSignal(dialog.logged_in, timeout=15_000) as blocker:
        qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    outcome = blocker.args[0]
    outcome.db.close()
    assert outcome.info.settings.remember_password_allowed is False  # the default
    assert outcome.notice == NOT_ALLOWED_TO_REMEMBER
    assert credentials.recall(key, "t_clerk") is None


def test_no_keychain_and_site_forbids_says_only_that_it_was_not_saved(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        dialog = make_dialog(qtbot, tasks, tmp_path, db)
        dialog.remember_box.setChecked(True)
        outcome = log_in(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
        outcome.db.close()
    finally:
        keyring.set_keyring(previous)
    # Nothing had been remembered: no word about failing to remove it.
    assert outcome.notice == NOT_ALLOWED_TO_REMEMBER
    assert "could not remove" not in outcome.notice


@pytest.fixture
def remembering_allowed(admin_engine: sa.Engine) -> Iterator[None]:
    update = sa.text("UPDATE phms.setting SET value = :v WHERE key = 'remember_password_allowed'")
    with admin_engine.begin() as conn:
        conn.execute(update, {"v": "true"})
    yield
    with admin_engine.begin() as conn:
        conn.execute(update, {"v": "false"})


def test_password_is_remembered_when_site_allows(
    qtbot: QtBot,
    tasks: TaskRunner,
    tmp_path: Path,
    db: PgDatabase,
    memory_keyring: MemoryKeyring,
    remembering_allowed: None,
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    assert dialog.config is not None
    dialog.remember_box.setChecked(True)
    outcome = log_in(qtbot, dialog, "t_auditor", STAFF_PASSWORD)
    outcome.db.close()
    assert outcome.notice == ""
    assert credentials.recall(dialog.config.credential_key, "t_auditor") == STAFF_PASSWORD


def test_unchecked_box_forgets_a_stored_password(
    qtbot: QtBot,
    tasks: TaskRunner,
    tmp_path: Path,
    db: PgDatabase,
    memory_keyring: MemoryKeyring,
    remembering_allowed: None,
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    key = offer_stored_password(qtbot, dialog, "t_auditor", STAFF_PASSWORD)
    dialog.remember_box.setChecked(False)
    with qtbot.waitSignal(dialog.logged_in, timeout=15_000) as blocker:
        qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    blocker.args[0].db.close()
    assert credentials.recall(key, "t_auditor") is None


def test_stale_remembered_password_is_removed(
    qtbot: QtBot,
    tasks: TaskRunner,
    tmp_path: Path,
    db: PgDatabase,
    memory_keyring: MemoryKeyring,
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    key = offer_stored_password(qtbot, dialog, "t_clerk", "an-old-password")
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    text = wait_for_message(qtbot, dialog)
    assert "remembered password is no longer valid" in text
    qtbot.waitUntil(lambda: credentials.recall(key, "t_clerk") is None, timeout=5_000)


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_unusable_settings_show_message_then_settings(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    location = write_location(tmp_path)
    (tmp_path / "user.toml").write_text('port = "eighty"\n')
    dialog = LoginDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.config is None and dialog.config_error is not None
    assert not dialog.login_button.isEnabled()
    assert "Settings problem" in dialog.message_label.text()

    dialog.report_config_error()
    box = dialog.config_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "whole number" in box.informativeText() and "Traceback" not in box.informativeText()
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: isinstance(dialog.settings_dialog, SettingsDialog), timeout=2_000)
    settings = dialog.settings_dialog
    assert isinstance(settings, SettingsDialog)
    assert "cannot be used" in settings.error_label.text()

    # Correct the port in Settings: the login dialog can log in again.
    settings.set_value("hosts", "127.0.0.1")
    settings.set_value("port", str(db.server.port))
    settings.set_value("database", db.name)
    settings.buttons.button(settings.buttons.StandardButton.Save).click()
    assert dialog.config is not None and dialog.login_button.isEnabled()
    assert f"127.0.0.1:{db.server.port}" in dialog.server_label.text()
    outcome = log_in(qtbot, dialog, "t_clerk", STAFF_PASSWORD)
    outcome.db.close()
    assert QApplication.activeModalWidget() is None


def test_keyboard_and_screen_reader(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    dialog = make_dialog(qtbot, tasks, tmp_path, db)
    qtbot.waitExposed(dialog)
    assert problems(dialog) == []
    assert tab_order(dialog) == [
        dialog.user_edit, dialog.password_edit, dialog.remember_box,
        dialog.settings_button, dialog.quit_button, dialog.login_button,
    ]  # fmt: skip
