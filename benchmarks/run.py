"""Benchmark PHMS end to end and write docs/benchmarks.md and docs/benchmarks.json.

    .venv/bin/python -m benchmarks.run --dir /tmp/phms-bench --patients 1000000

creates (first time) a dedicated embedded PostgreSQL server in ``--dir``/data
(tuned, see :data:`benchmarks.server.TUNING`), a database ``phms_bench_<N>``
migrated to head with a synthetic cohort (:mod:`benchmarks.generate`; reused
when it exists), and measures, each beside a naive baseline in the same run:

- search as you type through ``services.patients.search`` (``Database.session``,
  a clinician login), per keystroke: name prefixes, typos, IDs, birth dates;
- opening a chart (a typical one and one with 500 records) through the latency
  proxy at 0, 25 and 50 ms one way: statements, round trips, bytes, wall time;
- the Error Check over the whole database;
- client start to the login window (``python -m phms_client``, offscreen);
- client memory (RSS) after opening 20 charts.

Wall times on a shared machine are noisy: compare the figures of one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import audit_review, generate, naive, server
from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_admin import embedded
from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database
from phms_client.services import chart, patients

REPO = Path(__file__).resolve().parent.parent
SECTIONS = (
    "Summary",
    "Findings",
    "Environment",
    "Data",
    "Search",
    "Chart",
    "Error Check",
    "Start-up",
    "Memory",
)
TARGETS = {
    "search_p95_ms": 30.0,
    "chart_round_trips": 2,
    "chart_extra_ms_at_50": 50.0,
    "error_check_s": 5.0,
    "startup_s": 1.5,
}


@dataclass(frozen=True)
class Plan:
    """How much to measure (the smoke test uses a small plan)."""

    name_patients: int = 25
    typo_patients: int = 15
    id_patients: int = 25
    date_patients: int = 25
    search_passes: int = 2
    naive_search_per_category: int = 10
    delays_ms: tuple[float, ...] = (0.0, 25.0, 50.0)
    chart_reps: int = 7
    naive_chart_reps: int = 1
    startup_runs: int = 5
    memory_charts: int = 20
    naive_error_check: bool = True


SMOKE_PLAN = Plan(
    name_patients=2,
    typo_patients=2,
    id_patients=2,
    date_patients=2,
    search_passes=1,
    naive_search_per_category=2,
    delays_ms=(0.0, 5.0),
    chart_reps=2,
    startup_runs=1,
    memory_charts=3,
)


@dataclass
class Target:
    """The database under test and how to reach it."""

    port: int
    database: str
    admin_url: str
    load: dict[str, Any] = field(default_factory=dict)

    def config(self, port: int | None = None) -> ClientConfig:
        return ClientConfig(
            hosts=("127.0.0.1",), port=port or self.port, database=self.database, sslmode="disable"
        )

    def client(self, port: int | None = None) -> Database:
        return Database(self.config(port), Credentials(server.BENCH_USER, server.BENCH_PASSWORD))


# ------------------------------------------------------------------ helpers


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


def _patients(target: Target, ids: Sequence[int]) -> list[dict[str, Any]]:
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


def _keystrokes(text: str, start: int = 1) -> list[str]:
    out: list[str] = []
    for i in range(start, len(text) + 1):
        typed = text[:i].strip()
        if typed and (not out or out[-1] != typed):
            out.append(typed)
    return out


def _typo(word: str, rng: random.Random) -> tuple[str, int]:
    """A misspelling (one letter dropped, or two swapped) and where it starts."""
    if len(word) >= 5:
        i = rng.randrange(2, len(word) - 1)
        return word[:i] + word[i + 1 :], i
    if len(word) >= 3:
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :], i
    return word + word[-1], len(word)


def search_workload(
    target: Target, plan: Plan, seed: int, intended: dict[str, tuple[int, str]] | None = None
) -> dict[str, list[str]]:
    """Keystrokes per category; ``intended`` receives each typo keystroke's patient
    (id, family name)."""
    rng = random.Random(seed)
    n = int(target.load.get("patients") or 1)
    want = plan.name_patients + plan.typo_patients + plan.id_patients + plan.date_patients
    ids = rng.sample(range(1, n + 1), min(n, want))
    people = _patients(target, ids)
    rng.shuffle(people)
    take = iter(people)

    def some(k: int) -> list[dict[str, Any]]:
        return [p for _, p in zip(range(k), take, strict=False)]

    work: dict[str, list[str]] = {"name prefix": [], "typo": [], "ID": [], "birth date": []}
    for p in some(plan.name_patients):
        work["name prefix"] += _keystrokes(f"{p['family_name']} {p['given_name']}")
    for p in some(plan.typo_patients):
        typo, at = _typo(p["family_name"], rng)
        strokes = _keystrokes(f"{typo} {p['given_name'].split()[0]}", start=at + 1)
        work["typo"] += strokes
        if intended is not None:
            intended.update(dict.fromkeys(strokes, (p["id"], p["family_name"])))
    for p in some(plan.id_patients):
        work["ID"] += _keystrokes(p["patient_code"])
    for p in some(plan.date_patients):
        born: dt.date = p["birth_date"]
        work["birth date"] += [born.isoformat(), born.strftime("%d.%m.%Y")]
    return work


# ------------------------------------------------------------------ search

SearchFn = Callable[..., list[patients.PatientSummary]]


def _run_searches(
    db: Database, fn: SearchFn, queries: Sequence[str], passes: int
) -> tuple[list[float], dict[str, int]]:
    times: list[float] = []
    found: dict[str, int] = {}
    for _ in range(passes):
        for q in queries:
            t0 = time.perf_counter()
            with db.session() as s:
                rows = fn(s, q, offset=0, limit=patients.PAGE_SIZE + 1)
            times.append((time.perf_counter() - t0) * 1000)
            found[q] = len(rows)
    return times, found


def _typo_quality(
    db: Database,
    queries: Sequence[str],
    intended: dict[str, tuple[int, str]],
    threshold: str | None,
) -> dict[str, Any]:
    """How many misspelt keystrokes show the patient meant on the first page, with the
    client's word-similarity threshold (None) or another one set for the session."""
    times: list[float] = []
    empty = found = family = 0
    used = threshold
    for q in queries:
        with db.session() as s:
            if threshold is not None:
                s.execute(
                    sa.text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
                    {"t": threshold},
                )
            used = s.execute(sa.text("SHOW pg_trgm.word_similarity_threshold")).scalar()
            t0 = time.perf_counter()
            rows = patients.search(s, q)
            times.append((time.perf_counter() - t0) * 1000)
        meant_id, meant_family = intended[q]
        empty += not rows
        found += any(r.id == meant_id for r in rows)
        family += any(r.family_name == meant_family for r in rows)
    return {
        "threshold": used,
        "keystrokes": len(queries),
        "ms": stats(times),
        "empty_results": empty,
        "intended": found,
        "family": family,
    }


