"""The link check on real sockets: a late reply is cut only when the server is silent.

The probe (does the server answer a new connection?) is a parameter; the real one is
tested against the real server in tests/db/test_timeouts.py.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from phms_client.db.linkwatch import LinkWatch


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(10)  # a broken watch fails the test instead of hanging it
    yield a, b
    a.close()
    b.close()


def test_a_wait_is_cut_when_the_server_does_not_answer(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    waiting, _server = pair
    probes: list[int] = []

    def nobody_answers() -> bool:
        probes.append(1)
        return False

    watch = LinkWatch(0.2, nobody_answers)
    try:
        with watch.watching(waiting.fileno()):
            data = waiting.recv(10)  # wakes when the watch shuts the socket down
    finally:
        watch.close()
    assert data == b"" and probes == [1]


def test_a_wait_goes_on_while_the_server_answers(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    waiting, server = pair
    probes: list[int] = []

    def server_answers() -> bool:
        probes.append(1)
        return True

    watch = LinkWatch(0.1, server_answers)
    reply = threading.Timer(0.6, server.send, (b"late",))
    reply.start()
    try:
        with watch.watching(waiting.fileno()):
            data = waiting.recv(10)
    finally:
        reply.join()
        watch.close()
    assert data == b"late" and len(probes) >= 2  # checked more than once, never cut


def test_a_failing_check_cuts_nothing(
    pair: tuple[socket.socket, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    waiting, server = pair

    def broken() -> bool:
        raise RuntimeError("a bug in the check")

    watch = LinkWatch(0.1, broken)
    reply = threading.Timer(0.4, server.send, (b"ok",))
    reply.start()
    try:
        with caplog.at_level(logging.ERROR), watch.watching(waiting.fileno()):
            data = waiting.recv(10)
    finally:
        reply.join()
        watch.close()
    assert data == b"ok"
    assert "link check failed" in caplog.text


def test_nothing_is_watched_once_closed(pair: tuple[socket.socket, socket.socket]) -> None:
    waiting, server = pair
    watch = LinkWatch(0.1, lambda: False)
    watch.close()
    reply = threading.Timer(0.4, server.send, (b"ok",))
    reply.start()
    try:
        with watch.watching(waiting.fileno()):
            data = waiting.recv(10)
    finally:
        reply.join()
    assert data == b"ok"
