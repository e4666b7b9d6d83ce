"""Short real connection attempts that are not a login session (no Qt).

:func:`probe_server` is the Settings dialog's "Test connection": it connects with the
entered settings as a made-up user and *no* password, so nothing secret is sent; a
server that answers "password needed" or "no such user" is reachable.
:func:`verify_password` is the idle lock's check that the person at the keyboard
knows the logged-in staff member's password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phms_client.config import ClientConfig
from phms_client.db.errors import ErrorKind, classify

if TYPE_CHECKING:  # psycopg loads with the first probe: the login window shows without it
    import psycopg

__all__ = ["PROBE_USER", "ProbeResult", "probe_server", "verify_password"]

#: The user name a connection test presents; no such login exists.
PROBE_USER = "phms_connection_test"


@dataclass(frozen=True)
class ProbeResult:
    """``ok``: these settings work. ``reachable``: a PostgreSQL server answered at all."""

    ok: bool
    reachable: bool
    title: str
    message: str
    detail: str


def probe_server(config: ClientConfig) -> ProbeResult:
    """Try to reach the server of ``config``; never raises for connection problems."""
    address = config.display_address()
    import psycopg

    # An explicit empty password keeps libpq from taking PGPASSWORD, and it sends
    # nothing when the server asks for a password.
    try:
        psycopg.connect(**config.conninfo_kwargs(PROBE_USER, "")).close()  # type: ignore[arg-type]
    except psycopg.Error as exc:
        return _judge(exc, address)
    return ProbeResult(
        True,
        True,
        "Server reachable",
        f"The database server at {address} let a test login in without a password. "
        "These settings work, but the server is not protected by passwords: tell IT.",
        "connected without a password",
    )


def _judge(exc: psycopg.Error, address: str) -> ProbeResult:
    text = str(exc).lower()
    error = classify(exc, address=address)
    asked_for_password = (
        "no password supplied" in text
        or error.kind is ErrorKind.AUTH_FAILED
        or ('role "' in text and "does not exist" in text)  # trust/peer servers say so
    )
    if asked_for_password:
        return ProbeResult(
            True,
            True,
            "Server reachable",
            f"The database server at {address} answered and asked for a password. "
            "These settings work: log in with your own user name and password.",
            error.detail,
        )
    no_database = 'database "' in text and "does not exist" in text
    if error.kind in (ErrorKind.UNREACHABLE, ErrorKind.TLS) and not no_database:
        return ProbeResult(False, False, error.title, error.message, error.detail)
    # The server answered, but something is wrong (no such database, pg_hba.conf...).
    return ProbeResult(False, True, error.title, error.message, error.detail)


def verify_password(config: ClientConfig, user: str, password: str) -> None:
    """Connect once as ``user``; raises (psycopg.Error) if the password is wrong."""
    import psycopg

    psycopg.connect(**config.conninfo_kwargs(user, password)).close()  # type: ignore[arg-type]