def bench_search(
    target: Target, plan: Plan, seed: int, log: Callable[[str], None]
) -> dict[str, Any]:
    intended: dict[str, tuple[int, str]] = {}
    work = search_workload(target, plan, seed, intended)
    db = target.client()
    rng = random.Random(seed + 1)
    result: dict[str, Any] = {"queries": {k: len(v) for k, v in work.items()}, "categories": {}}
    try:
        all_q = [q for qs in work.values() for q in qs]
        _run_searches(db, patients.search, all_q, 1)  # warm: caches, prepared statements
        overall: list[float] = []
        overall_naive: list[float] = []
        for category, queries in work.items():
            log(f"search: {category} ({len(queries)} queries)")
            times, found = _run_searches(db, patients.search, queries, plan.search_passes)
            overall += times
            k = min(len(queries), plan.naive_search_per_category)
            subset = sorted(rng.sample(range(len(queries)), k))
            naive_q = [queries[i] for i in subset]
            naive_times, _ = _run_searches(db, naive.naive_search, naive_q, 1)
            overall_naive += naive_times
            entry: dict[str, Any] = {
                "design": stats(times),
                "naive": stats(naive_times),
                "empty_results": sum(1 for q in queries if found[q] == 0),
                "examples": queries[:12],
            }
            if category in ("name prefix", "typo"):
                ranked, _ = _run_searches(db, naive.ranked_search, queries, 1)
                entry["ranked_all"] = stats(ranked)
            if category == "typo":
                entry["quality"] = {
                    "design": _typo_quality(db, queries, intended, None),
                    "pg_trgm_default": _typo_quality(db, queries, intended, "0.6"),
                }
            result["categories"][category] = entry
        result["overall"] = {"design": stats(overall), "naive": stats(overall_naive)}
    finally:
        db.close()
    return result


# ------------------------------------------------------------------ chart


def _open_chart(
    db: Database, fn: Callable[..., Any], pid: int, proxy: LatencyProxy, counter: list[int]
) -> dict[str, float]:
    proxy.counters.reset()
    counter[0] = 0
    t0 = time.perf_counter()
    with db.session() as s:
        c = fn(s, pid)
    wall = (time.perf_counter() - t0) * 1000
    return {
        "ms": wall,
        "round_trips": proxy.counters.round_trips,
        "bytes_up": proxy.counters.bytes_up,
        "bytes_down": proxy.counters.bytes_down,
        "statements": counter[0],
        "records": len(c.timeline)
        + len(c.medications)
        + len(c.allergies)
        + len(c.comorbidities)
        + len(c.stopped_items)
        + len(c.later_items),
    }


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    ms = [r["ms"] for r in runs]
    first = runs[0]
    return {
        "ms_p50": statistics.median(ms),
        "ms_max": max(ms),
        "round_trips": statistics.median_low(r["round_trips"] for r in runs),
        "round_trips_max": max(r["round_trips"] for r in runs),
        "statements": max(r["statements"] for r in runs),
        "bytes_down": first["bytes_down"],
        "bytes_up": first["bytes_up"],
        "records": first["records"],
        "runs": len(runs),
    }


