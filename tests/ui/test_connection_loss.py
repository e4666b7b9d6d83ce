"""Losing the server while working, and getting it back, with a server of our own.

The connection-loss test stops and restarts a PostgreSQL server, so it must not be
the session's shared one: this module starts a dedicated embedded server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from phms_admin import embedded
from phms_client.db.database import Database
from phms_client.db.errors import ErrorKind
from tests import harness
from tests.harness import PgDatabase
from tests.ui.shell_support import logged_in_shell, server_settings, write_location


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[Path, PgDatabase]]:
    # Chosen already: no forced password change at login.
    logins = {"t_clinician": "clinician"}
    with harness.own_server("phms-test-loss-", "phms_loss", logins, passwords_chosen=True) as db:
        yield db.server.data_dir, db


def session_user(db: Database) -> str:
    with db.session() as s:
        return str(s.execute(sa.text("SELECT session_user")).scalar())


def test_banner_and_read_only_while_offline_then_reconnects_by_itself(
    qtbot: QtBot, tmp_path: Path, own_server: tuple[Path, PgDatabase]
) -> None:
    data_dir, database = own_server
    location = write_location(tmp_path, user=server_settings(database))
    with logged_in_shell(qtbot, location) as run:
        ctx, banner, window = run.shell.context, run.shell.banner, run.window
        assert ctx is not None and banner is not None and banner.bar is not None
        qtbot.waitUntil(ctx.live.is_listening, timeout=10_000)
        assert banner.bar.isHidden() and not banner.connection_lost_shown
        window.editor.setText("typed but not saved")

        embedded.stop(data_dir)
        results: list[str] = []
        ctx.tasks.run(lambda: session_user(ctx.db), on_success=results.append)
        qtbot.waitUntil(lambda: banner.connection_lost_shown, timeout=15_000)
        assert not ctx.connection.online
        assert not banner.bar.isHidden()
        text = banner.connection.label.text()
        assert f"127.0.0.1:{database.server.port}" in text and "unsaved work is kept" in text
        assert window.editable_calls[-1] is False and window.editor.isReadOnly()
        assert run.presented == []  # the failed task went to the banner, not a dialog
        assert results == []

        # "Retry now" tries at once; the server is still down, and the banner says so.
        button = banner.connection.action_button
        assert button is not None
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: "Last attempt: Cannot reach the server" in banner.connection.status.text(),
            timeout=10_000,
        )
        assert "Next attempt in" in banner.connection.status.text()

        embedded.start(data_dir)
        qtbot.waitUntil(lambda: ctx.connection.online, timeout=10_000)
        assert not banner.connection_lost_shown and banner.bar.isHidden()
        assert window.editable_calls[-1] is True and not window.editor.isReadOnly()
        assert window.editor.text() == "typed but not saved"
        assert ctx.login.user == "t_clinician"  # refreshed by the reconnect's schema gate
        ctx.tasks.run(lambda: session_user(ctx.db), on_success=results.append)
        qtbot.waitUntil(lambda: results == ["t_clinician"], timeout=10_000)
        qtbot.waitUntil(ctx.live.is_listening, timeout=15_000)


def test_maintenance_broadcast_is_shown_and_dismissable(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location) as run:
        ctx, banner = run.shell.context, run.shell.banner
        assert ctx is not None and banner is not None and banner.bar is not None
        qtbot.waitUntil(ctx.live.is_listening, timeout=10_000)
        with admin_engine.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_notify('phms_broadcast', :m)"),
                {"m": "The server restarts at 18:00 <today>; please save your work."},
            )
        qtbot.waitUntil(lambda: not banner.broadcast.isHidden(), timeout=5_000)
        assert "restarts at 18:00 &lt;today&gt;" in banner.broadcast.label.text()
        assert not banner.bar.isHidden() and ctx.connection.online
        assert banner.broadcast.dismiss_button is not None
        qtbot.mouseClick(banner.broadcast.dismiss_button, Qt.MouseButton.LeftButton)
        assert banner.broadcast.isHidden() and banner.bar.isHidden()


def test_other_errors_still_reach_the_error_dialog(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase
) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clerk") as run:
        ctx = run.shell.context
        assert ctx is not None

        def read_audit() -> None:
            with ctx.db.session() as s:
                s.execute(sa.text("SELECT count(*) FROM audit.event")).scalar()

        ctx.tasks.run(read_audit, on_success=lambda _none: None)
        qtbot.waitUntil(lambda: bool(run.presented), timeout=5_000)
        assert run.presented[0].kind is ErrorKind.PERMISSION_DENIED
        assert ctx.connection.online and not run.shell.banner.connection_lost_shown  # type: ignore[union-attr]
