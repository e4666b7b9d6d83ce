"""Options > Staff accounts: an account's whole life, through the window, for real.

An admin creates a login in the window; that person logs in (the real login window),
must choose a password, and works; their old password no longer works; the admin
disables the account and the login window says so. Every step is in the audit trail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.db.login import login
from phms_client.services.staff import StaffMember
from phms_client.ui.admin.staff_dialogs import AccountDialog, GroupDialog
from phms_client.ui.admin.staff_model import StaffModel
from phms_client.ui.admin.staff_window import StaffWindow
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinic_support import (
    Workstation,
    clinic_context,
    log_in_forced,
    shell_for,
    type_passwords,
    unique_name,
)
from tests.ui.shell_support import type_login, wait_for_message


def open_window(qtbot: QtBot, station: Workstation) -> StaffWindow:
    window = StaffWindow(station.ctx, station.windows)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=10_000)
    return window


def wait_done(qtbot: QtBot, window: StaffWindow, text: str) -> None:
    def done() -> None:
        assert not window.message_label.isVisible(), window.message_label.text()
        assert text in window.status_label.text()

    qtbot.waitUntil(done, timeout=10_000)


def member(window: StaffWindow, name: str) -> StaffMember:
    row = window.model.row_of(name)
    assert row is not None, f"{name} not listed"
    return window.model.member(row)


def audit(admin_engine: sa.Engine, name: str) -> list[tuple[str, str]]:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT operation, session_user_name FROM audit.event "
                "WHERE table_name = 'staff' AND row_key = :k ORDER BY id"
            ),
            {"k": name},
        )
        return [(r.operation, r.session_user_name) for r in rows]


def test_account_lifecycle(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    name = unique_name("x_life")
    with clinic_context(qtbot, db, "t_admin") as admin:
        window = open_window(qtbot, admin)
        assert member(window, "t_admin").group == "admin"
        # Own account: neither disable nor regroup.
        window.select("t_admin")
        assert not window.enable_button.isEnabled() and not window.group_button.isEnabled()

        qtbot.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
        dialog = window.dialog
        assert isinstance(dialog, AccountDialog)
        qtbot.keyClicks(dialog.name_edit, "t_clerk")
        dialog.group_combo.setCurrentIndex(dialog.group_combo.findData("clerk"))
        qtbot.keyClicks(dialog.password_edit, "short")
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert "already a login named “t_clerk”" in dialog.message_label.text()
        dialog.name_edit.setText(name)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert "too short: it needs at least 12" in dialog.message_label.text()
        dialog.password_edit.setText("first-password-77")
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        wait_done(qtbot, window, f"Created {name} (clerk)")
        assert member(window, name) == StaffMember(name, "clerk", True)
        assert window.current() == member(window, name)  # the new login is selected

        # The person logs in for real: a password of their own first, then PHMS opens.
        with shell_for(qtbot, tmp_path, db) as shell:
            change = log_in_forced(qtbot, shell, name, "first-password-77")
            with qtbot.waitSignal(shell.main_window_opened, timeout=15_000):
                type_passwords(qtbot, change, "chosen-by-me-123", "chosen-by-me-123")
            assert shell.context is not None and shell.context.login.group == "clerk"
        with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
            login(config_for(db), name, "first-password-77")

        # The admin disables the account (after confirming).
        window.select(name)
        assert window.enable_button.text() == "&Disable"
        qtbot.mouseClick(window.enable_button, Qt.MouseButton.LeftButton)
        box = window.confirm_box
        assert isinstance(box, QMessageBox) and name in box.text()
        disable = next(b for b in box.buttons() if b.text() == "Disable")
        qtbot.mouseClick(disable, Qt.MouseButton.LeftButton)
        wait_done(qtbot, window, f"Disabled {name}.")
        assert not member(window, name).enabled
        assert window.enable_button.text() == "&Enable"

        # Their login window now says the account is disabled.
        with shell_for(qtbot, tmp_path, db) as shell:
            login_dialog = shell.login_dialog
            assert login_dialog is not None
            type_login(qtbot, login_dialog, name, "chosen-by-me-123")
            message = wait_for_message(qtbot, login_dialog)
            assert "Account disabled" in message and "administrator" in message
            assert shell.window is None

        qtbot.mouseClick(window.enable_button, Qt.MouseButton.LeftButton)  # no question
        wait_done(qtbot, window, f"{name} may log in again.")
        assert member(window, name).enabled
        window.close()

    assert audit(admin_engine, name) == [
        ("CREATE", "t_admin"),
        ("CHANGE_OWN_PASSWORD", name),
        ("DISABLE", "t_admin"),
        ("ENABLE", "t_admin"),
    ]


def test_reset_password_and_change_group(
    qtbot: QtBot, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    name = unique_name("x_nurse")
    with clinic_context(qtbot, db, "t_admin") as admin:
        window = open_window(qtbot, admin)
        dialog = window.new_login()
        dialog.name_edit.setText(name)
        dialog.generate()
        assert len(dialog.password) >= 16
        dialog.check_and_accept()
        wait_done(qtbot, window, f"Created {name} (clinician)")  # the default group

        window.select(name)
        group = window.change_group()
        assert isinstance(group, GroupDialog)
        group.group_combo.setCurrentIndex(group.group_combo.findData("auditor"))
        group.accept()
        wait_done(qtbot, window, f"{name} is now in the group auditor.")
        assert member(window, name).group == "auditor"

        reset = window.reset_password()
        assert isinstance(reset, AccountDialog) and reset.reset_for == name
        reset.password_edit.setText("temporary-pass-55")
        qtbot.mouseClick(reset.ok_button, Qt.MouseButton.LeftButton)
        wait_done(qtbot, window, f"New temporary password for {name}.")
        window.close()

    database, info = login(config_for(db), name, "temporary-pass-55")
    database.close()
    assert info.group == "auditor" and info.must_change_password
    assert [op for op, _who in audit(admin_engine, name)] == [
        "CREATE",
        "CHANGE_GROUP",
        "RESET_PASSWORD",
    ]


def test_server_refusals_are_shown_in_plain_words(qtbot: QtBot, db: PgDatabase) -> None:
    with clinic_context(qtbot, db, "t_admin") as admin:
        window = open_window(qtbot, admin)
        # A login the list does not know yet (made elsewhere meanwhile): the server says so.
        window.model.set_rows([m for m in window.model.rows() if m.name != "t_clerk"])
        window._create("t_clerk", "clerk", "long-enough-password")
        qtbot.waitUntil(window.message_label.isVisible, timeout=10_000)
        assert window.message_label.text() == 'A user named "t_clerk" already exists.'
        window.close()


def test_non_admins_cannot_use_it(qtbot: QtBot, db: PgDatabase) -> None:
    """The shell offers no entry; opened anyway, the database refuses the list."""
    with clinic_context(qtbot, db, "t_clinician") as clinician:
        window = StaffWindow(clinician.ctx, clinician.windows)
        window.show()
        qtbot.waitUntil(window.message_label.isVisible, timeout=10_000)
        assert window.message_label.text().startswith("Not allowed:")
        assert window.model.rowCount() == 0
        window.close()


def test_staff_model(qtmodeltester: ModelTester) -> None:
    model = StaffModel()
    model.set_rows(
        [StaffMember("anna_meier", "clinician", True), StaffMember("old_desk", "clerk", False)]
    )
    qtmodeltester.check(model)
    assert model.data(model.index(1, 2)) == "disabled"
    assert model.data(model.index(0, 1)) == "Clinician"
    assert model.row_of("old_desk") == 1
