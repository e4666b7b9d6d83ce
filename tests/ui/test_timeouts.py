"""Nothing waits forever, as staff see it: a locked table, a silently dead link.

The dead link is the benchmark latency proxy told to ``blackhole()``: connections stay
open, nothing is delivered. The window keeps working all along (the database work is
on the task runner's threads), and what was typed is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.db.database import Credentials, Database
from phms_client.services import patients
from phms_client.timeouts import Timeouts
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.main_window import MainWindow
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ui.patient_env import app_context, type_text, unique_family
from tests.ui.shell_support import logged_in_shell, server_settings, write_location

SCREENSHOTS = os.environ.get("PHMS_SCREENSHOTS")


@pytest.fixture
def lock_holder(db: PgDatabase) -> Iterator[sa.Connection]:
    """A clinician at another workstation, in an open transaction."""
    engine = db.engine_for("t_clinician")
    with engine.connect() as conn:
        yield conn
        conn.rollback()
    engine.dispose()


def test_a_locked_patient_table_gives_search_a_busy_message_not_a_frozen_window(
    qtbot: QtBot, db: PgDatabase, lock_holder: sa.Connection, tmp_path: Path
) -> None:
    with app_context(qtbot, config_for(db), "t_clerk") as session:
        window = MainWindow(session.ctx)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        try:
            # The day's appointments are loaded first (they would wait for the lock too).
            qtbot.waitUntil(lambda: "Loading" not in window.day_list.status_label.text())
            lock_holder.execute(sa.text("LOCK TABLE phms.patient IN ACCESS EXCLUSIVE MODE"))
            query = unique_family("Busy")
            started = time.monotonic()
            type_text(qtbot, window.search_box, query)
            # While the search waits for the lock, the window works: the busy bar runs.
            qtbot.waitUntil(window.busy_bar.isVisible, timeout=5_000)
            qtbot.waitUntil(
                lambda: "The server is busy" in window.count_label.text(), timeout=10_000
            )
            waited = time.monotonic() - started
            assert waited < Timeouts().lock_timeout + 3  # the lock timeout, then the message
            assert "try again" in window.count_label.text()
            assert session.presented == []  # a line in the status bar, not a modal box
            assert session.ctx.connection.online  # busy is not a lost connection
            assert window.search_box.text() == query  # what was typed stays
            qtbot.waitUntil(lambda: not window.busy_bar.isVisible(), timeout=3_000)
            window.grab().save(str(tmp_path / "search-busy.png"))
            if SCREENSHOTS:
                window.grab().save(str(Path(SCREENSHOTS) / "search-server-busy.png"))

            lock_holder.rollback()  # the other workstation lets go: the same search works
            window.search.refresh()
            qtbot.waitUntil(lambda: window.count_label.text() == "No patients found", timeout=5_000)
        finally:
            window.close()


# The offscreen platform plugin warns when any top-level window is shown; harmless.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_the_default_error_dialog_says_the_server_is_busy(
    qtbot: QtBot, db: PgDatabase, lock_holder: sa.Connection, tmp_path: Path
) -> None:
    lock_holder.execute(sa.text("LOCK TABLE phms.patient IN ACCESS EXCLUSIVE MODE"))
    database = Database(
        config_for(db, timeouts=Timeouts(lock_timeout=1)), Credentials("t_clerk", STAFF_PASSWORD)
    )
    runner = TaskRunner(address=lambda: database.address)  # the default presenter
    shown: list[tuple[str, str, str, QMessageBox.Icon]] = []

    def close_box() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, close_box)
            return
        shown.append((box.windowTitle(), box.text(), box.informativeText(), box.icon()))
        box.grab().save(str(tmp_path / "busy-box.png"))
        if SCREENSHOTS:
            box.grab().save(str(Path(SCREENSHOTS) / "error-server-busy.png"))
        box.accept()

    def search() -> object:
        with database.session() as s:
            return patients.search(s, "Smith")

    try:
        QTimer.singleShot(0, close_box)
        runner.run(search, on_success=lambda _rows: None)
        qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    finally:
        runner.shutdown(10_000)
        database.close()
    ((title, text, message, icon),) = shown
    assert (title, text, icon) == ("PHMS — Server busy", "Server busy", QMessageBox.Icon.Warning)
    assert message.startswith("The server is busy") and "try again" in message


def test_a_silently_dead_link_shows_connection_lost_keeps_edits_and_reconnects(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase
) -> None:
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        # Shorter than the shipped values (10 s + 5 s), so that the test is quick.
        settings = server_settings(db, connect_timeout=2, link_check_after=2)
        settings["server"] = f"127.0.0.1:{proxy.port}"
        location = write_location(tmp_path, user=settings)
        with logged_in_shell(qtbot, location) as run:
            ctx, banner, window = run.shell.context, run.shell.banner, run.window
            assert ctx is not None and banner is not None and banner.bar is not None
            assert ctx.config.timeouts.link_check_after == 2
            window.editor.setText("typed but not saved")

            proxy.blackhole()
            results: list[object] = []
            started = time.monotonic()
            ctx.tasks.run(lambda: _session_user(ctx.db), on_success=results.append)
            qtbot.waitUntil(lambda: ctx.tasks.busy, timeout=5_000)  # the window is alive
            qtbot.waitUntil(lambda: banner.connection_lost_shown, timeout=30_000)
            assert time.monotonic() - started < 30
            assert not ctx.connection.online and not banner.bar.isHidden()
            assert "unsaved work is kept" in banner.connection.label.text()
            assert window.editor.isReadOnly() and window.editor.text() == "typed but not saved"
            assert run.presented == [] and results == []

            proxy.resume()  # the link comes back: PHMS reconnects by itself
            qtbot.waitUntil(lambda: ctx.connection.online, timeout=20_000)
            assert banner.bar.isHidden() and not window.editor.isReadOnly()
            assert window.editor.text() == "typed but not saved"
            ctx.tasks.run(lambda: _session_user(ctx.db), on_success=results.append)
            qtbot.waitUntil(lambda: results == ["t_clinician"], timeout=10_000)


def _session_user(database: Database) -> str:
    with database.session() as s:
        return str(s.execute(sa.text("SELECT session_user")).scalar())
