"""The rules of :func:`phms_client.db.errors.classify`: psycopg and SQLAlchemy errors
as plain words (no Qt). Imported by the first error, not at start-up."""

from __future__ import annotations

import socket

import psycopg
import psycopg.errors as pge
import sqlalchemy.exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

from phms_client.db.errors import (
    _CONSTRAINT_MESSAGES,
    ClientTooOld,
    ErrorKind,
    InvalidInput,
    NotStaff,
    SchemaMismatch,
    UserError,
)


def refused_constraint(exc: BaseException) -> str | None:
    """The name of the constraint the database refused a statement by, if any."""
    if isinstance(exc, InvalidInput):
        return exc.constraint or None
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if not isinstance(orig, psycopg.Error) or orig.diag is None:
        return None
    return orig.diag.constraint_name or None


# --------------------------------------------------------------------------- texts

_UNREACHABLE_HELP = (
    "Please check:\n"
    "• that this computer is connected to the clinic network (network cable or Wi-Fi);\n"
    "• that the VPN is connected, if you are working from outside the clinic;\n"
    "• whether other workstations can connect. If none can, the server may not be "
    "running — contact IT."
)
_CONNECTION_LOST = (
    "The connection to the database server was lost. Nothing you have typed on screen "
    "has been thrown away. PHMS will try to reconnect; if the problem persists, check "
    "the network connection or contact IT."
)

_UNREACHABLE_TEXT = (
    "could not connect",
    "connection refused",
    "timeout expired",
    "timed out",
    "could not translate host name",
    "failed to resolve host",
    "name or service not known",
    "temporary failure in name resolution",
    "no route to host",
    "network is unreachable",
    "nodename nor servname",
    "no such host",
)
_LOST_TEXT = (
    "server closed the connection unexpectedly",
    "terminating connection",
    "connection is closed",
    "connection is lost",
    "connection has been closed",
    "consuming input failed",
    "could not receive data from server",
    "could not send data to server",
    "no connection to the server",
    "ssl syscall error",
    "connection reset by peer",
    "broken pipe",
    "eof detected",
)
# Specific phrases only: a bare "ssl" or "tls" would match host names like tlsdb.local.
_TLS_TEXT = (
    "ssl error",
    "ssl connection",
    "ssl negotiation",
    "ssl was required",
    "does not support ssl",
    "ssl support",
    "sslmode",
    "sslrootcert",
    "certificate",
    "tlsv1",
    "wrong version number",
)

_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P05", "25P03", "08000", "08003", "08006"})
_STARTING_SQLSTATES = frozenset({"57P03"})
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
_SCHEMA_SQLSTATES = frozenset({"42P01", "42703", "42883", "3F000"})


def _addr(address: str) -> str:
    return f"the database server at {address}" if address else "the database server"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.strip()


def _primary(exc: psycopg.Error) -> str:
    """The server's primary message, or the first line of the exception text."""
    primary = exc.diag.message_primary if exc.diag is not None else None
    return primary or _first_line(str(exc))


def _pg_detail(exc: psycopg.Error) -> str:
    parts = [type(exc).__name__]
    if exc.sqlstate:
        parts.append(f"sqlstate={exc.sqlstate}")
    diag = exc.diag
    for name in ("constraint_name", "schema_name", "table_name", "column_name"):
        value = getattr(diag, name, None) if diag is not None else None
        if value:
            parts.append(f"{name.removesuffix('_name')}={value}")
    text = str(exc).strip().replace("\n", " | ")
    # The DETAIL line ("Failing row contains ...") may hold patient data: leave it out.
    if isinstance(exc, psycopg.DatabaseError) and not isinstance(exc, psycopg.OperationalError):
        text = _primary(exc)
    parts.append(text)
    return " ".join(parts)


# --------------------------------------------------------------------------- classify


