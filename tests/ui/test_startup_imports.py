"""The login window shows before SQLAlchemy, psycopg, the schema and keyring are loaded.

Start-up time is measured in benchmarks/ (docs/benchmarks.md, *Start-up*); this checks
what makes it: a fresh interpreter runs the client's start (``app.run`` up to the
login window in the event loop) and reports the heavy packages it has loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Loaded at the login, not at start-up.
DEFERRED = ("sqlalchemy", "psycopg", "phms_schema", "keyring", "importlib.metadata")

_SCRIPT = f"""
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from phms_client import app
shown = {{}}
def report(app_, window):
    def done():
        shown["visible"] = window.isVisible()
        shown["loaded"] = [m for m in {DEFERRED!r} if m in sys.modules]
        app_.exit(0)
    QTimer.singleShot(0, done)
app._exit_when_shown = report
rc = app.main(["--server", "127.0.0.1:1"])
print("RESULT " + json.dumps(shown))
"""


def _result(script: str, folder: Path) -> Any:
    """Run ``script`` in a fresh interpreter (offscreen, ``folder`` as home); what it
    printed after ``RESULT``."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PHMS_EXIT_WHEN_SHOWN": "1",
        "PHMS_SITE_CONFIG": str(folder / "site.toml"),
        "PHMS_USER_CONFIG": str(folder / "user.toml"),
        "HOME": str(folder),
        "XDG_RUNTIME_DIR": str(folder),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_login_window_shows_without_the_database_packages(tmp_path: Path) -> None:
    assert _result(_SCRIPT, tmp_path) == {"visible": True, "loaded": []}


#: What opening a session and its windows import (``AppShell._open_session``, the
#: main window, a chart): loaded while the person types, not after "Log in".
AFTER_LOGIN = (
    "phms_client.db.login",
    "phms_client.ui.shared.connection",
    "phms_client.ui.shared.context",
    "phms_client.ui.shared.live",
    "phms_client.ui.shell.site_settings",
    "phms_client.ui.shell.updates",
    "phms_client.ui.shell.main_window",
    "phms_client.ui.chart.chart_window",
    "sqlalchemy",
    "psycopg",
    "pyqtgraph",
)

_WHILE_TYPING = f"""
import json, sys
from PySide6.QtWidgets import QApplication
from phms_client import app
qt = QApplication([])
app._after_shown(qt)
print("RESULT " + json.dumps([m for m in {AFTER_LOGIN!r} if m not in sys.modules]))
"""


def test_what_the_login_needs_is_loaded_while_the_person_types(tmp_path: Path) -> None:
    assert _result(_WHILE_TYPING, tmp_path) == []
