"""Entry point of the PHMS desktop client (``phms``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any


def client_version() -> str:
    # importlib.metadata loads a good part of the standard library: only when asked.
    from phms_client.version import client_version

    return client_version()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="phms", description="PHMS desktop client")
    parser.add_argument("--server", help="database server HOST[:PORT] (overrides the settings)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    if getattr(sys, "frozen", False):  # the installed program: a newer update runs instead
        from phms_client.update.launcher import start_newest

        if start_newest(sys.argv[1:] if argv is None else argv):
            return 0
    args = parse_args(argv)
    if args.version:
        print(f"PHMS {client_version()}")
        return 0
    return run(args.server)


#: Benchmarks: print ``PHMS_SHOWN <epoch seconds>`` once the login window is shown, and quit.
EXIT_WHEN_SHOWN = "PHMS_EXIT_WHEN_SHOWN"


def _exit_when_shown(app: Any, window: Any) -> None:
    from PySide6.QtCore import QTimer

    def shown() -> None:
        # The first turn of the event loop: the window has been shown and exposed.
        print(f"PHMS_SHOWN {time.time():.6f} visible={int(window.isVisible())}", flush=True)
        app.exit(0)

    QTimer.singleShot(0, shown)


def _after_shown(app: Any) -> None:
    """Once the login window is up: the version, and the modules the login and the main
    windows need (SQLAlchemy, psycopg, the schema, charts, reports: most of a second),
    imported while the person types, not before the window shows nor after "Log in"."""
    version = client_version()
    app.setApplicationVersion(version)
    logging.getLogger(__name__).info("PHMS %s starting", version)
    import phms_client.db.login
    import phms_client.ui.audit.window
    import phms_client.ui.shell.main_window
    import phms_client.ui.shell.site_settings
    import phms_client.ui.shell.updates  # noqa: F401  (the release check: 0.2 s)


def run(server: str | None) -> int:
    """Start the GUI: log in, work, quit. Qt is imported only here."""
    from PySide6.QtWidgets import QApplication

    from phms_client import logbuffer
    from phms_client.ui.shell.app_shell import AppShell, install_excepthook
    from phms_client.ui.shell.settings_values import ConfigLocation

    logbuffer.install()
    console = logging.StreamHandler()  # for whoever started PHMS from a terminal
    console.setLevel(logging.WARNING)
    logging.getLogger().addHandler(console)

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("PHMS")
    from phms_client.ui.shell.display import display_problem

    problem = display_problem(app)
    if problem is not None:  # black windows would say nothing
        logging.getLogger(__name__).error("%s", problem)
        return 1
    from PySide6.QtCore import QLocale

    from phms_client.ui.shared import dates

    dates.use_locale(QLocale.system())  # one way of writing dates in every window
    # The shell decides when the session is over (the login dialog closes before
    # the main window opens, and the lock screen can end the session).
    app.setQuitOnLastWindowClosed(False)
    from phms_client.ui.shared.gc_guard import GuiThreadCollector

    # Cycles of Qt objects must be freed on the GUI thread, never in a worker.
    collector = GuiThreadCollector(app)
    previous_hook = install_excepthook()
    shell = AppShell(ConfigLocation(server=server))
    shell.finished.connect(app.exit)
    login_window = shell.start()
    if os.environ.get(EXIT_WHEN_SHOWN) == "1":
        _exit_when_shown(app, login_window)
    else:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: _after_shown(app))
    try:
        return int(app.exec())
    finally:
        shell.shutdown()
        collector.stop()
        sys.excepthook = previous_hook
        logging.getLogger().removeHandler(console)
