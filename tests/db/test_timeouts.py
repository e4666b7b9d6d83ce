"""Nothing waits forever: timeouts, keepalives and the link check, on the real server.

A silently dead link is the benchmark latency proxy told to ``blackhole()``: it keeps
every connection open and takes what is sent, but delivers nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.db.database import Credentials, Database
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import patients
from phms_client.timeouts import Timeouts
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase

#: Linux's TCP_USER_TIMEOUT (the socket module names it from Python 3.12 on Linux only).
TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


def client(db: PgDatabase, user: str = "t_clerk", **kw: object) -> Database:
    return Database(config_for(db, **kw), Credentials(user, STAFF_PASSWORD))


def failure(fn: object) -> tuple[BaseException, float]:
    """Run ``fn()``, expecting it to fail; the exception and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        fn()  # type: ignore[operator]
    return info.value, time.monotonic() - started


@pytest.fixture
def lock_holder(db: PgDatabase) -> Iterator[sa.Connection]:
    """A clinician's connection, in an open transaction (rolled back afterwards)."""
    engine = db.engine_for("t_clinician")
    with engine.connect() as conn:
        yield conn
        if not conn.invalidated:
            conn.rollback()
    engine.dispose()


def test_every_session_starts_with_its_timeouts_and_keepalives(db: PgDatabase) -> None:
    database = client(db)
    try:
        with database.session() as s:
            shown = s.execute(
                sa.text(
                    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
                )
            ).one()
            raw = s.connection().connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            sock = socket.socket(fileno=raw.pgconn.socket)
            try:
                options = (
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                    sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT),
                )
            finally:
                sock.detach()
        assert tuple(shown) == ("30s", "5s")
        assert options == (1, 10, 5, 3, 20_000)  # set on the socket by libpq
        with database.session(long_running=True) as s:
            assert s.execute(sa.text("SHOW statement_timeout")).scalar() == "5min"
        with database.session() as s:  # the longer limit ended with its unit of work
            assert s.execute(sa.text("SHOW statement_timeout")).scalar() == "30s"
    finally:
        database.close()


def test_the_server_ends_idle_transactions_and_probes_idle_clients(db: PgDatabase) -> None:
    names = (
        "idle_in_transaction_session_timeout",
        "tcp_keepalives_idle",
        "tcp_keepalives_interval",
        "tcp_keepalives_count",
        "tcp_user_timeout",
        "client_connection_check_interval",
        "log_lock_waits",
    )
    with psycopg.connect(**config_for(db).conninfo_kwargs("t_clerk", STAFF_PASSWORD)) as conn:  # type: ignore[arg-type]
        shown = [conn.execute(f"SHOW {name}").fetchone()[0] for name in names]  # type: ignore[index]
    assert shown == ["5min", "60", "10", "6", "60000", "10s", "on"]


def test_a_silently_dead_link_is_noticed_within_30_seconds(db: PgDatabase) -> None:
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        database = client(db, port=proxy.port, connect_timeout=5)  # the shipped defaults
        try:
            with database.session() as s:
                assert s.execute(sa.text("SELECT session_user")).scalar() == "t_clerk"
            proxy.blackhole()

            def search() -> None:
                with database.session() as s:
                    patients.search(s, "Smith")

            exc, seconds = failure(search)
            # The search (or, after a pause, the pool's liveness ping) is cut; a fresh connection
            # would time out (unreachable). Both are "connection lost" to the window.
            assert classify(exc).kind in (ErrorKind.CONNECTION_LOST, ErrorKind.UNREACHABLE)
            assert seconds < 30
            # Not before the link check: a slow answer is not a dead link.
            assert seconds >= Timeouts().link_check_after

            # Reconnect as the client does after a lost connection.
            proxy.resume()
            database.reset()
            with database.session() as s:
                assert s.execute(sa.text("SELECT session_user")).scalar() == "t_clerk"
        finally:
            database.close()


def test_a_slow_answer_on_a_working_link_is_not_cut(db: PgDatabase) -> None:
    database = client(db, timeouts=Timeouts(link_check_after=1))
    try:
        with database.session() as s:
            # Waits through two link checks, which find the server answering.
            assert s.execute(sa.text("SELECT 1 FROM pg_sleep(2.5)")).scalar() == 1
    finally:
        database.close()


def test_a_table_locked_by_someone_else_says_busy_within_the_lock_timeout(
    db: PgDatabase, lock_holder: sa.Connection
) -> None:
    lock_holder.execute(sa.text("LOCK TABLE phms.patient IN ACCESS EXCLUSIVE MODE"))
    database = client(db)
    try:

        def search() -> None:
            with database.session() as s:
                patients.search(s, "Smith")

        exc, seconds = failure(search)
        error = classify(exc)
        assert error.kind is ErrorKind.BUSY
        assert error.message.startswith("The server is busy") and "try again" in error.message
        assert seconds < Timeouts().lock_timeout + 2
        with database.session() as s:  # the connection itself is fine
            assert s.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        database.close()


def test_a_statement_over_its_limit_says_busy_unless_the_work_is_long_running(
    db: PgDatabase,
) -> None:
    database = client(
        db, "t_clinician", timeouts=Timeouts(statement_timeout=1, long_statement_timeout=5)
    )
    try:

        def slow() -> None:
            with database.session() as s:
                s.execute(sa.text("SELECT pg_sleep(2)"))

        exc, _seconds = failure(slow)
        assert classify(exc).kind is ErrorKind.BUSY
        with database.session(long_running=True) as s:
            assert s.execute(sa.text("SELECT 1 FROM pg_sleep(2)")).scalar() == 1
    finally:
        database.close()


def test_the_server_cuts_off_a_lock_holder_left_idle_in_a_transaction(
    db: PgDatabase, lock_holder: sa.Connection
) -> None:
    # The server's own limit is minutes (checked above); this holder's is one second.
    lock_holder.execute(sa.text("SET idle_in_transaction_session_timeout = '1s'"))
    lock_holder.execute(sa.text("LOCK TABLE phms.patient IN ACCESS EXCLUSIVE MODE"))
    database = client(db)
    found: list[object] = []
    try:
        # Started while the table is locked: it waits, then runs once the holder is gone.
        worker = threading.Thread(
            target=lambda: found.append(_search(database)), name="waiting-search"
        )
        worker.start()
        worker.join(10)
        assert len(found) == 1 and isinstance(found[0], list)  # a result, not an error
        exc, _seconds = failure(lambda: lock_holder.execute(sa.text("SELECT 1")))
        error = classify(exc)
        assert error.kind is ErrorKind.CONNECTION_LOST
        assert "idle-in-transaction" in error.detail
    finally:
        database.close()


def _search(database: Database) -> object:
    try:
        with database.session() as s:
            return patients.search(s, "Nobody-by-this-name")
    except Exception as exc:
        return exc
