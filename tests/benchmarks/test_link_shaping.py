"""The benchmark's link: bandwidth and delay really shape real sockets, the counters
add up, and the TLS front speaks PostgreSQL's TLS to libpq against the real server."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import psycopg
import pytest

from benchmarks.latency_proxy import LatencyProxy, Link, ProxyThread, TokenBucket
from benchmarks.tls_front import TlsFront, make_certificates
from tests.harness import STAFF_PASSWORD, PgDatabase


def test_token_bucket_queues_bytes_at_its_rate() -> None:
    bucket = TokenBucket(1000.0)  # 1000 bytes/s, no burst
    assert bucket.take(500, 0.0) == pytest.approx(0.5)
    assert bucket.take(500, 0.0) == pytest.approx(1.0)  # behind the first
    assert bucket.take(100, 5.0) == pytest.approx(5.1)  # idle link: only its own time
    burst = TokenBucket(1000.0, burst_bytes=300)
    assert burst.take(200, 0.0) == 0.0  # within the burst: at once
    assert burst.take(200, 0.0) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        TokenBucket(0)


class _Sink:
    """A loopback server: reads ``expect`` bytes, then answers ``reply`` bytes."""

    def __init__(self, expect: int, reply: int) -> None:
        self.expect, self.reply = expect, reply
        self.received = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while self.received < self.expect:
                data = conn.recv(65536)
                if not data:
                    return
                self.received += len(data)
            conn.sendall(b"y" * self.reply)

    def close(self) -> None:
        self.thread.join(10)
        self.sock.close()


def _exchange(port: int, send: int, receive: int) -> tuple[float, int]:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        started = time.perf_counter()
        s.sendall(b"x" * send)
        got = 0
        while got < receive:
            data = s.recv(65536)
            if not data:
                break
            got += len(data)
        return time.perf_counter() - started, got


def test_shaped_link_delivers_everything_no_faster_than_its_rate() -> None:
    up, down = 60_000, 120_000
    sink = _Sink(expect=up, reply=down)
    link = Link("test", delay_ms=20, up_kbit_s=2_000, down_kbit_s=4_000)
    try:
        with ProxyThread(LatencyProxy.shaped("127.0.0.1", sink.port, link)) as proxy:
            elapsed, got = _exchange(proxy.port, up, down)
            counters = proxy.counters
            assert (counters.bytes_up, counters.bytes_down) == (up, down)
            assert counters.round_trips == 1 and counters.connections == 1
    finally:
        sink.close()
    assert sink.received == up and got == down
    # Each direction's bytes at its rate, plus the delay each way: a lower bound only.
    floor = up * 8 / 2_000_000 + down * 8 / 4_000_000 + 2 * 0.020
    assert elapsed >= floor


def test_unshaped_direction_is_not_limited_by_the_other() -> None:
    sink = _Sink(expect=1_000, reply=1_000)
    link = Link("down only", up_kbit_s=None, down_kbit_s=80)  # 10 kB/s down
    try:
        with ProxyThread(LatencyProxy.shaped("127.0.0.1", sink.port, link)) as proxy:
            elapsed, got = _exchange(proxy.port, 1_000, 1_000)
            assert proxy.counters.bytes_down == 1_000
    finally:
        sink.close()
    assert got == 1_000 and elapsed >= 0.1  # 1 kB at 10 kB/s


def _conninfo(db: PgDatabase, port: int, rootcert: Path) -> dict[str, str | int]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "dbname": db.name,
        "user": "t_clerk",
        "password": STAFF_PASSWORD,
        "sslmode": "verify-full",
        "sslrootcert": str(rootcert),
    }


def test_tls_front_does_verify_full_tls_and_counts_statements(
    db: PgDatabase, tmp_path: Path
) -> None:
    with ProxyThread(TlsFront("127.0.0.1", db.server.port)) as front:
        link = Link.vpn(3, 5)
        with ProxyThread(LatencyProxy.shaped("127.0.0.1", front.port, link)) as proxy:
            conninfo = _conninfo(db, proxy.port, front.certificates.ca_crt)
            with psycopg.connect(**conninfo) as conn:  # type: ignore[arg-type]
                assert front.counters.tls_handshakes == 1
                front.counters.reset()
                for _ in range(3):
                    assert conn.execute("SELECT current_user").fetchone() == ("t_clerk",)
                conn.commit()
                for _ in range(7):  # prepared after its 5th use: Bind and Execute only
                    assert conn.execute("SELECT 1").fetchone() == (1,)
                conn.execute(";")  # SQLAlchemy's pool pre-ping with psycopg
                conn.commit()
            assert front.counters.statements == 11 and front.counters.pings == 8
            assert front.counters.transaction_control == 4  # BEGIN, COMMIT, twice
            # A certificate from another CA is refused: the handshake is real.
            other = make_certificates(tmp_path / "other")
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(**_conninfo(db, proxy.port, other.ca_crt))  # type: ignore[arg-type]