def classify(exc: BaseException, *, address: str = "") -> UserError:
    """Map any exception to a :class:`UserError`; never raises."""
    if isinstance(exc, SchemaMismatch):
        return _schema_mismatch(exc)
    if isinstance(exc, ClientTooOld):
        return UserError(
            ErrorKind.CLIENT_TOO_OLD,
            "Newer PHMS needed",
            exc.message,
            f"ClientTooOld client={exc.client} minimum={exc.minimum}",
        )
    if isinstance(exc, NotStaff):
        return UserError(
            ErrorKind.PERMISSION_DENIED,
            "Not a staff account",
            str(exc),
            f"NotStaff {exc}",
        )
    if isinstance(exc, InvalidInput):
        return UserError(
            ErrorKind.INVALID_VALUE,
            "Value not accepted",
            f"{exc.message}\n\nNothing was saved. Please correct the value and try again.",
            f"InvalidInput field={exc.field} constraint={exc.constraint}",
        )
    if isinstance(exc, StaleDataError):
        return UserError(
            ErrorKind.CONFLICT,
            "Changed by someone else",
            "Someone else saved a change to this record while you were editing it. "
            "Your changes have not been saved yet and are still on screen.",
            f"StaleDataError {exc}",
        )
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            inner = exc.orig if exc.orig is not None else exc
            return UserError(
                ErrorKind.CONNECTION_LOST,
                "Connection lost",
                _CONNECTION_LOST,
                f"connection invalidated: {_detail_of(inner)}",
            )
        if isinstance(exc.orig, BaseException):
            return classify(exc.orig, address=address)
    if isinstance(exc, sa_exc.TimeoutError):
        return UserError(
            ErrorKind.UNREACHABLE,
            "Server busy",
            f"PHMS is waiting for a free connection to {_addr(address)}. "
            "Please try again in a moment.",
            f"{type(exc).__name__} {exc}",
        )
    if isinstance(exc, psycopg.DataError) and "NUL (0x00)" in str(exc):
        # psycopg refuses to send a NUL character: PostgreSQL text cannot hold one.
        return UserError(
            ErrorKind.INVALID_VALUE,
            "Value not accepted",
            "The text contains a NUL character (an invisible code, often from a "
            "pasted or damaged text). Remove it and try again.\n\nNothing was saved.",
            f"{type(exc).__name__} NUL character in text",
        )
    if isinstance(exc, psycopg.Error):
        return _classify_pg(exc, address)
    if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)):
        return _unreachable(address, f"{type(exc).__name__} {exc}")
    return UserError(
        ErrorKind.UNKNOWN,
        "Unexpected error",
        "Something went wrong that PHMS did not expect. Your work on screen has not been "
        "saved by this action. Please try again; if it happens again, use "
        "“Report a problem” so IT can look into it.",
        _detail_of(exc),
    )


def _detail_of(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error):
        return _pg_detail(exc)
    return f"{type(exc).__name__} {exc}".strip()


def _unreachable(address: str, detail: str) -> UserError:
    return UserError(
        ErrorKind.UNREACHABLE,
        "Cannot reach the server",
        f"PHMS could not reach {_addr(address)}.\n\n{_UNREACHABLE_HELP}",
        detail,
    )


def _schema_mismatch(exc: SchemaMismatch) -> UserError:
    detail = (
        f"SchemaMismatch database={exc.database_revision or '(none)'} client={exc.client_revision}"
    )
    if exc.database_is_older:
        message = (
            "The clinic database has not been upgraded for this version of PHMS yet. "
            "Please ask IT to run “phms-admin db upgrade” before this program is used. "
            "Nothing has been changed."
        )
        title = "Database needs an upgrade"
    elif exc.database_is_older is False:
        message = (
            "The clinic database has been upgraded for a newer version of PHMS. "
            "Please install the newer PHMS client on this computer (ask IT if you "
            "cannot do this yourself). Nothing has been changed."
        )
        title = "Newer PHMS needed"
    else:
        message = (
            "This version of PHMS does not match the clinic database. IT must install "
            "matching versions of the database and the program. Nothing has been changed."
        )
        title = "Version mismatch"
    return UserError(ErrorKind.SCHEMA_MISMATCH, title, message, detail)


