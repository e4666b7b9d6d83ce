"""The client's own version, as installed (``phms`` package metadata), and the oldest
schema revision this release works with."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Final

#: The oldest database revision this client works with (``phms_client.db.gate``). Raise
#: it when client code starts to rely on something a later migration adds, unless the
#: code falls back without it; tests/db/test_client_window.py runs the client on a
#: database at this revision. 0019: the name search reads the typo search's
#: dictionary (``phms.search_word``, ``phms.alike_words``).
OLDEST_SCHEMA: Final = "0019"


def client_version() -> str:
    try:
        return version("phms")
    except PackageNotFoundError:
        return "0+unknown"
