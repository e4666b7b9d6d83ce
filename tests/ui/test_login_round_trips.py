"""From "Log in" pressed to the main window with its day list: round trips, counted.

Through the latency proxy (no delay: the count is what is measured, not the time).
Connecting costs what libpq and the server need (startup and SCRAM here; TLS adds its
handshake); after that the login is one statement, and the main window's first data,
the day list, is one statement on the same connection. The listener for live
updates has a connection of its own, set up in parallel: one statement after
connecting.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shell.app_shell import AppShell, main_window_factory
from phms_client.ui.shell.main_window import MainWindow
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ui.shell_support import server_settings, write_location

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_log_in_to_main_window(qtbot: QtBot, db: PgDatabase, tmp_path: Path) -> None:
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        conninfo = config_for(db, port=proxy.port).conninfo_kwargs("t_clerk", STAFF_PASSWORD)
        psycopg.connect(**conninfo).close()
        connecting = proxy.counters.round_trips
        location = write_location(
            tmp_path, user={**server_settings(db), "server": f"127.0.0.1:{proxy.port}"}
        )
        at_login: dict[int, int] = {}
        at_first_screen: dict[int, int] = {}

        def window_factory(ctx: AppContext) -> QMainWindow:  # logged in: counts, then build
            at_login.update(proxy.counters.by_connection)
            window = main_window_factory(ctx)
            assert isinstance(window, MainWindow)
            # Connected before anything else listens: counts as the day list arrives,
            # before the after-login checks (updates, release notes) start.
            window.day_list.loaded.connect(
                lambda: at_first_screen or at_first_screen.update(proxy.counters.by_connection)
            )
            return window

        shell = AppShell(location, window_factory=window_factory, idle_timeout_ms=0)
        dialog = shell.start()
        qtbot.addWidget(dialog)
        dialog.user_edit.setText("t_clerk")
        dialog.password_edit.setText(STAFF_PASSWORD)
        try:
            proxy.counters.reset()
            with qtbot.waitSignal(shell.main_window_opened, timeout=15_000):
                dialog.login_button.click()  # "Log in" pressed
            window = shell.window
            assert isinstance(window, MainWindow)
            qtbot.addWidget(window)
            ctx = shell.context
            assert ctx is not None
            qtbot.waitUntil(lambda: bool(at_first_screen), timeout=10_000)
            qtbot.waitUntil(ctx.live.is_listening, timeout=10_000)
            first = min(proxy.counters.by_connection)
            # Logged in: connecting, then one statement; nothing else before the window.
            assert at_login == {first: connecting + 1}
            # The day list: one statement on the same connection (used moments ago, so
            # the pool does not ping it first).
            assert at_first_screen[first] == connecting + 1 + 1
            # Whatever comes after the first screen (updates, release notes) waits for it
            # and shares the pooled connection: the pool opened no second one.
            by_connection = dict(proxy.counters.by_connection)
            assert by_connection.pop(first) >= connecting + 1 + 1
            # The listener's own connection: connecting, then LISTEN on both channels.
            assert list(by_connection.values()) == [connecting + 1]
        finally:
            shell.shutdown()
