"""The machine, the server and the data of a run, and how they are reported."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.figures import Target, fmt_mb


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


def render(results: dict[str, Any]) -> list[str]:
    env, load = results["environment"], results["load"]
    out: list[str] = []
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
        f"- Database size {fmt_mb(env['database_bytes'])}",
        "- Load average (1 min) before / after each section, other work on the machine "
        "included: "
        + ", ".join(f"{k} {a:.1f} / {b:.1f}" for k, (a, b) in env.get("load_average", {}).items()),
    ]
    dates: dict[str, list[str]] = {}
    for key, date in env.get("section_dates", {}).items():
        dates.setdefault(str(date), []).append(key)
    if len(dates) > 1:
        out.append(
            "- Sections measured at different times: "
            + "; ".join(f"{', '.join(keys)} on {date}" for date, keys in sorted(dates.items()))
        )
    out += [""]

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
    return out


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
