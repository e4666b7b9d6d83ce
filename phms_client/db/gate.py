"""Schema gate: the compatibility window between this client and the database.

Each client release declares the oldest schema revision it works with
(``phms_client.version.OLDEST_SCHEMA``); the database records the oldest client
version it accepts (the ``min_client_version`` setting, from revision 0016 on;
``phms_schema.ddl_compat``). A client logs in when both hold:

- the database's revision is at least the client's oldest one (else: IT must
  upgrade the database);
- the client's version is at least the database's minimum (else
  :class:`~phms_client.db.errors.ClientTooOld`, with where to get a newer one).

A database newer than the client was built for is accepted only when it records a
minimum (the newer migrations that break older clients raised it); one that
records none vouches for nothing, and the client asks to be replaced.

Revision ids are sequential numbers ("0001", "0002", ...), so older and newer
can be told apart without the migration scripts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from packaging.version import InvalidVersion, Version

from phms_client.db.errors import ClientTooOld, SchemaMismatch
from phms_client.version import OLDEST_SCHEMA, client_version
from phms_schema import SCHEMA_REVISION
from phms_schema.ddl_compat import DOWNLOAD_HINT_KEY, MIN_CLIENT_KEY

__all__ = [
    "ClientRelease",
    "Window",
    "check_window",
    "database_revision",
    "is_older",
    "this_release",
]


@dataclass(frozen=True)
class ClientRelease:
    """What a client release is and which schemas it works with."""

    version: str
    #: The revision it was built for (the head of its migrations).
    schema: str
    #: The oldest revision it works with (features of later ones degrade gracefully).
    oldest_schema: str


def this_release() -> ClientRelease:
    return ClientRelease(client_version(), SCHEMA_REVISION, OLDEST_SCHEMA)


@dataclass(frozen=True)
class Window:
    """What the database says about the clients it accepts."""

    revision: str | None
    #: The oldest client version it accepts; None when it records none (before 0016).
    min_client_version: str | None = None
    #: Where staff get PHMS ("" when the clinic has not said).
    download_hint: str = ""

    @classmethod
    def from_settings(cls, revision: str | None, settings: Mapping[str, Any]) -> Window:
        minimum = settings.get(MIN_CLIENT_KEY)
        hint = settings.get(DOWNLOAD_HINT_KEY)
        return cls(
            revision,
            str(minimum) if minimum is not None else None,
            str(hint).strip() if hint is not None else "",
        )


def database_revision(conn: sa.Connection | sa.orm.Session) -> str | None:
    exists = conn.execute(sa.text("SELECT to_regclass('public.alembic_version')")).scalar()
    if exists is None:
        return None
    value = conn.execute(sa.text("SELECT version_num FROM public.alembic_version")).scalar()
    return None if value is None else str(value)


def is_older(database: str | None, client: str) -> bool | None:
    if database is None:
        return True
    try:
        return int(database) < int(client)
    except ValueError:
        return None


def check_revision(revision: str | None, release: ClientRelease) -> None:
    """Raise SchemaMismatch when the database is older than the release works with
    (or its revision is no number); the minimum client version is checked apart."""
    if revision is None:
        raise SchemaMismatch(None, release.schema, database_is_older=True)
    if is_older(revision, release.schema) is None:
        raise SchemaMismatch(revision, release.schema, database_is_older=None)
    if is_older(revision, release.oldest_schema):
        raise SchemaMismatch(revision, release.oldest_schema, database_is_older=True)


def check_window(window: Window, release: ClientRelease | None = None) -> str:
    """Return the database's revision if ``release`` may work with it; else raise
    :class:`SchemaMismatch` or :class:`ClientTooOld`."""
    release = release or this_release()
    check_revision(window.revision, release)
    revision = str(window.revision)
    minimum = window.min_client_version
    if minimum is None:
        if is_older(release.schema, revision):  # newer, and it promises nothing
            raise SchemaMismatch(revision, release.schema, database_is_older=False)
        return revision
    try:
        too_old = Version(release.version) < Version(minimum)
    except InvalidVersion:
        raise SchemaMismatch(revision, release.schema, database_is_older=None) from None
    if too_old:
        raise ClientTooOld(release.version, minimum, window.download_hint)
    return revision