def bench_chart(target: Target, plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    big = int(target.load["big_chart_patient"])
    typical = _typical_patient(target)
    out: dict[str, Any] = {"patients": {"typical": typical, "big": big}, "delays": {}}
    for delay in plan.delays_ms:
        log(f"chart: {delay:g} ms one way")
        with ProxyThread(LatencyProxy("127.0.0.1", target.port, delay_ms=delay)) as proxy:
            db = target.client(proxy.port)
            counter = [0]

            def count(*_a: Any, counter: list[int] = counter) -> None:
                counter[0] += 1

            sa.event.listen(db.engine, "before_cursor_execute", count)
            try:
                with db.session() as s:  # a logged-in client: one pooled connection
                    s.execute(sa.text("SELECT 1"))
                entry: dict[str, Any] = {}
                for label, pid in (("typical", typical), ("big", big)):
                    runs = [
                        _open_chart(db, chart.load_chart, pid, proxy, counter)
                        for _ in range(plan.chart_reps)
                    ]
                    naive_runs = [
                        _open_chart(db, naive.naive_chart, pid, proxy, counter)
                        for _ in range(plan.naive_chart_reps)
                    ]
                    window = [
                        _open_chart(db, _as_chart_window_opens, pid, proxy, counter)
                        for _ in range(plan.chart_reps)
                    ]
                    together = [
                        _open_chart(db, _with_details, pid, proxy, counter)
                        for _ in range(plan.chart_reps)
                    ]
                    entry[label] = {
                        "design": _summary(runs),
                        "naive": _summary(naive_runs),
                        "window": _summary(window),
                        "window_one_statement": _summary(together),
                    }
                out["delays"][f"{delay:g}"] = entry
            finally:
                db.close()
    return out


def _as_chart_window_opens(s: Any, pid: int) -> Any:
    """How ``ui.chart.chart_window`` opened a chart before: the chart, then the demographics."""
    loaded = chart.load_chart(s, pid)
    patients.get(s, pid)
    return loaded


def _with_details(s: Any, pid: int) -> Any:
    return chart.load_chart_with_details(s, pid)[1]


def _typical_patient(target: Target) -> int:
    """The first patient (from the middle of the ids) with 5 to 7 chart records."""
    engine = sa.create_engine(target.admin_url, poolclass=sa.pool.NullPool)
    sql = """SELECT p.id FROM phms.patient p,
  LATERAL (SELECT (SELECT count(*) FROM phms.assessment WHERE patient_id = p.id)
           + (SELECT count(*) FROM phms.six_minute_walk WHERE patient_id = p.id)
           + (SELECT count(*) FROM phms.vasodilator_challenge WHERE patient_id = p.id)
           + (SELECT count(*) FROM phms.medication WHERE patient_id = p.id)
           + (SELECT count(*) FROM phms.allergy WHERE patient_id = p.id)
           + (SELECT count(*) FROM phms.comorbidity WHERE patient_id = p.id) AS n) c
 WHERE p.id > :from AND c.n BETWEEN 5 AND 7 ORDER BY p.id LIMIT 1"""
    try:
        with engine.connect() as conn:
            start = int(target.load.get("patients") or 2) // 3
            found = conn.execute(sa.text(sql), {"from": start}).scalar()
            return int(found if found is not None else target.load["big_chart_patient"])
    finally:
        engine.dispose()


# ------------------------------------------------------------------ error check


def bench_error_check(target: Target, plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    try:
        from phms_client.services import error_check
        from phms_schema import ddl_tally
    except ImportError:
        return {"available": False}
    db = target.client()
    out: dict[str, Any] = {"available": True}
    try:
        out["tally_rows"] = _tally_rows(target)
        log("error check: design (from the value tally)")
        t0 = time.perf_counter()
        with db.session() as s:
            result = error_check.run_error_check(s)
        out["design"] = {
            "s": time.perf_counter() - t0,
            "hits": len(result.hits),
            "fields_checked": result.fields_checked,
            "threshold_sd": str(result.threshold_sd),
        }
        # Some hits, so that the scan for their rows is part of what is timed.
        out["sensitive"] = _error_check_at(db, error_check, Decimal(6))
        log("error check: recount (the same statement, counts from the records)")
        recount = error_check.statement(ddl_tally.recount())
        for key, n_sd in (("recount", result.threshold_sd), ("recount_sensitive", Decimal(6))):
            t0 = time.perf_counter()
            with db.session() as s:
                rows = s.execute(recount, {"n_sd": n_sd}).mappings().all()
            hits = sorted(
                (r["source_table"], r["field"], r["record_id"]) for r in rows if r["field"]
            )
            reference = result if key == "recount" else out["sensitive"].pop("result")
            out[key] = {
                "s": time.perf_counter() - t0,
                "hits": len(hits),
                "same_hits": hits
                == sorted((h.table, h.field, h.record_id) for h in reference.hits),
            }
        if plan.naive_error_check:
            log("error check: naive (every value to the client)")
            t0 = time.perf_counter()
            with db.session() as s:
                hits_n, fields_checked, values = _naive_error_check(
                    s, error_check, result.threshold_sd
                )
            out["naive"] = {
                "s": time.perf_counter() - t0,
                "hits": hits_n,
                "fields_checked": fields_checked,
                "values": values,
            }
    finally:
        db.close()
    out["sensitive"].pop("result", None)
    return out


def _error_check_at(db: Database, module: Any, n_sd: Decimal) -> dict[str, Any]:
    t0 = time.perf_counter()
    with db.session() as s:
        result = module.run_error_check(s, n_sd)
    return {
        "s": time.perf_counter() - t0,
        "hits": len(result.hits),
        "threshold_sd": str(n_sd),
        "result": result,
    }


def _tally_rows(target: Target) -> int:
    engine = sa.create_engine(target.admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM phms.value_tally")).scalar_one())
    finally:
        engine.dispose()


def _naive_error_check(s: Any, module: Any, n_sd: Decimal) -> tuple[int, int, int]:
    """The same rule computed in Python: every value of every field fetched, sorted."""
    from phms_schema import ddl_tally

    hits = checked = values_seen = 0
    for table, fields in module.FIELDS.items():
        for name in fields:
            values = sorted(
                s.execute(
                    sa.text(
                        f"SELECT t.{name}::numeric FROM phms.{table} t"
                        f" WHERE {ddl_tally.live(table)} AND t.{name} IS NOT NULL"
                    )
                ).scalars()
            )
            n = len(values)
            values_seen += n
            if n <= module.MIN_VALUES:
                continue
            checked += 1
            cut = n // 8
            middle = values[cut : n - cut]
            mean = sum(middle) / len(middle)
            sd = (sum((v - mean) ** 2 for v in middle) / (len(middle) - 1)).sqrt()
            if sd > 0:
                hits += sum(1 for v in values if abs(v - mean) > n_sd * sd)
    return hits, checked, values_seen


# ------------------------------------------------------------------ start-up


def _startup_once(target: Target, argv_prefix: list[str], home: Path) -> float | None:
    env = dict(os.environ)
    env.update(
        {
            "QT_QPA_PLATFORM": "offscreen",
            "PHMS_EXIT_WHEN_SHOWN": "1",
            "PHMS_SITE_CONFIG": str(home / "site.toml"),
            "PHMS_USER_CONFIG": str(home / "user.toml"),
            "PHMS_DATABASE": target.database,
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home),
        }
    )
    t0 = time.time()
    proc = subprocess.run(
        [*argv_prefix, "--server", f"127.0.0.1:{target.port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=home,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PHMS_SHOWN "):
            return float(line.split()[1]) - t0
    return None


_EAGER = (
    "import sys, importlib, pkgutil, phms_client, phms_client.ui, phms_client.services;"
    "[importlib.import_module(m.name) for pkg in (phms_client.ui, phms_client.services)"
    " for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')];"
    "from phms_client.app import main; sys.exit(main(sys.argv[1:]))"
)


def bench_startup(target: Target, plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="phms-bench-start-") as tmp:
        home = Path(tmp)
        for label, argv in (
            ("design", [sys.executable, "-m", "phms_client"]),
            ("naive", [sys.executable, "-c", _EAGER]),
        ):
            log(f"start-up: {label}")
            runs = [_startup_once(target, argv, home) for _ in range(plan.startup_runs)]
            ok = [r for r in runs if r is not None]
            out[label] = {
                "first_s": runs[0],
                "p50_s": statistics.median(ok) if ok else None,
                "max_s": max(ok) if ok else None,
                "runs": len(runs),
                "failed": len(runs) - len(ok),
            }
    return out


# ------------------------------------------------------------------ memory


def bench_memory(target: Target, plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    n = int(target.load.get("patients") or 1)
    rng = random.Random(7)
    ids = rng.sample(range(1, n + 1), min(n, plan.memory_charts))
    big = [int(target.load["big_chart_patient"])] * plan.memory_charts
    out: dict[str, Any] = {"charts": plan.memory_charts}
    for label, chosen in (("random", ids), ("big", big)):
        for mode in ("design", "naive"):
            log(f"memory: {mode}, {label} charts")
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.memory_probe",
                    str(target.port),
                    target.database,
                    server.BENCH_USER,
                    server.BENCH_PASSWORD,
                    mode,
                    *map(str, chosen),
                ],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=REPO,
                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                check=False,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                out[f"{label}_{mode}"] = {"error": proc.stderr[-2000:]}
                continue
            out[f"{label}_{mode}"] = json.loads(lines[-1])
    return out


# ------------------------------------------------------------------ environment


def environment(target: Target) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    settings = (
        "server_version",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "random_page_cost",
        "jit",
        "max_parallel_workers_per_gather",
    )
    engine = sa.create_engine(target.admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            pg = {k: str(conn.execute(sa.text(f"SHOW {k}")).scalar()) for k in settings}
            size = int(
                conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar() or 0
            )
            rows = {
                r.relname: int(r.n)
                for r in conn.execute(
                    sa.text(
                        "SELECT relname, n_live_tup AS n FROM pg_stat_user_tables"
                        " WHERE schemaname = 'phms' AND n_live_tup > 0 ORDER BY relname"
                    )
                )
            }
    finally:
        engine.dispose()
    import psycopg
    import PySide6

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_bytes": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "pyside6": PySide6.__version__,
        "sqlalchemy": sa.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": pg,
        "database_bytes": size,
        "rows": rows,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ------------------------------------------------------------------ targets


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    search = results["search"]["overall"]["design"]
    per = ", ".join(
        f"{k} {v['design']['p95']:.1f}" for k, v in results["search"]["categories"].items()
    )
    rows.append(
        {
            "target": "Search p95 ≤ 30 ms (loopback, all keystrokes)",
            "figure": f"{search['p95']:.1f} ms (per category: {per} ms)",
            "met": search["p95"] <= TARGETS["search_p95_ms"],
        }
    )
    delays = results["chart"]["delays"]
    trips = max(v["design"]["round_trips"] for d in delays.values() for v in d.values())
    most = max(v["design"]["round_trips_max"] for d in delays.values() for v in d.values())
    once = (
        f"; {most} once per pooled connection, when psycopg prepares the statement on its 6th use"
        if most > trips
        else ""
    )
    rows.append(
        {
            "target": "Chart open ≤ 2 round trips, whatever the record count",
            "figure": f"{trips} round trips (typical and 500-record chart, every delay{once})",
            "met": trips <= TARGETS["chart_round_trips"],
        }
    )
    if "50" in delays:
        worst = max(v["design"]["ms_p50"] for v in delays["50"].values())
        limit = 3 * 100 + TARGETS["chart_extra_ms_at_50"]
        rows.append(
            {
                "target": "Chart open ≤ 3 × RTT + 50 ms = 350 ms at 50 ms one way",
                "figure": f"{worst:.0f} ms (median, 500-record chart)",
                "met": worst <= limit,
            }
        )
    ec = results["error_check"]
    if ec.get("available"):
        worst = max(ec["design"]["s"], ec["sensitive"]["s"])
        rows.append(
            {
                "target": "Error Check over the whole database ≤ 5 s",
                "figure": (
                    f"{ec['design']['s']:.2f} s at {ec['design']['threshold_sd']} SD, "
                    f"{ec['sensitive']['s']:.2f} s at {ec['sensitive']['threshold_sd']} SD "
                    f"({ec['sensitive']['hits']:,} hits)"
                ),
                "met": worst <= TARGETS["error_check_s"],
            }
        )
    else:
        rows.append(
            {"target": "Error Check ≤ 5 s", "figure": "not measured (not available)", "met": None}
        )
    start = results["startup"]["design"]
    figure = start["p50_s"]
    rows.append(
        {
            "target": "Start to login window ≤ 1.5 s",
            "figure": "failed" if figure is None else f"{figure:.2f} s (median)",
            "met": figure is not None and figure <= TARGETS["startup_s"],
        }
    )
    return rows


# ------------------------------------------------------------------ report


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _mb(v: float) -> str:
    return f"{v / 1e6:.0f} MB"


def _kb(v: float) -> str:
    return f"{v / 1e3:.1f} kB"


def _ratio(naive_v: float | None, design_v: float | None) -> str:
    if not naive_v or not design_v:
        return "–"
    return (
        f"{naive_v / design_v:.0f}×" if naive_v / design_v >= 10 else f"{naive_v / design_v:.1f}×"
    )


def render(results: dict[str, Any], *, command: str, notes: Sequence[str] = ()) -> str:
    env, load = results["environment"], results["load"]
    met = {True: "met", False: "**not met**", None: "not measured"}
    out: list[str] = ["# PHMS benchmarks", ""]
    out += [
        f"Run of {env['date']} at **{load['patients']:,} patients** "
        f"({sum(load['rows'].values()):,} rows loaded). Every figure is beside a naive "
        "baseline measured in the same run; on a shared machine compare the ratios, not "
        "the absolute times of different runs.",
        "",
        f"Reproduce: `{command}` (see *How to run* below).",
        "",
        "## Summary",
        "",
        "| Target | Figure | Result |",
        "|---|---|---|",
    ]
    out += [f"| {r['target']} | {r['figure']} | {met[r['met']]} |" for r in results["targets"]]
    out += ["", *[f"- {n}" for n in notes], ""] if notes else [""]

    out += ["## Environment", ""]
    pg = env["postgresql"]
    out += [
        f"- CPU: {env['cpu']} ({env['cores']} cores), RAM {env['ram_bytes'] / 2**30:.0f} GiB",
        f"- OS: {env['os']}; Python {env['python']}, PySide6 {env['pyside6']}, "
        f"SQLAlchemy {env['sqlalchemy']}, psycopg {env['psycopg']}",
        f"- PostgreSQL {pg['server_version']} (embedded server, loopback), shared_buffers "
        f"{pg['shared_buffers']}, work_mem {pg['work_mem']}, maintenance_work_mem "
        f"{pg['maintenance_work_mem']}, effective_cache_size {pg['effective_cache_size']}, "
        f"random_page_cost {pg['random_page_cost']}, jit {pg['jit']}, "
        f"max_parallel_workers_per_gather {pg['max_parallel_workers_per_gather']}",
        f"- Database size {_mb(env['database_bytes'])}",
        "- Load average (1 min) before / after each section, other work on the machine "
        "included: "
        + ", ".join(f"{k} {a:.1f} / {b:.1f}" for k, (a, b) in env.get("load_average", {}).items()),
        "",
    ]

    out += ["## Data", ""]
    secs = load.get("seconds", {})
    out += [
        f"`benchmarks/generate.py`, seed {load['seed']}, reference date {load['as_of']}: "
        f"loaded in {secs.get('total', 0):.0f} s (COPY {secs.get('copy', 0):.0f} s, "
        f"indexes {secs.get('indexes', 0):.0f} s, VACUUM ANALYZE "
        f"{secs.get('vacuum_analyze', 0):.0f} s, verification {secs.get('verify', 0):.0f} s).",
        "",
        "| Table | Rows |",
        "|---|---:|",
        *[f"| {t} | {n:,} |" for t, n in load["rows"].items()],
        "",
        f"Verification: {_verification(load.get('checks', {}))}",
        "",
    ]

    s = results["search"]
    out += [
        "## Search",
        "",
        "Every keystroke's query through `services.patients.search` in its own "
        "`Database.session()` as a clinician (first page: 51 rows, as the list asks), after "
        "one warm-up pass. Queries per category: "
        + ", ".join(f"{k} {v}" for k, v in s["queries"].items())
        + f"; measured {results['plan']['search_passes']} times each. The naive baseline "
        "(`ILIKE '%text%'` on an unindexed `unaccent(lower(name ‖ ID ‖ birth date))`) ran "
        f"on up to {results['plan']['naive_search_per_category']} queries per category. "
        "*Ranked all* is PHMS's name search before this benchmark (trigram index, every "
        "match ranked before the first page).",
        "",
        "| Category | p50 ms | p95 ms | max ms | naive p50 | naive p95 | naive max | "
        "p95 ratio | ranked all p50 / p95 / max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cat, e in [*s["categories"].items(), ("all", s["overall"])]:
        d, n = e["design"], e["naive"]
        ranked = e.get("ranked_all")
        ranked_txt = (
            f"{_ms(ranked['p50'])} / {_ms(ranked['p95'])} / {_ms(ranked['max'])}" if ranked else ""
        )
        out.append(
            f"| {cat} | {_ms(d.get('p50'))} | {_ms(d.get('p95'))} | {_ms(d.get('max'))} | "
            f"{_ms(n.get('p50'))} | {_ms(n.get('p95'))} | {_ms(n.get('max'))} | "
            f"{_ratio(n.get('p95'), d.get('p95'))} | {ranked_txt} |"
        )
    out += [""]
    for cat, e in s["categories"].items():
        out.append(
            f"- {cat}: e.g. {', '.join(repr(q) for q in e['examples'][:6])}"
            + (f"; {e['empty_results']} queries found nobody" if e["empty_results"] else "")
        )
    out += [""]

    c = results["chart"]
    out += [
        "## Chart",
        "",
        "Opening a chart from a logged-in client (one pooled connection): "
        "`with db.session() as s: chart.load_chart(s, id)` against the naive ORM loader "
        "(lazy loading: one query per relationship and per record, same `Chart` "
        "result), through `benchmarks/latency_proxy.py` with the given one-way delay. "
        f"Typical chart: patient {c['patients']['typical']}; big chart: patient "
        f"{c['patients']['big']}. Round trips and bytes as counted by the proxy "
        "(the pool's liveness ping included; *once*: on the statement's 6th use on a "
        "connection psycopg prepares it, one round trip more, then no more planning); "
        f"median of {results['plan']['chart_reps']} opens (naive: "
        f"{results['plan']['naive_chart_reps']}).",
        "",
        "| Delay (one way) | Chart | Records | Statements | Round trips | Bytes down | ms | "
        "naive statements | naive round trips | naive bytes down | naive ms | ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for delay, entry in c["delays"].items():
        for label, e in entry.items():
            d, n = e["design"], e["naive"]
            trips = str(d["round_trips"])
            if d.get("round_trips_max", 0) > d["round_trips"]:
                trips += f" ({d['round_trips_max']} once)"
            out.append(
                f"| {delay} ms | {label} | {d['records']} | {d['statements']} | "
                f"{trips} | {_kb(d['bytes_down'])} | {d['ms_p50']:.0f} | "
                f"{n['statements']} | {n['round_trips']} | {_kb(n['bytes_down'])} | "
                f"{n['ms_p50']:.0f} | {_ratio(n['ms_p50'], d['ms_p50'])} |"
            )
    out += [
        "",
        "The chart window (`ui/chart/chart_window.py`) needs the demographics row too (its form "
        "needs the row's version and contact fields). It used to call `load_chart` and "
        "then `patients.get` in the same session; it now calls "
        "`chart.load_chart_with_details`, which gives both from the one statement:",
        "",
        "| Delay (one way) | Chart | load_chart + get: statements | round trips | ms | "
        "load_chart_with_details: statements | round trips | ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for delay, entry in c["delays"].items():
        for label, e in entry.items():
            w, t = e.get("window"), e.get("window_one_statement")
            if w and t:
                out.append(
                    f"| {delay} ms | {label} | {w['statements']} | {w['round_trips']} | "
                    f"{w['ms_p50']:.0f} | {t['statements']} | {t['round_trips']} | "
                    f"{t['ms_p50']:.0f} |"
                )
    out += [""]

    ec = results["error_check"]
    out += ["## Error Check", ""]
    if not ec.get("available"):
        out += ["Not measured: `phms_client.services.error_check` is not available.", ""]
    else:
        d = ec["design"]
        out += [
            "`services.error_check.run_error_check` over the whole database as a clinician "
            f"(threshold {d['threshold_sd']} SD): **{d['s']:.2f} s**, {d['hits']} hits, "
            f"{d['fields_checked']} fields checked.",
            "",
        ]
        sens = ec["sensitive"]
        out += [
            f"At {sens['threshold_sd']} SD, so that there are hits and the tables holding "
            f"them are scanned: **{sens['s']:.2f} s**, {sens['hits']:,} hits. The check reads "
            f"`phms.value_tally` ({ec['tally_rows']:,} rows: one per distinct value of a "
            "field) instead of every value, and scans a table for rows only when one of its "
            "fields has a value beyond the bounds.",
            "",
        ]
        for key, n_sd in (
            ("recount", d["threshold_sd"]),
            ("recount_sensitive", sens["threshold_sd"]),
        ):
            if key in ec:
                r, mine = ec[key], (d if key == "recount" else sens)
                out += [
                    f"Without the tally (the same statement, counts per distinct value "
                    f"aggregated from the records on each run), {n_sd} SD: {r['s']:.1f} s, "
                    f"{r['hits']:,} hits, "
                    f"{'the same hits' if r['same_hits'] else 'DIFFERENT hits'} "
                    f"({_ratio(r['s'], mine['s'])} the design's time).",
                    "",
                ]
        if "naive" in ec:
            n = ec["naive"]
            out += [
                f"Naive baseline (every value fetched to the client, sorted and trimmed in "
                f"Python, {n['values']:,} values): {n['s']:.1f} s, {n['hits']} hits "
                f"({_ratio(n['s'], d['s'])} the design's time).",
                "",
            ]

    st = results["startup"]
    out += [
        "## Start-up",
        "",
        "`python -m phms_client --server …` with `QT_QPA_PLATFORM=offscreen` and "
        "`PHMS_EXIT_WHEN_SHOWN=1` (the client prints the time when the login window is "
        "shown, then quits); from before the process is started to that moment. Naive: "
        "the same, after importing every module of `phms_client.ui` and "
        "`phms_client.services` first (no lazy imports).",
        "",
        "| | first run | median | max | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for label in ("design", "naive"):
        e = st[label]
        out.append(
            f"| {label} | {_sec(e['first_s'])} | {_sec(e['p50_s'])} | {_sec(e['max_s'])} | "
            f"{e['runs']} ({e['failed']} failed) |"
        )
    out += [""]

    m = results["memory"]
    out += [
        "## Memory",
        "",
        f"A fresh client process (Qt loaded, a `QApplication`, logged in) opens "
        f"{m['charts']} charts and keeps them, as open chart windows would: the design "
        "keeps each frozen `Chart`; the naive client keeps each chart's ORM `Session` with "
        "its objects. RSS from `/proc/self/status`.",
        "",
        "| Charts | Client | RSS before | RSS after | growth |",
        "|---|---|---:|---:|---:|",
    ]
    for label, text in (("random", "random patients"), ("big", "the 500-record chart")):
        for mode in ("design", "naive"):
            e = m.get(f"{label}_{mode}", {})
            if "after" not in e:
                out.append(f"| {text} | {mode} | failed | | |")
                continue
            out.append(
                f"| {text} | {mode} | {_mb(e['before'])} | {_mb(e['after'])} | "
                f"{_mb(e['after'] - e['before'])} |"
            )
    out += ["", *findings(results), HOW_TO_RUN]
    return "\n".join(out)


def _typo_finding(quality: dict[str, Any]) -> str:
    d, p = quality["design"], quality["pg_trgm_default"]
    return (
        f"Misspelt names ({d['keystrokes']} keystrokes; the same statement at "
        f"`pg_trgm`'s default word similarity {p['threshold']} / at the client's "
        f"{d['threshold']}, set in `db/database.py`): someone of the family meant on the "
        f"first page {p['family']} / {d['family']}, the patient meant {p['intended']} / "
        f"{d['intended']}, nobody {p['empty_results']} / {d['empty_results']}; p95 "
        f"{p['ms']['p95']:.1f} / {d['ms']['p95']:.1f} ms. A name with one letter dropped "
        "scores 0.55 ('Kowlski' against 'Kowalski'). A second word typed must resemble "
        "the name too (`services/patients.py`), so that the person meant is among the "
        "candidates ranked when the family name is common (when nobody resembles both, "
        "the first word alone). Most keystrokes still empty "
        "are the first letters after the misspelling, or short names with a letter "
        "dropped ('Roić' for 'Rosić'), which share too few trigrams. "
    )


def findings(results: dict[str, Any]) -> list[str]:
    """What the figures mean, what was changed for them, and what is still open."""
    out = ["## Findings", ""]
    typo = results["search"]["categories"].get("typo", {})
    out += [
        "- **Search.** Before this benchmark the name search ranked every trigram match "
        "before returning a page (*ranked all* above: p95 "
        f"{_ms(results['search']['categories']['name prefix'].get('ranked_all', {}).get('p95'))}"
        ' ms for name prefixes). Changed: migration 0006 (two `COLLATE "C"` btree '
        "indexes) and a tiered statement in `services/patients.py` — prefixes as range "
        "scans that stop after a page, then substrings, then (nothing found) look-alikes of "
        "the first two words, at most 1,000 trigram candidates ranked. The slowest keystrokes left "
        "are misspellings of the commonest names (the trigram index reads long posting "
        "lists). "
        + (_typo_finding(typo["quality"]) if "quality" in typo else "")
        + 'ID prefixes are a range on `patient_code COLLATE "C"` (migration 0008): '
        "`LIKE 'prefix%'` is answered from an index only on a server whose locale sorts "
        "byte-wise, as the embedded one does; on a distribution server created with "
        "libc's C.UTF-8 every keystroke read the patient table.",
        "- **Chart.** Changed: `load_chart`, the first statement of its unit of work, goes "
        "without BEGIN/COMMIT (4 → 2 round trips). The rest of the time at 0 ms is the "
        "server building 400 kB of JSON and the client parsing it.",
    ]
    big50 = results["chart"]["delays"].get("50", {}).get("big", {})
    window, together = big50.get("window"), big50.get("window_one_statement")
    if window and together:
        out.append(
            f"- **Chart window.** As the window opened it before (chart, then demographics) "
            f"it took {window['round_trips']} round trips, {window['ms_p50']:.0f} ms at "
            "50 ms for the big chart: the second statement brought BEGIN and COMMIT back. "
            "Added `chart.load_chart_with_details`, the same statement returning the "
            f"demographics row too: {together['round_trips']} round trips, "
            f"{together['ms_p50']:.0f} ms. The chart window now opens with it."
        )
    ec = results["error_check"]
    if ec.get("available"):
        recount = ec.get("recount", {}).get("s")
        out.append(
            "- **Error Check.** It ranked every value of each field with a window function: "
            "93 s at a million patients in the previous run (a sort of "
            f"{ec.get('naive', {}).get('values', 0):,} values). Counting each distinct "
            "value instead gives the same trimmed mean and SD"
            + (f" ({recount:.1f} s here, *without the tally* above)" if recount else "")
            + "; that is still one pass over every value. Changed: migration 0007 keeps "
            "those counts in `phms.value_tally`, written by row triggers as +1/−1 deltas "
            "(no shared counter, so concurrent writers never wait on each other), folded "
            "by each run; the check is one statement over the tally "
            f"({ec['tally_rows']:,} rows) that scans a table only for fields with a value "
            f"beyond the bounds: {ec['design']['s']:.2f} s, {ec['sensitive']['s']:.2f} s "
            "with hits to fetch."
        )
    start = results["startup"]["design"]
    if start.get("p50_s"):
        out.append(
            f"- **Start-up** ({start['p50_s']:.2f} s): about half is importing SQLAlchemy, "
            "psycopg and the models, which the login window does not need until the "
            "person logs in."
        )
    out.append("")
    return out


HOW_TO_RUN = """## How to run

```sh
.venv/bin/python -m benchmarks.run --dir /tmp/phms-bench --patients 1000000
```

The first run creates a dedicated embedded PostgreSQL server in `--dir`/data
(`phms_admin.embedded`: initdb, scram-sha-256, loopback only), appends the tuning
below to its `postgresql.conf`, creates the database `phms_bench_<patients>`,
migrates it to head (`phms_admin.migrate.upgrade`), creates the login
`bench_clinician` (clinician group) and loads the cohort; later runs reuse the
database (and migrate it, so new indexes arrive). It writes `docs/benchmarks.md`
and `docs/benchmarks.json` (`--out` elsewhere). `--smoke` runs the small plan of
the test suite; `--stop` stops the server at the end. About 25 minutes at a
million patients on two cores, most of it the baselines.

Server tuning for the run (`benchmarks/server.py`, a 24 GB machine):
`shared_buffers = 4GB`, `effective_cache_size = 16GB`, `work_mem = 32MB`,
`maintenance_work_mem = 1GB`, `max_wal_size = 8GB`, `checkpoint_timeout = 30min`,
`random_page_cost = 1.1`, `max_parallel_workers_per_gather = 2`, `jit = off`.

**How the data is loaded** (`benchmarks/generate.py`, `benchmarks/cohort.py`): as
the superuser, in one transaction, with `SET LOCAL session_replication_role =
replica`, which skips every row trigger: the audit trail and NOTIFY (not wanted
for synthetic data), the stamp trigger (so the generator fills `version = 1` and
`created_*`/`updated_*` with the visit's day and one of a few synthetic staff
names) and the rule and foreign-key triggers (so rows are valid by construction,
and checked afterwards: the verification line under *Data*). CHECK constraints,
unique keys and generated columns are not triggers and work as usual. Secondary
indexes are dropped before the COPY and built after it; Python draws the rows
while a second thread streams them (COPY, 10,000 patients a batch). Same seed,
scale and `--as-of` date: same rows.

The smoke test (`tests/benchmarks/test_benchmark_smoke.py`) runs the same code
on 200 patients in a database of its own and writes to a temporary folder.
"""


def _sec(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def _verification(checks: dict[str, Any]) -> str:
    if not checks:
        return "not run."
    zero = [k for k, v in checks.items() if v == 0]
    return (
        f"{'passed' if checks.get('ok') else 'FAILED'} — "
        f"{len(zero)} whole-database checks found nothing wrong (foreign keys, followup "
        "and challenge prerequisites, configured vasodilator agents, study dates within "
        f"life); the validating row triggers accepted {checks.get('trigger_sample_rows', 0):,}"
        f" rows of {checks.get('trigger_sample_patients', 0):,} sampled patients "
        "(no-op UPDATEs, rolled back)."
    )


# ------------------------------------------------------------------ driver


def run_all(
    target: Target,
    out_dir: Path,
    *,
    plan: Plan = Plan(),
    seed: int = generate.DEFAULT_SEED,
    command: str = "",
    notes: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure everything against ``target``; write benchmarks.md and .json to ``out_dir``."""
    started = time.perf_counter()
    results: dict[str, Any] = {"plan": asdict(plan), "load": target.load}
    results["environment"] = environment(target)
    load_avg: dict[str, list[float]] = {}
    benches: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
        ("search", lambda: bench_search(target, plan, seed, log)),
        ("chart", lambda: bench_chart(target, plan, log)),
        ("error_check", lambda: bench_error_check(target, plan, log)),
        ("startup", lambda: bench_startup(target, plan, log)),
        ("memory", lambda: bench_memory(target, plan, log)),
    )
    for name, bench in benches:
        before = os.getloadavg()[0]
        results[name] = bench()
        load_avg[name] = [round(before, 2), round(os.getloadavg()[0], 2)]
    results["environment"]["load_average"] = load_avg
    results["targets"] = evaluate(results)
    results["seconds"] = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmarks.json").write_text(
        json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n"
    )
    report = out_dir / "benchmarks.md"
    kept = report.read_text() if report.exists() else ""
    report.write_text(render(results, command=command, notes=notes))
    audit_review.keep_section(report, kept)  # measured by benchmarks.audit_review
    return results


def prepare(bench_dir: Path, patients_n: int, seed: int, log: Callable[[str], None]) -> Target:
    """The benchmark server (``bench_dir``/data) and database, created the first time;
    what was loaded is kept in ``bench_dir``/phms_bench_<N>.load.json."""
    info = server.ensure_server(bench_dir / "data")
    name = f"phms_bench_{patients_n}"
    meta = bench_dir / f"{name}.load.json"
    url = info.url(name)
    if not server.database_exists(info, name):
        log(f"creating {name} and loading {patients_n:,} patients")
        server.create_database(info, name)
        server.prepare_database(url)
        load = generate.load(url, patients=patients_n, seed=seed, progress=log)
        meta.write_text(json.dumps(asdict(load), indent=2))
    else:
        server.prepare_database(url)  # migrate to head (new indexes), login
        if not meta.exists():
            raise SystemExit(f"{name} exists but {meta} is missing: drop the database")
    load_info = json.loads(meta.read_text())
    return Target(port=info.port, database=name, admin_url=url, load=load_info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, default=Path("/tmp/phms-bench"), help="server and load records"
    )
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--smoke", action="store_true", help="the test suite's small plan")
    parser.add_argument("--stop", action="store_true", help="stop the server afterwards")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    target = prepare(args.dir, args.patients, args.seed, log)
    command = f".venv/bin/python -m benchmarks.run --dir {args.dir} --patients {args.patients}"
    try:
        results = run_all(
            target,
            args.out,
            plan=SMOKE_PLAN if args.smoke else Plan(),
            seed=args.seed,
            command=command,
            log=log,
        )
    finally:
        if args.stop:
            embedded.stop((args.dir / "data").resolve())
    for row in results["targets"]:
        log(f"{row['target']}: {row['figure']} ({row['met']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
