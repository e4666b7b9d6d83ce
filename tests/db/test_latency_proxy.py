"""The benchmark latency proxy really delays and counts, against the real server."""

from __future__ import annotations

import time

import psycopg
import pytest

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from tests.harness import STAFF_PASSWORD, PgDatabase


def _conninfo(db: PgDatabase, port: int) -> str:
    return (
        f"host=127.0.0.1 port={port} dbname={db.name} user=t_clerk "
        f"password={STAFF_PASSWORD} sslmode=disable"
    )


def test_counts_round_trips_and_adds_delay(db: PgDatabase) -> None:
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port, delay_ms=20)) as proxy:
        with psycopg.connect(_conninfo(db, proxy.port), autocommit=True) as conn:
            proxy.counters.reset()
            started = time.perf_counter()
            for _ in range(5):
                conn.execute("SELECT 1").fetchone()
            elapsed = time.perf_counter() - started
        assert proxy.counters.round_trips == 5
        assert proxy.counters.bytes_up > 0 and proxy.counters.bytes_down > 0
    # 5 round trips x 2 x 20 ms = 200 ms at least.
    assert elapsed >= 0.2


def test_refuses_non_loopback_targets() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LatencyProxy("192.0.2.1", 5432)
