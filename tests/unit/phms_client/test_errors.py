"""Error classification against real psycopg/SQLAlchemy errors where that is cheap.

Network errors come from real connection attempts: a closed port, an unresolvable
name, and a tiny fake PostgreSQL server (a socket speaking just enough of the wire
protocol) that rejects the login or drops the connection, so libpq produces its real
messages. Errors that need a real database are constructed directly here; DB-backed
tests live in tests/db/.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors as pge
import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

from phms_client.db.errors import (
    ClientTooOld,
    ErrorKind,
    SchemaMismatch,
    UserError,
    classify,
    register_constraint_messages,
)

# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _message(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("!i", len(payload) + 4) + payload


def error_response(sqlstate: str, text: str, severity: str = "FATAL", **fields: str) -> bytes:
    """An ErrorResponse; ``fields`` use the protocol's one-letter codes (n, t, D...)."""
    body = f"S{severity}\0V{severity}\0C{sqlstate}\0M{text}\0"
    body += "".join(f"{code}{value}\0" for code, value in fields.items())
    return _message(b"E", (body + "\0").encode())


def ready_for_query() -> bytes:
    out = _message(b"R", struct.pack("!i", 0))  # AuthenticationOk
    for key, value in [
        ("server_version", "16.0"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("standard_conforming_strings", "on"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
    ]:
        out += _message(b"S", f"{key}\0{value}\0".encode())
    return out + _message(b"K", struct.pack("!ii", 1, 2)) + _message(b"Z", b"I")


@contextmanager
def fake_server(script: Callable[[socket.socket], object]) -> Iterator[int]:
    """Accept one connection, refuse SSL/GSS, read the startup packet, run ``script``."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(10)
            try:
                while True:
                    length, code = struct.unpack("!ii", _recv_exact(conn, 8))
                    if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                        conn.sendall(b"N")
                        continue
                    _recv_exact(conn, length - 8)
                    break
            except EOFError:
                return  # the client gave up during the handshake (e.g. SSL required)
            script(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        thread.join(10)
        srv.close()


def connect_error(port: int, **kw: object) -> psycopg.Error:
    params: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "user": "alice",
        "password": "pw",
        "dbname": "phms",
        "connect_timeout": 2,
        "sslmode": "prefer",
        "autocommit": True,  # no BEGIN: the first query is the test's
    }
    params.update(kw)
    with pytest.raises(psycopg.Error) as info, psycopg.connect(**params) as conn:  # type: ignore[arg-type]
        conn.execute("select 1")
    return info.value


def assert_plain(error: UserError) -> None:
    """Messages are for clinic staff: no tracebacks, no class names, no SQL."""
    for text in (error.title, error.message):
        assert text
        assert "Traceback" not in text
        assert "psycopg" not in text
        assert "Error" not in text.split()


# --------------------------------------------------------------------------- unreachable


def test_closed_port_is_unreachable_and_names_address() -> None:
    port = free_port()
    exc = connect_error(port)
    error = classify(exc, address=f"127.0.0.1:{port}")
    assert error.kind is ErrorKind.UNREACHABLE
    assert f"127.0.0.1:{port}" in error.message
    assert "Wi-Fi" in error.message
    assert "VPN" in error.message
    assert "server" in error.message
    assert "Connection refused" in error.detail
    assert_plain(error)


def test_unresolvable_host_is_unreachable() -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(host="nonexistent.invalid", dbname="phms", connect_timeout=2)
    error = classify(info.value, address="nonexistent.invalid:5432")
    assert error.kind is ErrorKind.UNREACHABLE
    assert "nonexistent.invalid:5432" in error.message


def test_server_hanging_up_during_login_is_unreachable() -> None:
    with fake_server(lambda conn: None) as port:
        exc = connect_error(port)
    assert "closed the connection" in str(exc)
    assert classify(exc).kind is ErrorKind.UNREACHABLE


def test_sqlalchemy_wrapped_connect_failure_is_unwrapped() -> None:
    port = free_port()
    engine = sa.create_engine(
        f"postgresql+psycopg://alice:pw@127.0.0.1:{port}/phms",
        connect_args={"connect_timeout": 2},
    )
    try:
        with pytest.raises(sa_exc.OperationalError) as info, engine.connect():
            pass
    finally:
        engine.dispose()
    error = classify(info.value, address="here:1")
    assert error.kind is ErrorKind.UNREACHABLE
    assert "here:1" in error.message


def test_os_level_network_errors() -> None:
    assert classify(ConnectionRefusedError()).kind is ErrorKind.UNREACHABLE
    assert classify(socket.gaierror(-2, "Name or service not known")).kind is (
        ErrorKind.UNREACHABLE
    )


# --------------------------------------------------------------------------- login


def test_wrong_password() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(error_response("28P01", 'password authentication failed for user "alice"'))

    with fake_server(script) as port:
        exc = connect_error(port)
    error = classify(exc)
    assert error.kind is ErrorKind.AUTH_FAILED
    assert "wrong user name or password" in error.message.lower()
    assert_plain(error)


def test_login_disabled_role() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(error_response("28000", 'role "alice" is not permitted to log in'))

    with fake_server(script) as port:
        exc = connect_error(port)
    error = classify(exc)
    assert error.kind is ErrorKind.ACCOUNT_DISABLED
    assert "administrator" in error.message
    # the same error constructed with its sqlstate class
    assert (
        classify(
            pge.InvalidAuthorizationSpecification('role "bob" is not permitted to log in')
        ).kind
        is ErrorKind.ACCOUNT_DISABLED
    )


def test_pg_hba_rejection_is_not_a_password_problem() -> None:
    exc = pge.InvalidAuthorizationSpecification(
        'no pg_hba.conf entry for host "10.0.0.9", user "alice", database "phms", no encryption'
    )
    error = classify(exc)
    assert error.kind is ErrorKind.PERMISSION_DENIED
    assert "IT" in error.message


def test_tls_required_but_not_offered() -> None:
    with fake_server(lambda conn: None) as port:
        exc = connect_error(port, sslmode="require")
    error = classify(exc, address="db:5432")
    assert error.kind is ErrorKind.TLS
    assert "secure" in error.message
    assert_plain(error)


@pytest.mark.parametrize(
    "text",
    [
        'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
        "SSL error: certificate verify failed",
        'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
        'server certificate for "db" does not match host name "db.clinic"',
        'connection failed: root certificate file "/x/root.crt" does not exist',
    ],
)
def test_certificate_problems_are_tls(text: str) -> None:
    assert classify(psycopg.OperationalError(text)).kind is ErrorKind.TLS


def test_host_name_containing_ssl_is_not_tls() -> None:
    exc = psycopg.OperationalError(
        'connection failed: connection to server at "ssl-tlsdb.clinic" (10.0.0.5), '
        "port 5432 failed: Connection refused"
    )
    assert classify(exc).kind is ErrorKind.UNREACHABLE


# --------------------------------------------------------------------------- lost


def test_server_drops_connection_mid_work() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(ready_for_query())
        conn.recv(1000)  # the query; hang up without answering

    with fake_server(script) as port:
        exc = connect_error(port)
    assert "server closed the connection unexpectedly" in str(exc)
    error = classify(exc)
    assert error.kind is ErrorKind.CONNECTION_LOST
    assert "reconnect" in error.message
    assert_plain(error)


def test_admin_shutdown_mid_work() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(ready_for_query())
        conn.recv(1000)
        conn.sendall(error_response("57P01", "terminating connection due to administrator command"))

    with fake_server(script) as port:
        exc = connect_error(port)
    assert isinstance(exc, pge.AdminShutdown)
    assert classify(exc).kind is ErrorKind.CONNECTION_LOST


def test_sqlalchemy_invalidated_connection() -> None:
    orig = psycopg.OperationalError("consuming input failed: server closed the connection")
    exc = sa_exc.OperationalError("SELECT 1", None, orig, connection_invalidated=True)
    assert classify(exc).kind is ErrorKind.CONNECTION_LOST


def test_closed_connection_object() -> None:
    assert classify(psycopg.OperationalError("the connection is closed")).kind is (
        ErrorKind.CONNECTION_LOST
    )


# --------------------------------------------------------------------------- data errors


def test_insufficient_privilege() -> None:
    exc = pge.InsufficientPrivilege("permission denied for table setting")
    error = classify(exc)
    assert error.kind is ErrorKind.PERMISSION_DENIED
    assert "administrator" in error.message
    wrapped = sa_exc.ProgrammingError("UPDATE phms.setting ...", {}, exc)
    assert classify(wrapped).kind is ErrorKind.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (pge.CheckViolation('new row violates check constraint "ck_x"'), "refused"),
        (pge.NotNullViolation('null value in column "dob"'), "required"),
        (pge.ForeignKeyViolation("insert or update violates foreign key"), "record"),
        (pge.UniqueViolation("duplicate key value"), "already used"),
        (pge.NumericValueOutOfRange("numeric field overflow"), "numeric field overflow"),
        (pge.InvalidDatetimeFormat('invalid input syntax for type date: "x"'), "date"),
    ],
)
def test_invalid_values(exc: psycopg.Error, fragment: str) -> None:
    error = classify(exc)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert fragment in error.message
    assert "Nothing was saved" in error.message
    assert exc.sqlstate is not None
    assert exc.sqlstate in error.detail


def test_trigger_message_is_shown_as_is() -> None:
    exc = pge.RaiseException("A follow-up needs an earlier assessment of the same patient.")
    error = classify(exc)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert error.message.startswith("A follow-up needs an earlier assessment")


def test_registered_constraint_message_and_no_row_data_in_detail() -> None:
    register_constraint_messages({"ck_test_dob_not_future": "The date of birth is in the future."})

    def script(conn: socket.socket) -> None:
        conn.sendall(ready_for_query())
        conn.recv(1000)
        conn.sendall(
            error_response(
                "23514",
                'new row for relation "patient" violates check constraint "ck_test_dob_not_future"',
                severity="ERROR",
                D="Failing row contains (1, Smith, Jane, 2999-01-01).",
                s="phms",
                t="patient",
                n="ck_test_dob_not_future",
            )
            + _message(b"Z", b"I")
        )
        conn.recv(1000)  # Terminate

    with fake_server(script) as port:
        exc = connect_error(port)
    assert isinstance(exc, pge.CheckViolation)
    assert "Smith" in str(exc)  # the server's DETAIL carries row data...
    error = classify(exc)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert error.message.startswith("The date of birth is in the future.")
    assert "constraint=ck_test_dob_not_future" in error.detail
    assert "table=patient" in error.detail
    assert "Smith" not in error.detail  # ...which must not reach the log
    assert "Smith" not in error.message


def test_sqlalchemy_parameters_never_reach_detail() -> None:
    orig = pge.UniqueViolation("duplicate key value violates unique constraint")
    exc = sa_exc.IntegrityError(
        "INSERT INTO phms.patient (surname) VALUES (%(surname)s)", {"surname": "Smith"}, orig
    )
    error = classify(exc)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert "Smith" not in error.detail
    assert "Smith" not in error.message


# --------------------------------------------------------------------------- conflicts


def test_stale_data_is_conflict() -> None:
    error = classify(StaleDataError("UPDATE statement on table 'patient' expected 1 row"))
    assert error.kind is ErrorKind.CONFLICT
    assert "someone else" in error.message.lower()


@pytest.mark.parametrize(
    "exc",
    [
        pge.SerializationFailure("could not serialize access"),
        pge.DeadlockDetected("deadlock detected"),
    ],
)
def test_concurrency_errors_are_conflict(exc: psycopg.Error) -> None:
    assert classify(exc).kind is ErrorKind.CONFLICT


@pytest.mark.parametrize(
    "exc",
    [
        pge.LockNotAvailable("canceling statement due to lock timeout"),
        pge.QueryCanceled("canceling statement due to statement timeout"),
    ],
)
def test_timeouts_say_the_server_is_busy_not_that_the_link_is_lost(exc: psycopg.Error) -> None:
    error = classify(exc)
    assert error.kind is ErrorKind.BUSY
    assert error.message.startswith("The server is busy")
    assert "try again" in error.message
    assert "Nothing you typed has been thrown away" in error.message


# --------------------------------------------------------------------------- schema


def test_schema_older() -> None:
    error = classify(SchemaMismatch("abc123", "def456", database_is_older=True))
    assert error.kind is ErrorKind.SCHEMA_MISMATCH
    assert "IT" in error.message
    assert "upgrade" in error.message
    assert "abc123" in error.detail and "def456" in error.detail


def test_schema_empty_database_counts_as_older() -> None:
    exc = SchemaMismatch(None, "def456")
    assert exc.database_is_older is True
    assert "upgrade" in classify(exc).message


def test_schema_newer() -> None:
    error = classify(SchemaMismatch("fff999", "def456", database_is_older=False))
    assert error.kind is ErrorKind.SCHEMA_MISMATCH
    assert "install the newer PHMS client" in error.message


def test_schema_unknown_direction_and_missing_table() -> None:
    assert classify(SchemaMismatch("x", "y")).kind is ErrorKind.SCHEMA_MISMATCH
    assert classify(pge.UndefinedTable('relation "phms.x" does not exist')).kind is (
        ErrorKind.SCHEMA_MISMATCH
    )


def test_client_too_old_says_which_version_and_where() -> None:
    exc = ClientTooOld("0.1.0", "0.2.0", "\\\\fileserver\\phms")
    assert (exc.client, exc.minimum, exc.where) == ("0.1.0", "0.2.0", "\\\\fileserver\\phms")
    error = classify(exc)
    assert error.kind is ErrorKind.CLIENT_TOO_OLD
    assert error.message.startswith(
        "This workstation's PHMS 0.1.0 is older than this clinic's database accepts "
        "(0.2.0 or newer). Get it from \\\\fileserver\\phms."
    )
    assert "client=0.1.0 minimum=0.2.0" in error.detail


def test_client_too_old_without_a_hint_points_to_it() -> None:
    message = classify(ClientTooOld("0.1.0", "0.2.0")).message
    assert "(0.2.0 or newer). Ask IT to install it." in message


# --------------------------------------------------------------------------- fallback


def test_unknown_exception() -> None:
    error = classify(ZeroDivisionError("division by zero"))
    assert error.kind is ErrorKind.UNKNOWN
    assert "Report a problem" in error.message
    assert "ZeroDivisionError" in error.detail
    assert_plain(error)


def test_unknown_database_error() -> None:
    error = classify(pge.FeatureNotSupported("not supported"))
    assert error.kind is ErrorKind.UNKNOWN
    assert "0A000" in error.detail
