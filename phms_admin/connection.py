"""Which database an admin command talks to, and plain-language errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa

from phms_admin import embedded

#: libpq parameters of every admin connection: a dead link is noticed in about 30 s
#: instead of TCP's two hours (docs/admin-guide.md, "Timeouts"). No statement
#: timeout here: a migration or a restore may rightly take long (migrations set
#: their own limits, migrations/env.py).
CONNECT_TIMEOUT = 10
KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


class CommandError(Exception):
    """A failure to report to the admin in one clear message (exit status 1)."""


def normalise_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def resolve_url(url: str | None, data_dir: Path | None = None) -> str:
    """--url, else PHMS_DATABASE_URL, else the local embedded server's admin URL."""
    chosen = url or os.environ.get("PHMS_DATABASE_URL")
    if chosen:
        return normalise_url(chosen)
    folder = data_dir or embedded.default_data_dir()
    if (folder / embedded.INFO_FILE).exists():
        return embedded.read_info(folder).url()
    raise CommandError(
        "No database given. Pass --url postgresql://USER@HOST:PORT/phms, set "
        "PHMS_DATABASE_URL, or create a local server with 'phms-admin server init'."
    )


def describe_db_error(exc: sa.exc.DBAPIError) -> str:
    orig = exc.orig
    if isinstance(orig, psycopg.Error) and orig.diag.message_primary:
        message = orig.diag.message_primary
        if orig.diag.message_hint:
            message += f" ({orig.diag.message_hint})"
        if isinstance(orig, psycopg.errors.InsufficientPrivilege):
            message = f"Permission denied: {message}. This needs an admin login."
        return message
    if isinstance(exc, sa.exc.OperationalError):
        return f"Cannot reach the database server: {str(orig).strip()}"
    return str(orig).strip()


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[sa.Connection]:
    """One transaction on ``url``; database errors become CommandError."""
    engine = sa.create_engine(
        url,
        poolclass=sa.pool.NullPool,
        isolation_level="AUTOCOMMIT" if autocommit else None,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": "phms-admin",
            **KEEPALIVES,
        },
    )
    try:
        with engine.begin() as conn:
            yield conn
    except sa.exc.DBAPIError as exc:
        raise CommandError(describe_db_error(exc)) from exc
    finally:
        engine.dispose()
