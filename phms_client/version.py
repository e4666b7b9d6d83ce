"""The client's own version, as installed (``phms`` package metadata)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def client_version() -> str:
    try:
        return version("phms")
    except PackageNotFoundError:
        return "0+unknown"
