"""Release versions: which forms are accepted, and which of two is newer (``packaging``)."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from phms_client.update.errors import UpdateError
from phms_schema.client_release import VERSION_RE


def canonical_version(text: str) -> str:
    """``text`` if it is a release version in canonical form (``0.3.0``), else UpdateError."""
    text = text.strip()
    try:
        parsed = Version(text)
    except InvalidVersion:
        parsed = None
    if parsed is None or str(parsed) != text or re.fullmatch(VERSION_RE.strip("^$"), text) is None:
        raise UpdateError(
            f"{text!r} is not a release version; write it like 0.3.0 (or 0.3.0rc1, 0.3.0.post1)."
        )
    return text


def version_key(text: str) -> Version:
    """For sorting: ``version_key("0.10.0") > version_key("0.9.1")``."""
    return Version(text)


def is_newer(candidate: str, than: str) -> bool:
    """True if ``candidate`` is a later version than ``than`` (an unreadable one never is)."""
    try:
        return Version(candidate) > Version(than)
    except InvalidVersion:
        return False


def short_version(version: str) -> str:
    """``0.3.0`` -> ``0.3`` (what people call it); ``0.3.1`` stays."""
    parts = version.split(".")
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)
