"""What every section shares: the run's target and plan, statistics, number formats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import server
from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database

REPO = Path(__file__).resolve().parent.parent
Log = Callable[[str], None]

#: The targets each section reports against (docs/benchmarks.md, Summary).
TARGETS = {
    "search_p95_ms": 30.0,
    "chart_round_trips": 2,
    "chart_extra_ms_at_50": 50.0,
    "error_check_s": 5.0,
    "startup_s": 0.6,
    "typo_p95_ms": 20.0,
    "typo_max_ms": 30.0,
    # Over a VPN of 3 Mbit/s with 50 ms one way:
    "vpn_login_s": 1.0,
    "vpn_login_round_trips": 4,
    "vpn_typical_chart_ms": 250.0,
    "vpn_big_chart_first_screen_ms": 400.0,
    "vpn_search_keystroke_ms": 150.0,
    # A clinic under load, 20 workstations at a clinic's pace:
    "load_search_p95_ratio": 1.5,
    "load_search_p99_ms": 60.0,
}


@dataclass(frozen=True)
class Plan:
    """How much to measure (the smoke test uses a small plan)."""

    name_patients: int = 25
    typo_patients: int = 15
    id_patients: int = 25
    date_patients: int = 25
    search_passes: int = 1
    naive_search_per_category: int = 10
    delays_ms: tuple[float, ...] = (0.0, 25.0, 50.0)
    chart_reps: int = 7
    naive_chart_reps: int = 3
    startup_runs: int = 5
    memory_charts: int = 20
    naive_error_check: bool = True
    #: Over a VPN: (Mbit/s each way, one-way delay ms) of each link.
    vpn_links: tuple[tuple[float, float], ...] = ((3.0, 50.0), (10.0, 20.0))
    vpn_baseline: bool = True  # the same over loopback
    vpn_logins: int = 3
    vpn_reps: int = 5
    vpn_keystrokes: int = 6
    #: Compare the TLS front with a distribution PostgreSQL's own TLS, where installed.
    vpn_tls_check: bool = True
    #: A clinic under load: workstations at a clinic's pace, and flat out.
    load_workstations: tuple[int, ...] = (1, 5, 20, 40)
    load_seconds: float = 90.0
    load_flat_workstations: tuple[int, ...] = (1, 5, 20, 40)
    load_flat_seconds: float = 30.0
    #: Search and chart again after a server restart (cold buffers).
    cold_keystrokes: int = 40


FULL_PLAN = Plan()
SMOKE_PLAN = Plan(
    name_patients=2,
    typo_patients=2,
    id_patients=2,
    date_patients=2,
    search_passes=1,
    naive_search_per_category=2,
    delays_ms=(0.0, 5.0),
    chart_reps=2,
    naive_chart_reps=1,
    startup_runs=1,
    memory_charts=3,
    vpn_links=((3.0, 5.0),),
    vpn_baseline=False,
    vpn_tls_check=False,
    vpn_logins=1,
    vpn_reps=1,
    vpn_keystrokes=1,
    load_workstations=(1, 2),
    load_seconds=4.0,
    load_flat_workstations=(2,),
    load_flat_seconds=2.0,
    cold_keystrokes=4,
)


@dataclass
class Target:
    """The database under test and how to reach it."""

    port: int
    database: str
    admin_url: str
    load: dict[str, Any] = field(default_factory=dict)
    #: The server's data folder, when the run may restart it (cold buffers).
    data_dir: Path | None = None

    def config(self, port: int | None = None, *, rootcert: Path | None = None) -> ClientConfig:
        """Loopback without TLS; with ``rootcert``, TLS checked as workstations do."""
        return ClientConfig(
            hosts=("127.0.0.1",),
            port=port or self.port,
            database=self.database,
            sslmode="disable" if rootcert is None else "verify-full",
            sslrootcert=rootcert,
        )

    def client(
        self,
        port: int | None = None,
        *,
        rootcert: Path | None = None,
        user: str = server.BENCH_USER,
        password: str = server.BENCH_PASSWORD,
    ) -> Database:
        return Database(self.config(port, rootcert=rootcert), Credentials(user, password))


def stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        # nearest rank
        k = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[k - 1]

    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": pct(95),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


@contextmanager
def timer() -> Iterator[list[float]]:
    out: list[float] = []
    t0 = time.perf_counter()
    yield out
    out.append(time.perf_counter() - t0)


def patients_by_id(target: Target, ids: Sequence[int]) -> list[dict[str, Any]]:
    engine = sa.create_engine(target.admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, patient_code, family_name, given_name, birth_date"
                    " FROM phms.patient WHERE id = ANY(:ids) ORDER BY id"
                ),
                {"ids": list(ids)},
            ).mappings()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def fmt_mb(v: float) -> str:
    return f"{v / 1e6:.0f} MB"


def fmt_kb(v: float) -> str:
    return f"{v / 1e3:.1f} kB"


def fmt_s(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def fmt_ratio(naive_v: float | None, design_v: float | None) -> str:
    if not naive_v or not design_v:
        return "–"
    return (
        f"{naive_v / design_v:.0f}×" if naive_v / design_v >= 10 else f"{naive_v / design_v:.1f}×"
    )


def run_summary(runs: Sequence[dict[str, Any]], time_key: str = "ms") -> dict[str, Any]:
    """Runs of one operation: how many (and failed: an ``error`` key), the median,
    slowest and fastest ``time_key`` as ``ms_p50``/``ms_max``/``ms_min``, and the
    median (low) of every other number the runs share (counters, bytes)."""
    ok = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {"runs": len(runs), "failed": len(runs) - len(ok)}
    if not ok:
        out["errors"] = [r.get("error") for r in runs][:3]
        return out
    times = sorted(r[time_key] for r in ok)
    out.update({"ms_p50": statistics.median(times), "ms_max": times[-1], "ms_min": times[0]})
    for key in ok[0]:
        if key != time_key and isinstance(ok[0][key], int | float) and key != "id":
            out[key] = statistics.median_low(r[key] for r in ok if key in r)
    return out
