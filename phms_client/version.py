"""The client's own version, as installed (``phms`` package metadata), and the oldest
schema revision this release works with."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Final

#: The oldest database revision this client works with (``phms_client.db.gate``). Raise
#: it when client code starts to rely on something a later migration adds, unless the
#: code falls back without it; tests/db/test_client_window.py runs the client on a
#: database at this revision. 0015: the login and the About box do without 0016's
#: ``min_client_version`` (the database then records no minimum).
OLDEST_SCHEMA: Final = "0015"


def client_version() -> str:
    try:
        return version("phms")
    except PackageNotFoundError:
        return "0+unknown"
