"""The window of client versions a database accepts, as IT manages it.

Each migration module says whether it breaks older clients
(``BREAKS_CLIENTS_BEFORE``: a release version, or None when it only adds). The
database records the oldest client version it accepts (the ``min_client_version``
setting, ``phms_schema.ddl_compat``). After every ``phms-admin db upgrade``,
:func:`after_upgrade` raises that minimum to what the migrations up to the
database's revision need, and says so; it never lowers it. ``phms-admin db
min-client-version`` shows and sets it, and where staff get PHMS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from packaging.version import Version

from phms_admin import migrate
from phms_admin.connection import CommandError, connect
from phms_client.version import client_version
from phms_schema import ddl_compat


@cache
def breaking_migrations() -> dict[str, str]:
    """Revision -> the client version it needs, for every migration that breaks older
    clients."""
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    found: dict[str, str] = {}
    for rev in script.walk_revisions():
        needs = getattr(rev.module, "BREAKS_CLIENTS_BEFORE", None)
        if needs is not None:
            if not ddl_compat.is_version(str(needs)):
                raise ValueError(f"migration {rev.revision}: BREAKS_CLIENTS_BEFORE {needs!r}")
            found[rev.revision] = str(needs)
    return found


def required_minimum(revision: str | None) -> tuple[str, str] | None:
    """(version, migration): the newest client version the migrations up to
    ``revision`` need, and the migration that needs it; None when none needs one."""
    if revision is None:
        return None
    needed = [
        (Version(version), version, rev)
        for rev, version in breaking_migrations().items()
        if rev.isdigit() and revision.isdigit() and int(rev) <= int(revision)
    ]
    if not needed:
        return None
    _, version, rev = max(needed)
    return version, rev


def newest_known_release() -> str:
    """This installation's own version: phms-admin ships with the client it knows."""
    return client_version()


@dataclass(frozen=True)
class ClientWindow:
    revision: str | None
    #: None: the database is older than 0016 and records no minimum.
    min_client_version: str | None
    download_hint: str


_READ = sa.text(
    "SELECT key, value #>> '{}' AS value FROM phms.setting WHERE key IN (:k1, :k2)"
).bindparams(k1=ddl_compat.MIN_CLIENT_KEY, k2=ddl_compat.DOWNLOAD_HINT_KEY)
_WRITE = sa.text("UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = :k")


def read(conn: sa.Connection) -> ClientWindow:
    revision = migrate.current_revision(conn)
    values: dict[str, str] = {}
    if revision is not None:
        values = {r.key: r.value for r in conn.execute(_READ)}
    return ClientWindow(
        revision,
        values.get(ddl_compat.MIN_CLIENT_KEY),
        values.get(ddl_compat.DOWNLOAD_HINT_KEY, ""),
    )


def _write(conn: sa.Connection, key: str, value: str) -> None:
    conn.execute(_WRITE, {"k": key, "v": json.dumps(value)})


def after_upgrade(url: str, say: Callable[[str], None] = print) -> str | None:
    """Raise the minimum client version to what the applied migrations need; say what
    it is. Returns the minimum (None for a database that records none)."""
    with connect(url) as conn:
        window = read(conn)
        if window.min_client_version is None:
            return None
        needed = required_minimum(window.revision)
        current = window.min_client_version
        if needed is not None and Version(current) < Version(needed[0]):
            _write(conn, ddl_compat.MIN_CLIENT_KEY, needed[0])
            say(
                f"Migration {needed[1]} does not work with older PHMS clients: the database "
                f"now accepts PHMS {needed[0]} or newer (it accepted {current}). Install "
                f"PHMS {needed[0]} on every workstation."
            )
            return needed[0]
    say(f"Workstations with PHMS {current} or newer can log in.")
    return current


def _require_window(window: ClientWindow) -> str:
    if window.min_client_version is None:
        raise CommandError(
            f"The database is at revision {window.revision or '(none)'}, which records no "
            "minimum client version yet: run 'phms-admin db upgrade' first."
        )
    return window.min_client_version


def describe(window: ClientWindow) -> str:
    minimum = _require_window(window)
    needed = required_minimum(window.revision)
    lines = [f"Oldest PHMS version the database accepts: {minimum}"]
    if needed is not None:
        lines.append(f"  (its migrations need at least {needed[0]}, since revision {needed[1]})")
    lines.append(f"  (this phms-admin is PHMS {newest_known_release()})")
    hint = window.download_hint or "(not set; set it with --where)"
    lines.append(f"Where staff get PHMS: {hint}")
    return "\n".join(lines)


def set_minimum(conn: sa.Connection, version: str, *, force: bool = False) -> str:
    """Set the minimum client version; returns a sentence saying what changed."""
    version = version.strip()
    if not ddl_compat.is_version(version):
        raise CommandError(
            f"{version!r} is not a PHMS release version: give numbers joined by dots, e.g. 0.2.0."
        )
    window = read(conn)
    current = _require_window(window)
    newest = newest_known_release()
    if Version(version) > Version(newest) and not force:
        raise CommandError(
            f"PHMS {version} is newer than any release this phms-admin knows (it is "
            f"{newest}): no workstation could log in until it is installed. Pass --force "
            "if that release is ready on every workstation."
        )
    needed = required_minimum(window.revision)
    if needed is not None and Version(version) < Version(needed[0]) and not force:
        raise CommandError(
            f"Migration {needed[1]} does not work with clients older than {needed[0]}: "
            f"with {version} they could log in and fail. Pass --force to lower it anyway."
        )
    if Version(version) == Version(current):
        return f"The database already accepts PHMS {current} or newer; nothing changed."
    _write(conn, ddl_compat.MIN_CLIENT_KEY, version)
    return f"The database now accepts PHMS {version} or newer (it accepted {current})."


def set_download_hint(conn: sa.Connection, hint: str) -> str:
    hint = hint.strip()
    if len(hint) > ddl_compat.MAX_DOWNLOAD_HINT:
        raise CommandError(
            f"The hint is {len(hint)} characters long; at most {ddl_compat.MAX_DOWNLOAD_HINT} fit."
        )
    _require_window(read(conn))
    _write(conn, ddl_compat.DOWNLOAD_HINT_KEY, hint)
    if not hint:
        return "The download hint is cleared: a too-old workstation is told to ask IT."
    return f"A too-old workstation is told to get PHMS from: {hint}"
