"""One logged-in staff member's connection to the server (no Qt).

The engine keeps a small pool of connections, all as the staff member's own
PostgreSQL role. Statement parameters are hidden from error messages so that a
logged error never carries patient data.

Nothing waits forever (``phms_client.timeouts``, docs/admin-guide.md "Timeouts"):
every session starts with ``statement_timeout`` and ``lock_timeout``, the connections
have TCP keepalives and ``tcp_user_timeout``, and a :class:`~phms_client.db.linkwatch.
LinkWatch` cuts a connection whose server has gone silent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from phms_client.config import ClientConfig
from phms_client.db.dialect import DRIVER_URL
from phms_client.db.linkwatch import LinkWatch, WatchedConnection, server_answers
from phms_client.timeouts import Timeouts


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:  # never show the password in a log or traceback
        return f"Credentials(user={self.user!r}, password=***)"


#: Settings every session starts with, sent in the connection's startup packet
#: (no extra round trip). The name search's typo tier (``services.patients``)
#: matches by trigram word similarity; at pg_trgm's default of 0.6 a name with one
#: letter dropped is missed ("Kowlski": 0.55 against "Kowalski"). The benchmark
#: (docs/benchmarks.md, Findings) compares both on misspelt keystrokes at a million
#: patients: 0.45 lists the family meant about twice as often, at the same speed.
#:
#: Ordinary work does not run parallel query: the day list at a million patients
#: chose a parallel bitmap scan, whose workers' start and stop cost more CPU than the
#: 1,300 rows it read (16 ms alone, 8 ms without; docs/benchmarks.md, *A clinic under
#: load*, where the clinic's workstations and the server compete for the CPU). The
#: long units of work (the Error Check, reports, exports) may use it:
#: :data:`LONG_RUNNING_PARALLEL_WORKERS`.
SESSION_SETTINGS = {
    "pg_trgm.word_similarity_threshold": "0.45",
    "max_parallel_workers_per_gather": "0",
}

#: ``max_parallel_workers_per_gather`` of a ``long_running`` session (PostgreSQL's default).
LONG_RUNNING_PARALLEL_WORKERS = 2

#: ``application_name`` of the link check's connections (see ``db/linkwatch.py``).
LINK_CHECK_APPLICATION = "phms-client-linkcheck"

#: A pooled connection idle for longer than this many seconds is pinged (one round
#: trip) before it is used again; one used more recently is trusted as it is. A
#: ping before every use (SQLAlchemy's ``pool_pre_ping``) cost each search keystroke
#: a round trip, 100 ms on a link with 50 ms each way. A connection broken meanwhile
#: (a failover, a VPN that dropped) is met after a pause far more often than within
#: seconds of its last answer; one that breaks within them fails its statement as a
#: lost connection, and the client reconnects as after any lost connection.
PING_AFTER_IDLE = 10.0


def session_options(timeouts: Timeouts | None = None) -> str:
    """``SESSION_SETTINGS`` and the timeouts' session settings as libpq's ``options``."""
    settings = {**SESSION_SETTINGS, **(timeouts or Timeouts()).session_settings()}
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


class Database:
    def __init__(
        self, config: ClientConfig, credentials: Credentials, *, pool_size: int = 4
    ) -> None:
        self.config = config
        self.credentials = credentials
        conninfo = config.conninfo_kwargs(credentials.user, credentials.password)
        self.linkwatch = LinkWatch(
            config.timeouts.link_check_after,
            lambda: server_answers(
                {
                    **conninfo,
                    "password": self.credentials.password,
                    "application_name": LINK_CHECK_APPLICATION,
                }
            ),
        )
        self.engine = sa.create_engine(
            DRIVER_URL,  # the psycopg dialect, without round trips of its own at connect
            connect_args={**conninfo, "options": session_options(config.timeouts)},
            pool_size=pool_size,
            max_overflow=2,
            # The connection used last is used next: while someone types, one stays
            # in use (and trusted), the others idle (and are pinged when next used).
            pool_use_lifo=True,
            pool_recycle=1800,
            hide_parameters=True,
        )
        sa.event.listen(self.engine, "do_connect", self._connect)
        sa.event.listen(self.engine, "checkin", _idle_from_now)
        sa.event.listen(self.engine, "checkout", self._ping_if_idle)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _connect(
        self, dialect: object, record: object, cargs: list[Any], cparams: dict[str, Any]
    ) -> WatchedConnection:
        # The password of now: the person may have changed it since the engine was made.
        cparams["password"] = self.credentials.password
        connection = WatchedConnection.connect(*cargs, **cparams)
        connection.linkwatch = self.linkwatch
        return connection

    def _ping_if_idle(self, dbapi_connection: Any, record: object, proxy: object) -> None:
        """Before a pooled connection is used: ping it if it was idle too long.

        A failed ping (or a connection known to be broken) makes the pool replace it
        with a new one; if the server cannot be reached, that connect fails as usual.
        """
        if dbapi_connection.closed:  # (broken too)
            raise sa.exc.DisconnectionError("the connection was lost")
        idle_since = getattr(dbapi_connection, "idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return  # new, or used moments ago
        try:
            self.engine.dialect.do_ping(dbapi_connection)
        except psycopg.Error as exc:
            raise sa.exc.DisconnectionError("the pooled connection did not answer") from exc

    @property
    def address(self) -> str:
        return self.config.display_address()

    @contextmanager
    def session(self, *, long_running: bool = False) -> Iterator[Session]:
        """One short unit of work: commit on success, roll back on any error.

        ``long_running`` (the Error Check, reports, exports): its statements may take
        up to ``long_statement_timeout`` instead of ``statement_timeout``, and may run
        as parallel queries.
        """
        with self._sessions() as session, session.begin():
            if long_running:
                seconds = self.config.timeouts.long_statement_timeout
                session.execute(
                    sa.text(
                        "SELECT set_config('statement_timeout', :t, true),"
                        " set_config('max_parallel_workers_per_gather', :w, true)"
                    ),
                    {"t": f"{seconds}s", "w": str(LONG_RUNNING_PARALLEL_WORKERS)},
                )
            yield session

    def set_password(self, password: str) -> None:
        """After the person changed their password: new connections use the new one
        (open ones stay as they are; the server does not end them)."""
        self.credentials = Credentials(self.credentials.user, password)

    def reset(self) -> None:
        """Drop pooled connections (after the server went away); new ones are made lazily."""
        self.engine.dispose()

    def close(self) -> None:
        self.engine.dispose()
        self.linkwatch.close()


def _idle_from_now(dbapi_connection: Any, record: object) -> None:
    """Back in the pool: note when (see :data:`PING_AFTER_IDLE`)."""
    if dbapi_connection is not None:  # None: it was invalidated
        dbapi_connection.idle_since = time.monotonic()


@contextmanager
def statement_alone(session: Session) -> Iterator[None]:
    """Run the next statement as a transaction of its own if it is the first one.

    A single statement is atomic by itself. When nothing has run on the session's
    connection yet, sending it without BEGIN and COMMIT saves two round trips (200 ms
    on a link with 50 ms each way); statements after it in the same session get their
    own transaction as usual. Otherwise (the unit of work already did something) it
    simply joins that transaction.
    """
    raw = session.connection().connection.dbapi_connection
    if (
        not isinstance(raw, psycopg.Connection)
        or raw.autocommit
        or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    ):
        yield
        return
    raw.autocommit = True
    try:
        yield
    finally:
        raw.autocommit = False


@contextmanager
def prepare_threshold(session: Session, threshold: int | None) -> Iterator[None]:
    """Run the next statements with psycopg's ``prepare_threshold`` set to ``threshold``.

    psycopg prepares a statement on its sixth use on a connection, and outside a
    pipeline the preparing is a round trip of its own (100 ms on a link with 50 ms
    each way). ``0``: prepared from the first use, for long statements whose text
    costs more to send than that round trip (the chart's); ``None``: never, for
    short ones the server plans in a fraction of a millisecond (the ID and birth
    date searches).
    """
    raw = session.connection().connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        yield
        return
    before = raw.prepare_threshold
    raw.prepare_threshold = threshold
    try:
        yield
    finally:
        raw.prepare_threshold = before