def _classify_pg(exc: psycopg.Error, address: str) -> UserError:
    sqlstate = exc.sqlstate or ""
    text = str(exc).lower()
    detail = _pg_detail(exc)
    # libpq's connect errors read "connection failed: connection to server at ...".
    connecting = text.startswith("connection failed") or "connection to server" in text

    # --- login problems (sqlstate class 28, or recognised by text at connect time)
    if "password authentication failed" in text or sqlstate == "28P01":
        return UserError(
            ErrorKind.AUTH_FAILED,
            "Login failed",
            "Wrong user name or password. Please check both and try again (is Caps Lock on?).",
            detail,
        )
    if "is not permitted to log in" in text:
        return UserError(
            ErrorKind.ACCOUNT_DISABLED,
            "Account disabled",
            "Your PHMS account is disabled. Please ask a PHMS administrator to enable it.",
            detail,
        )
    if "pg_hba.conf" in text or sqlstate == "28000":
        return UserError(
            ErrorKind.PERMISSION_DENIED,
            "Connection not allowed",
            f"{_addr(address).capitalize()} does not accept connections from this "
            "computer for this account. Please contact IT.",
            detail,
        )
    # At connect time libpq gives no SQLSTATE; the server's text still says it.
    if sqlstate == "3D000" or (connecting and 'database "' in text and "does not exist" in text):
        return UserError(
            ErrorKind.UNREACHABLE,
            "Database not found",
            f"{_addr(address).capitalize()} is running but has no PHMS database of the "
            "configured name. Please check the server settings or contact IT.",
            detail,
        )
    if sqlstate == "53300" or "too many clients" in text:
        return UserError(
            ErrorKind.UNREACHABLE,
            "Server busy",
            f"{_addr(address).capitalize()} has too many connections right now. "
            "Please try again in a minute; if it keeps happening, contact IT.",
            detail,
        )
    if sqlstate in _STARTING_SQLSTATES:
        return UserError(
            ErrorKind.UNREACHABLE,
            "Server not ready",
            f"{_addr(address).capitalize()} is starting up or shutting down. "
            "Please try again in a minute.",
            detail,
        )

    # --- the connection went away mid-work
    lost_state = isinstance(exc, pge.AdminShutdown) or sqlstate in _LOST_SQLSTATES
    if lost_state and not connecting:
        return UserError(ErrorKind.CONNECTION_LOST, "Connection lost", _CONNECTION_LOST, detail)
    if sqlstate == "25006":  # read-only transaction: we are on a standby after failover
        return UserError(
            ErrorKind.CONNECTION_LOST,
            "Server cannot save right now",
            "The database server cannot accept changes at the moment (it may be a standby "
            "server after a failover). Your changes are still on screen; PHMS will "
            "reconnect. If this keeps happening, contact IT.",
            detail,
        )
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        if any(t in text for t in _LOST_TEXT) and not connecting:
            return UserError(ErrorKind.CONNECTION_LOST, "Connection lost", _CONNECTION_LOST, detail)
        if any(t in text for t in _TLS_TEXT):
            return UserError(
                ErrorKind.TLS,
                "Secure connection failed",
                f"PHMS could not set up a secure (encrypted) connection to {_addr(address)}, "
                "so it did not send your password. The server's certificate may have "
                "expired or this computer may have an outdated certificate. Please "
                "contact IT.",
                detail,
            )
        if connecting or sqlstate.startswith("08") or any(t in text for t in _UNREACHABLE_TEXT):
            return _unreachable(address, detail)

    # --- rights, data and concurrency
    if isinstance(exc, pge.InsufficientPrivilege) or sqlstate == "42501":
        return UserError(
            ErrorKind.PERMISSION_DENIED,
            "Not allowed",
            "Your account is not allowed to do this. If you need it for your work, "
            "please ask a PHMS administrator.",
            detail,
        )
    if sqlstate == "55P03":  # lock_not_available: lock_timeout, or NOWAIT
        return UserError(
            ErrorKind.BUSY,
            "Server busy",
            "The server is busy: someone else is using the records this needs at the "
            "moment, so PHMS stopped waiting. Nothing you typed has been thrown away. "
            "Please try again in a moment; if it keeps happening, contact IT.",
            detail,
        )
    if sqlstate in _CONFLICT_SQLSTATES:
        return UserError(
            ErrorKind.CONFLICT,
            "Record busy",
            "Someone else is changing the same record at this moment. Your changes are "
            "still on screen; please try again.",
            detail,
        )
    if sqlstate.startswith(("22", "23")) or sqlstate == "P0001":
        return _invalid_value(exc, detail)
    if sqlstate == "54000":  # program_limit_exceeded: e.g. a value too big for an index
        return UserError(
            ErrorKind.INVALID_VALUE,
            "Value not accepted",
            "A value is too long for the database. Please shorten it and try again."
            "\n\nNothing was saved.",
            detail,
        )
    if sqlstate in _SCHEMA_SQLSTATES:
        return UserError(
            ErrorKind.SCHEMA_MISMATCH,
            "Version mismatch",
            "This version of PHMS does not match the clinic database. Please contact IT.",
            detail,
        )
    if sqlstate == "57014":  # query_canceled: statement_timeout, or cancelled by IT
        return UserError(
            ErrorKind.BUSY,
            "Server busy",
            "The server is busy: it took too long to answer, so the request was stopped. "
            "Nothing you typed has been thrown away. Please try again in a moment; if it "
            "keeps happening, contact IT.",
            detail,
        )
    return UserError(
        ErrorKind.UNKNOWN,
        "Database error",
        "The database reported an error PHMS did not expect. Please try again; if it "
        "happens again, use “Report a problem”.",
        detail,
    )


def _invalid_value(exc: psycopg.Error, detail: str) -> UserError:
    diag = exc.diag
    constraint = diag.constraint_name if diag is not None else None
    column = diag.column_name if diag is not None else None
    server_text = _primary(exc)
    if constraint and constraint in _CONSTRAINT_MESSAGES:
        message = _CONSTRAINT_MESSAGES[constraint]
    elif isinstance(exc, pge.RaiseException):
        message = server_text  # our triggers raise sentences meant for people
    elif isinstance(exc, pge.UniqueViolation):
        message = "This value is already used by another record."
        if constraint:
            message += f" (Rule: {constraint}.)"
    elif isinstance(exc, pge.NotNullViolation):
        message = "A required field is empty."
        if column:
            message += f" (Field: {column}.)"
    elif isinstance(exc, pge.ForeignKeyViolation):
        message = (
            "This refers to a record that does not exist any more, or the record is "
            "still in use by other records."
        )
        if constraint:
            message += f" (Rule: {constraint}.)"
    elif constraint:
        message = f"The database refused this value because of the rule “{constraint}”."
    else:
        message = f"The database refused this value: {server_text}"
    return UserError(
        ErrorKind.INVALID_VALUE,
        "Value not accepted",
        f"{message}\n\nNothing was saved. Please correct the value and try again.",
        detail,
    )
