"""Turn exceptions into messages clinic staff can act on (no Qt).

:func:`classify` maps psycopg / SQLAlchemy errors (and our own :class:`SchemaMismatch`
and :class:`ClientTooOld`) to a :class:`UserError`: a kind, a short title, a
plain-language message, and a ``detail`` line for the log. ``detail`` deliberately
leaves out the server's DETAIL field and SQLAlchemy's statement parameters, which can
contain patient data.

The kinds and the exceptions are here; the rules, which need psycopg and SQLAlchemy,
are in :mod:`phms_client.db.error_rules`, imported by the first error: the login
window shows before either package is loaded (start-up, docs/benchmarks.md).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ClientTooOld",
    "ErrorKind",
    "InvalidInput",
    "NotStaff",
    "SchemaMismatch",
    "UserError",
    "classify",
    "refused_constraint",
    "register_constraint_messages",
]


class ErrorKind(enum.Enum):
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    ACCOUNT_DISABLED = "account_disabled"
    TLS = "tls"
    SCHEMA_MISMATCH = "schema_mismatch"
    #: The database accepts only newer clients than this one (see :class:`ClientTooOld`).
    CLIENT_TOO_OLD = "client_too_old"
    PERMISSION_DENIED = "permission_denied"
    CONFLICT = "conflict"
    INVALID_VALUE = "invalid_value"
    CONNECTION_LOST = "connection_lost"
    #: The server is alive but could not do it in time: a lock held by someone else
    #: (lock_timeout) or a statement that ran too long (statement_timeout).
    BUSY = "busy"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class UserError:
    kind: ErrorKind
    title: str
    message: str
    detail: str


class NotStaff(Exception):
    """The login is valid in PostgreSQL but is no PHMS staff account."""

    def __init__(self, user: str) -> None:
        super().__init__(
            f"The login {user!r} is not a PHMS staff account. Ask an admin to create one "
            "for you with a group (clerk, clinician, admin or auditor)."
        )


class SchemaMismatch(Exception):
    """The database's alembic revision is outside the ones this client works with.

    ``client_revision`` is the revision the client needs: the oldest it works with when
    the database is older, the one it was built for otherwise. ``database_is_older`` is
    True when the database revision is older than that (or the database has no revision
    at all), False when the database is newer and does not say it accepts this client,
    None if it cannot be told.
    """

    def __init__(
        self,
        database_revision: str | None,
        client_revision: str,
        *,
        database_is_older: bool | None = None,
    ) -> None:
        self.database_revision = database_revision
        self.client_revision = client_revision
        self.database_is_older = (
            True if database_revision is None and database_is_older is None else database_is_older
        )
        super().__init__(
            f"database schema revision {database_revision or '(none)'} "
            f"!= client revision {client_revision}"
        )


class ClientTooOld(Exception):
    """The clinic's database accepts only clients of version ``minimum`` or newer.

    ``client`` is this workstation's version, ``minimum`` the oldest version the
    database accepts (set by ``phms-admin db upgrade`` or by an admin), ``where`` the
    clinic's own hint where to get the client (may be empty). Raised by the login's
    compatibility check; an updater can catch it and offer ``minimum``.
    """

    def __init__(self, client: str, minimum: str, where: str = "") -> None:
        self.client = client
        self.minimum = minimum
        self.where = where
        super().__init__(f"client version {client} is older than the minimum {minimum}")

    @property
    def message(self) -> str:
        """What to tell the person at the workstation, in one paragraph."""
        get = f"Get it from {self.where}" if self.where else "Ask IT to install it"
        return (
            f"This workstation's PHMS {self.client} is older than this clinic's database "
            f"accepts ({self.minimum} or newer). {get.rstrip('.')}. Nothing has been changed."
        )


class InvalidInput(ValueError):
    """A value refused before it was sent: ``message`` says why in plain words.

    ``field`` is the column it concerns (empty when the whole entry is meant),
    ``constraint`` the database rule that would have refused it.
    """

    def __init__(self, field: str, message: str, constraint: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.constraint = constraint


# Human explanations for named constraints, filled in by phms_schema / services.
_CONSTRAINT_MESSAGES: dict[str, str] = {}


def register_constraint_messages(messages: Mapping[str, str]) -> None:
    """Give constraint names (e.g. ``"ck_patient_dob_not_future"``) plain explanations."""
    _CONSTRAINT_MESSAGES.update(messages)


def refused_constraint(exc: BaseException) -> str | None:
    """The name of the constraint the database refused a statement by, if any."""
    if isinstance(exc, InvalidInput):
        return exc.constraint or None
    from phms_client.db import error_rules

    return error_rules.refused_constraint(exc)


def classify(exc: BaseException, *, address: str = "") -> UserError:
    """A :class:`UserError` for ``exc`` (see :func:`phms_client.db.error_rules.classify`)."""
    from phms_client.db import error_rules

    return error_rules.classify(exc, address=address)
