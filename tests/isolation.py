"""The suite never uses the environment of whoever runs it.

An admin's shell may point ``PHMS_DATABASE_URL`` (or libpq's ``PGHOST``/``PGPASSWORD``,
a ``~/.pgpass``, a service file) at the clinic's live server, or hold
``PHMS_ADMIN_PASSWORD``; the user's and the site's ``client.toml``, the local embedded
server in the user's data folder and the desktop keyring are real too. ``isolate()``
runs when ``tests/conftest.py`` is imported, before any test: it removes every
``PHMS_*`` and ``PG*`` variable from ``os.environ`` (so programs the tests start inherit
the clean environment too) and points the settings files, the XDG folders, libpq's own
files and the keyring at empty places of this run.

Proven by ``tests/e2e/test_suite_isolation.py``: part of the suite, run with all of
these aimed at a live server, leaves that server untouched.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

#: Where the UI tests save the docs' screenshots: an output folder, reaches no server.
KEEP: Final = frozenset({"PHMS_SCREENSHOTS"})

#: What isolate() removed (name -> value), for tests that show what was at stake.
REMOVED: dict[str, str] = {}


def is_removed(name: str) -> bool:
    return (name.startswith("PHMS_") and name not in KEEP) or name.startswith("PG")


def isolate() -> Path:
    """Clean ``os.environ`` for this process and its children; return the run's home."""
    for name in [n for n in os.environ if is_removed(n)]:
        REMOVED[name] = os.environ.pop(name)
    home = Path(tempfile.mkdtemp(prefix="phms-test-env-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    safe = {
        # Both settings files absent: empty layers, never /etc/phms or ~/.config/phms.
        "PHMS_SITE_CONFIG": home / "site" / "client.toml",
        "PHMS_USER_CONFIG": home / "user" / "client.toml",
        # platformdirs on Linux: no real user's settings, nor their local embedded server.
        "XDG_CONFIG_HOME": home / "config",
        "XDG_DATA_HOME": home / "data",
        "XDG_STATE_HOME": home / "state",
        # libpq's own files: no ~/.pgpass, no service file.
        "PGPASSFILE": home / "pgpass",
        "PGSERVICEFILE": home / "pg_service.conf",
        "PGSYSCONFDIR": home / "pgsysconf",
    }
    for name, path in safe.items():
        os.environ[name] = str(path)
    # The desktop's credential store is never used; tests that need one install their own.
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return home


#: The variables isolate() sets itself (to places of the run's own).
SET_BY_ISOLATION: Final = frozenset(
    {"PHMS_SITE_CONFIG", "PHMS_USER_CONFIG", "PGPASSFILE", "PGSERVICEFILE", "PGSYSCONFDIR"}
)
