"""Noticing a server that has gone silent while a connection waits for its reply (no Qt).

TCP keepalives and ``tcp_user_timeout`` notice a link that drops packets, but only
between this computer and its TCP peer. When that peer is a VPN client, an SSH
tunnel or any proxy on the way, the peer stays alive while the link behind it is
dead, and libpq would wait for the reply forever. Windows has no
``tcp_user_timeout`` either.

So every wait of a pooled connection is watched (:class:`WatchedConnection`): once a
reply is :attr:`~phms_client.timeouts.Timeouts.link_check_after` seconds late, the
watch opens a *new* connection to the server (bounded by ``connect_timeout``). If the
server answers it at all (even with an error), the link is fine and the wait goes on
(a long report, a lock wait). If nothing answers, the waiting connection's socket is
shut down, so the waiting statement fails at once as a lost connection, and the
client's usual reconnect takes over.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

__all__ = ["LinkWatch", "WatchedConnection", "server_answers"]

log = logging.getLogger(__name__)

_WAIT_INTERVAL = 0.1  # psycopg's own default


def server_answers(conninfo: dict[str, Any]) -> bool:
    """True when a new connection gets any answer from the server.

    An error the server sends (wrong password, too many clients) carries a SQLSTATE:
    the link works. libpq's own errors (timeout, refused, reset) carry none.
    """
    try:
        psycopg.connect(**conninfo).close()
    except psycopg.Error as exc:
        return exc.sqlstate is not None
    return True


def cut(fileno: int) -> None:
    """Shut the socket down under its owner: a thread blocked on it wakes with EOF."""
    try:
        sock = socket.socket(fileno=fileno)
    except OSError:
        return  # closed meanwhile
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # the connection still owns (and will close) the descriptor


class LinkWatch:
    """One thread that checks the link when a watched wait takes too long."""

    def __init__(self, check_after: float, probe: Callable[[], bool]) -> None:
        self.check_after = check_after
        self._probe = probe
        self._cond = threading.Condition()
        self._waits: dict[int, tuple[int, float]] = {}  # token -> (socket, deadline)
        self._next = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, fileno: int) -> Iterator[None]:
        with self._cond:
            if self._closed:
                token = None
            else:
                self._next += 1
                token = self._next
                self._waits[token] = (fileno, time.monotonic() + self.check_after)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="phms-linkwatch", daemon=True
                    )
                    self._thread.start()
                self._cond.notify()
        try:
            yield
        finally:
            if token is not None:
                with self._cond:
                    self._waits.pop(token, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._waits.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    late = [t for t, (_f, due) in self._waits.items() if due <= now]
                    if late:
                        break
                    soonest = min((due for _f, due in self._waits.values()), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                if self._closed:
                    return
            try:
                alive = self._probe()
            except Exception:  # a fault of ours must not cut anyone, nor end the watch
                log.exception("link check failed")
                alive = True
            with self._cond:
                if alive:
                    renewed = time.monotonic() + self.check_after
                    for token in late:
                        if token in self._waits:
                            self._waits[token] = (self._waits[token][0], renewed)
                    continue
                # Cut under the lock: a wait still registered has not returned, so its
                # socket is still its connection's (never a newer one's of the same number).
                sockets = [self._waits.pop(t)[0] for t in late if t in self._waits]
                for fileno in sockets:
                    cut(fileno)
            if sockets:
                log.warning("the server did not answer; %d connection(s) cut", len(sockets))


class WatchedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server is watched by ``linkwatch``."""

    linkwatch: LinkWatch | None = None
    #: When the pool last took it back (``time.monotonic()``), or None while new.
    idle_since: float | None = None

    def wait(self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None) -> Any:
        watch = self.linkwatch
        if watch is None or self.pgconn.status != psycopg.pq.ConnStatus.OK:
            return super().wait(gen, interval, timeout)
        with watch.watching(self.pgconn.socket):
            return super().wait(gen, interval, timeout)
