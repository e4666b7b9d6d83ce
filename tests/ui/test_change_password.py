"""Forced password change after logging in with a new or reset account (real logins)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from phms_client.db.login import login
from phms_client.services import staff
from phms_client.ui.shell.login_dialog import LoginDialog
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinic_support import log_in_forced, shell_for, type_passwords, unique_name

INITIAL = "initial-password-1"


@pytest.fixture
def newbie(admin_engine: sa.Engine) -> str:
    name = unique_name("x_new")
    with admin_engine.begin() as conn:
        staff.create(conn, name, "clerk", INITIAL)
    return name


def test_new_login_chooses_a_password_before_the_main_window(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase, newbie: str
) -> None:
    with shell_for(qtbot, tmp_path, db) as shell:
        dialog = log_in_forced(qtbot, shell, newbie, INITIAL)
        assert shell.window is None and shell.context is None  # nothing opened yet
        assert dialog.isVisible() and newbie in dialog.intro_label.text()
        assert "At least 12 characters" in dialog.policy_label.text()

        type_passwords(qtbot, dialog, "short", "short")
        assert "too short: it needs at least 12" in dialog.message_label.text()
        type_passwords(qtbot, dialog, INITIAL, INITIAL)
        assert "different from the one you were given" in dialog.message_label.text()
        type_passwords(qtbot, dialog, "my-own-secret-22", "my-own-secret-23")
        assert "not the same" in dialog.message_label.text()
        assert dialog.repeat_edit.text() == ""

        with qtbot.waitSignal(shell.main_window_opened, timeout=15_000):
            type_passwords(qtbot, dialog, "my-own-secret-22", "my-own-secret-22")
        ctx = shell.context
        assert ctx is not None and not ctx.login.must_change_password
        assert ctx.db.credentials.password == "my-own-secret-22"  # works for new connections
        assert shell.window is not None and shell.window.isVisible()

    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        login(config_for(db), newbie, INITIAL)
    database, info = login(config_for(db), newbie, "my-own-secret-22")
    database.close()
    assert not info.must_change_password


def test_log_out_instead_goes_back_to_the_login_window(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase, newbie: str
) -> None:
    with shell_for(qtbot, tmp_path, db) as shell:
        first_login = shell.login_dialog
        dialog = log_in_forced(qtbot, shell, newbie, INITIAL)
        qtbot.mouseClick(dialog.logout_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: shell.login_dialog is not first_login, timeout=5_000)
        again = shell.login_dialog
        assert isinstance(again, LoginDialog) and again.isVisible()
        qtbot.addWidget(again)
        assert shell.window is None and shell.context is None
        # Still the initial password, still to be changed.
        dialog = log_in_forced(qtbot, shell, newbie, INITIAL)
        dialog.reject()
    database, info = login(config_for(db), newbie, INITIAL)
    database.close()
    assert info.must_change_password
