"""Options > Change my password…, for every role, as real logins (any main window)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from phms_client.db.database import Credentials
from phms_client.db.login import login
from phms_client.db.notify import Listener
from phms_client.services import staff
from phms_client.ui.shell.own_password import OwnPasswordDialog
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinic_support import shell_for, unique_name
from tests.ui.screens import capture
from tests.ui.shell_support import type_login

CURRENT = "current-password-1"
NEW = "brand-new-secret-77"


def make_login(admin_engine: sa.Engine, group: str) -> str:
    name = unique_name(f"x_own_{group}")
    with admin_engine.begin() as conn:
        staff.create(conn, name, group, CURRENT)
        conn.execute(
            sa.text(
                "INSERT INTO phms.staff_account (name, must_change_password) VALUES (:n, false)"
                " ON CONFLICT (name) DO UPDATE SET must_change_password = false"
            ),
            {"n": name},
        )
    return name


def fill(qtbot: QtBot, dialog: OwnPasswordDialog, current: str, new: str, repeat: str) -> None:
    for edit, text in (
        (dialog.current_edit, current),
        (dialog.new_edit, new),
        (dialog.repeat_edit, repeat),
    ):
        edit.clear()
        qtbot.keyClicks(edit, text)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def answered(qtbot: QtBot, dialog: OwnPasswordDialog) -> str:
    qtbot.waitUntil(lambda: dialog.message_label.isVisibleTo(dialog), timeout=15_000)
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled(), timeout=15_000)
    return dialog.message_label.text()


@pytest.mark.parametrize("group", ["clerk", "clinician", "admin", "auditor"])
def test_every_role_changes_their_own_password(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase, admin_engine: sa.Engine, group: str
) -> None:
    name = make_login(admin_engine, group)
    with shell_for(qtbot, tmp_path, db) as shell:
        assert shell.login_dialog is not None
        with qtbot.waitSignal(shell.main_window_opened, timeout=15_000):
            type_login(qtbot, shell.login_dialog, name, CURRENT)
        window, entry = shell.window, shell.password_entry
        assert window is not None and entry is not None
        # The entry is in the window's Options menu (a window the shell did not build).
        options = window.options_menu
        assert entry.action in options.actions()
        assert entry.action.text() == "Change my &password…"
        entry.action.trigger()
        dialog = entry.dialog
        assert dialog is not None and dialog.isVisible()
        assert entry.open() is dialog  # one at a time

        fill(qtbot, dialog, "", NEW, NEW)
        assert dialog.message_label.text() == "Please type your current password."
        fill(qtbot, dialog, CURRENT, "short-1", "short-1")
        assert "too short: it needs at least 12 characters" in dialog.message_label.text()
        fill(qtbot, dialog, CURRENT, CURRENT, CURRENT)
        assert "different from the current one" in dialog.message_label.text()
        fill(qtbot, dialog, CURRENT, NEW, NEW + "x")
        assert "differ" in dialog.message_label.text() and dialog.repeat_edit.text() == ""

        # Checked by the server: a wrong current password changes nothing.
        fill(qtbot, dialog, "not-my-password-9", NEW, NEW)
        assert answered(qtbot, dialog).startswith("Your current password is not right")
        # The server's passwordcheck: not the login's own name.
        fill(qtbot, dialog, CURRENT, name, name)
        text = answered(qtbot, dialog)
        assert text.startswith("The server refused the new password:"), text
        assert "user name" in text and "Nothing was changed" in text
        if group == "clinician":
            capture(qtbot, dialog, "change-my-password")

        with qtbot.waitSignal(dialog.changed, timeout=15_000):
            fill(qtbot, dialog, CURRENT, NEW, NEW)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
        ctx = shell.context
        assert ctx is not None and ctx.db.credentials.password == NEW
        # The running session carries on: a fresh connection logs in with the new one.
        ctx.db.reset()
        with ctx.db.session() as s:
            assert s.execute(sa.text("SELECT session_user")).scalar() == name
        assert "new password is set" in window.statusBar().currentMessage()

    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        login(config_for(db), name, CURRENT)
    database, _info = login(config_for(db), name, NEW)
    database.close()
    with admin_engine.connect() as conn:
        audited = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.event WHERE operation = 'CHANGE_OWN_PASSWORD'"
                " AND session_user_name = :n"
            ),
            {"n": name},
        ).scalar()
    assert audited == 1


def test_the_listener_reconnects_with_the_new_password(
    db: PgDatabase, admin_engine: sa.Engine
) -> None:
    """After a change, the live-update listener's next connection uses the new password."""
    name = make_login(admin_engine, "clinician")
    listener = Listener(config_for(db), Credentials(name, CURRENT), on_change=lambda _p: None)
    engine = db.engine_for(name, CURRENT)
    with engine.begin() as conn:
        staff.change_own_password(conn, name, NEW)
    engine.dispose()
    listener.set_password(NEW)
    listener.start()
    try:
        assert listener.connected.wait(15)
    finally:
        listener.stop()
