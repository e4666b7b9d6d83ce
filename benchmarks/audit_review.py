"""Benchmark the auditor's review: the first page of each view, beside a naive baseline.

    .venv/bin/python -m benchmarks.audit_review --dir /tmp/phms-bench --patients 1000000 \
        --events 10000000

uses the benchmark server and cohort of :mod:`benchmarks.run` (created the first
time), adds ``--events`` audit events and a fifth as many chart openings (COPY,
secondary indexes dropped and rebuilt; reused when the database already holds
them), and measures through the client's own service
(:mod:`phms_client.services.audit_review`, an auditor login over loopback) the
first page of: all activity, one staff member's, one patient's by name and by
ID, a patient's access report for a year, the flags over a week, one event.

The naive baseline is what an auditor with ``psql`` (the rights before 0015)
would type: the obvious query on ``audit.event`` / ``audit.chart_access``
(newest first, ``LIMIT``), run with only the indexes the trail had before 0015
(the new ones are dropped inside a transaction that is rolled back). The
result is written to docs/benchmarks.md between the audit-review markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks import generate
from phms_client.services import audit_review as review
from phms_client.services import staff

REPO = Path(__file__).resolve().parent.parent
AUDITOR = "bench_auditor"
AUDITOR_PASSWORD = "bench-auditor-2026"
START, END = "<!-- audit-review:start -->", "<!-- audit-review:end -->"
TARGET_MS = 200.0
#: The indexes 0015 added (dropped for the naive baseline).
NEW_INDEXES = (
    "audit.ix_event_at_id",
    "audit.ix_event_user_at",
    "audit.ix_event_patient_at",
    "audit.ix_chart_access_at_id",
    "audit.ix_chart_access_user_at",
)
CLINICAL = ("assessment", "medication", "appointment", "six_minute_walk", "allergy")
STAFF_N = 150
#: The trail covers this many days before the data's "today".
SPAN_DAYS = 730


def _staff(n: int) -> str:
    return f"staff_{n:03d}"


def _rows(n: int, pids: tuple[int, int], seed: int, now: dt.datetime) -> Iterator[tuple[Any, ...]]:
    """Audit events in time order: patient rows and clinical rows with a patient_id."""
    rng = random.Random(seed)
    start = now - dt.timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / max(n, 1)
    lo, hi = pids
    for i in range(n):
        at = start + dt.timedelta(seconds=i * step)
        pid = rng.randint(lo, hi)
        who = _staff(rng.randrange(STAFF_N))
        table = "patient" if rng.random() < 0.2 else rng.choice(CLINICAL)
        op = "UPDATE" if rng.random() < 0.6 else "INSERT"
        new = {
            "id": i + 1,
            "patient_id": pid,
            "version": 2,
            "note": "x" * rng.randrange(40),
            "updated_by": who,
        }
        if table == "patient":
            new = {
                "id": pid,
                "phone": f"555 {rng.randrange(10000):04d}",
                "version": 2,
                "updated_by": who,
            }
        old = {**new, "version": 1} if op == "UPDATE" else None
        key = str(pid) if table == "patient" else str(i + 1)
        yield (
            table,
            key,
            op,
            json.dumps(old) if old else None,
            json.dumps(new),
            who,
            at,
            1000 + i // 3,
            f"10.0.{rng.randrange(8)}.{rng.randrange(250)}",
            "phms",
        )


def _openings(
    n: int, pids: tuple[int, int], seed: int, now: dt.datetime
) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed + 1)
    start = now - dt.timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / max(n, 1)
    for i in range(n):
        yield (
            rng.randint(*pids),
            _staff(rng.randrange(STAFF_N)),
            start + dt.timedelta(seconds=i * step),
            f"10.0.{rng.randrange(8)}.{rng.randrange(250)}",
            "phms",
        )


def load_audit(url: str, events: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """COPY ``events`` audit events and ``events // 5`` chart openings (secondary indexes
    dropped and rebuilt); the bench auditor login. Returns counts and seconds."""
    started = time.perf_counter()
    with generate.connect(url) as conn:
        lo, hi = conn.execute("SELECT min(id), max(id) FROM phms.patient").fetchone() or (1, 1)
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        defs = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'audit'"
            " AND tablename IN ('event', 'chart_access') AND indexname NOT LIKE '%pkey'"
        ).fetchall()
        for name, _ in defs:
            conn.execute(f"DROP INDEX audit.{name}")
        with conn.cursor().copy(
            "COPY audit.event (table_name, row_key, operation, old_values, new_values,"
            " session_user_name, at, txid, client_addr, application_name) FROM STDIN"
        ) as copy:
            for n, row in enumerate(_rows(events, (lo, hi), seed, now)):
                copy.write_row(row)
                if n and n % 1_000_000 == 0:
                    log(f"  {n:,} events")
        with conn.cursor().copy(
            "COPY audit.chart_access (patient_id, session_user_name, at, client_addr,"
            " application_name) FROM STDIN"
        ) as copy:
            for row in _openings(events // 5, (lo, hi), seed, now):
                copy.write_row(row)
        log("  rebuilding the trail's indexes")
        for _, definition in defs:
            conn.execute(definition)
        conn.commit()
    with generate.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE audit.event")
        conn.execute("VACUUM ANALYZE audit.chart_access")
    ensure_auditor(url)
    return {
        "events": events,
        "openings": events // 5,
        "seconds": round(time.perf_counter() - started, 1),
    }


def ensure_auditor(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            if not conn.execute(
                sa.text("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = :n)"),
                {"n": AUDITOR},
            ).scalar():
                staff.create(conn, AUDITOR, "auditor", AUDITOR_PASSWORD)
            conn.execute(
                sa.text(
                    "INSERT INTO phms.staff_account (name, must_change_password) VALUES (:n, false)"
                    " ON CONFLICT (name) DO UPDATE SET must_change_password = false"
                ),
                {"n": AUDITOR},
            )
    finally:
        engine.dispose()


def _trail_size(url: str) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("phms.patient", "audit.event", "audit.chart_access")
            }
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- measuring


def _time(fn: Callable[[], int], reps: int) -> dict[str, float]:
    times, rows = [], 0
    fn()  # warm the connection and the plan cache once
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
        "max_ms": round(times[-1], 2),
        "rows": rows,
    }


def _naive_queries(
    pid: int, name_prefix: str, who: str, week: dt.datetime, year: dt.datetime
) -> dict[str, tuple[str, dict[str, Any]]]:
    patient_events = (
        "(SELECT at, session_user_name, operation FROM audit.event"
        " WHERE (table_name = 'patient' AND row_key = p.id::text)"
        "    OR coalesce(new_values, old_values) ->> 'patient_id' = p.id::text"
        " UNION ALL SELECT at, session_user_name, 'OPEN' FROM audit.chart_access"
        " WHERE patient_id = p.id)"
    )
    return {
        "activity": (
            "SELECT * FROM (SELECT id, at, session_user_name FROM audit.event UNION ALL"
            " SELECT id, at, session_user_name FROM audit.chart_access) x"
            " ORDER BY at DESC LIMIT 200",
            {},
        ),
        "staff": (
            "SELECT * FROM (SELECT id, at, session_user_name FROM audit.event UNION ALL"
            " SELECT id, at, session_user_name FROM audit.chart_access) x"
            " WHERE session_user_name = :who AND at >= :since ORDER BY at DESC LIMIT 200",
            {"who": who, "since": year},
        ),
        "patient_by_name": (
            f"SELECT x.* FROM phms.patient p CROSS JOIN LATERAL {patient_events} x"
            " WHERE p.family_name ILIKE :name || '%' ORDER BY x.at DESC LIMIT 200",
            {"name": name_prefix},
        ),
        "patient_by_id": (
            f"SELECT x.* FROM phms.patient p CROSS JOIN LATERAL {patient_events} x"
            " WHERE p.id = :pid ORDER BY x.at DESC LIMIT 200",
            {"pid": pid},
        ),
        "access_report": (
            f"SELECT x.* FROM phms.patient p CROSS JOIN LATERAL {patient_events} x"
            " WHERE p.id = :pid AND x.at >= :since ORDER BY x.at DESC LIMIT 5000",
            {"pid": pid, "since": year},
        ),
        "flags": (
            "SELECT count(*) FROM audit.chart_access c WHERE c.at >= :since AND NOT EXISTS"
            " (SELECT FROM audit.event e WHERE e.session_user_name = c.session_user_name"
            "  AND coalesce(e.new_values, e.old_values) ->> 'patient_id' = c.patient_id::text"
            "  AND e.at BETWEEN c.at - interval '30 days' AND c.at + interval '30 days')",
            {"since": week},
        ),
    }


def measure(url: str, port: int, database: str, reps: int) -> dict[str, Any]:
    """The first page of each view (design), and the naive query beside it."""
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    auditor = sa.create_engine(
        f"postgresql+psycopg://{AUDITOR}:{AUDITOR_PASSWORD}@127.0.0.1:{port}/{database}",
        pool_size=1,
    )
    try:
        with admin.connect() as conn:
            now = conn.execute(sa.text("SELECT max(at) FROM audit.event")).scalar_one()
            pid, family = conn.execute(
                sa.text(
                    "SELECT c.patient_id, p.family_name FROM audit.chart_access c"
                    " JOIN phms.patient p ON p.id = c.patient_id ORDER BY c.id DESC LIMIT 1"
                )
            ).one()
            who = conn.execute(  # a staff member of the trail, not the loader
                sa.text("SELECT session_user_name FROM audit.chart_access ORDER BY id DESC LIMIT 1")
            ).scalar_one()
            last_event = conn.execute(sa.text("SELECT max(id) FROM audit.event")).scalar_one()
        week, year = (now - dt.timedelta(days=d) for d in (7, 365))
        end = now + dt.timedelta(seconds=1)
        prefix = family[:4]
        views: dict[str, Callable[[Session], int]] = {
            "activity": lambda s: len(review.activity(s, review.ActivityFilter())),
            "staff": lambda s: len(
                review.activity(s, review.ActivityFilter(staff=who, start=year, end=end))
            ),
            "patient_by_name": lambda s: len(
                review.activity(s, review.ActivityFilter(patient=prefix))
            ),
            "patient_by_id": lambda s: len(
                review.activity(s, review.ActivityFilter(patient=str(pid)))
            ),
            "access_report": lambda s: len(review.access_report(s, pid, year, end)),
            "flags": lambda s: len(review.flags(s, week, end)),
            "event_detail": lambda s: int(review.event_detail(s, "event", last_event) is not None),
        }
        results: dict[str, Any] = {
            "patient": pid,
            "staff": who,
            "name_prefix": prefix,
            "reps": reps,
        }
        for name, view in views.items():

            def design(view: Callable[[Session], int] = view) -> int:
                with Session(auditor) as s, s.begin():
                    return view(s)

            results[name] = {"design": _time(design, reps)}
        naive = _naive_queries(pid, prefix, who, week, year)
        for name, (sql, params) in naive.items():

            def baseline(sql: str = sql, params: dict[str, Any] = params) -> int:
                with admin.connect() as conn:
                    trans = conn.begin()
                    try:
                        conn.execute(sa.text("SET LOCAL statement_timeout = '120s'"))
                        for index in NEW_INDEXES:
                            conn.execute(sa.text(f"DROP INDEX {index}"))
                        return len(conn.execute(sa.text(sql), params).all())
                    finally:
                        trans.rollback()  # the indexes are back

            try:
                results[name]["naive"] = _time(baseline, max(1, reps // 5))
            except sa.exc.OperationalError:
                results[name]["naive"] = {"p50_ms": None, "note": "over 120 s"}
        return results
    finally:
        auditor.dispose()
        admin.dispose()


# --------------------------------------------------------------------------- report

LABELS = {
    "activity": "Activity, no filter (first 200)",
    "staff": "Staff activity, one login, a year",
    "patient_by_name": "Activity of a patient found by name prefix",
    "patient_by_id": "Activity of one patient by ID",
    "access_report": "Patient access report, a year (up to 5,000 rows)",
    "flags": "Flags over a week",
    "event_detail": "One event, old and new values",
}


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f} ms"


def render(
    results: dict[str, Any], size: dict[str, int], load: dict[str, Any] | None, command: str
) -> str:
    lines = [
        START,
        "## Audit review",
        "",
        f"Command: `{command}`. Scale of this run: {size['phms.patient']:,} patients, "
        f"{size['audit.event']:,} audit events, {size['audit.chart_access']:,} chart openings"
        + (f" (trail loaded by COPY in {load['seconds']} s)" if load else "")
        + ". The issue's target scale is 1,000,000 patients and 10,000,000 events.",
        "",
        "Each view's first page through `phms_client.services.audit_review` as an auditor "
        "login over loopback (the review function records the query, then answers); the naive "
        "baseline is the obvious query an auditor with psql would run, with only the trail's "
        f"indexes from before 0015. Target: under {TARGET_MS:.0f} ms.",
        "",
        "| View | rows | design p50 | design p95 | naive p50 | met |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for key, label in LABELS.items():
        r = results[key]
        d, n = r["design"], r.get("naive", {})
        met = "yes" if d["p95_ms"] < TARGET_MS else "no"
        naive = n.get("note") or _ms(n.get("p50_ms"))
        lines.append(
            f"| {label} | {d['rows']:,} | {_ms(d['p50_ms'])} | {_ms(d['p95_ms'])} | "
            f"{naive} | {met} |"
        )
    lines += [
        "",
        "Notes: the naive flags query is only the first check (chart openings with no "
        "record by the same person within 30 days) counted over the whole week; the "
        "design computes all four flags newest first, a day at a time, until a page of 500 "
        "is full. A name prefix matches many patients at this scale (the design takes the "
        "first 50 by name). The event detail has no naive counterpart (one row by primary "
        "key either way). Wall times on a shared 2-core machine; p95 of "
        f"{results.get('reps', 20)} runs after one warm-up "
        "(naive: a fifth as many).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Put ``section`` in ``path`` between the markers (appended the first time)."""
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def keep_section(path: Path, old_text: str) -> None:
    """After ``path`` was rewritten: put back the audit section ``old_text`` held."""
    if START in old_text and END in old_text:
        section = START + old_text.split(START, 1)[1].split(END, 1)[0] + END
        write_section(path, section)


def main(argv: list[str] | None = None) -> int:
    from benchmarks import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/phms-bench"))
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    target = run.prepare(args.dir, args.patients, args.seed, log)
    size = _trail_size(target.admin_url)
    load = None
    if size["audit.event"] < args.events:
        log(f"loading {args.events:,} audit events")
        load = load_audit(target.admin_url, args.events, args.seed, log)
        size = _trail_size(target.admin_url)
    ensure_auditor(target.admin_url)
    results = measure(target.admin_url, target.port, target.database, args.reps)
    command = (
        f".venv/bin/python -m benchmarks.audit_review --dir {args.dir} "
        f"--patients {args.patients} --events {args.events}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks_audit.json").write_text(
        json.dumps({"size": size, "load": load, "results": results}, indent=2, default=str) + "\n"
    )
    write_section(args.out / "benchmarks.md", render(results, size, load, command))
    for key in LABELS:
        log(f"{key}: {results[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
