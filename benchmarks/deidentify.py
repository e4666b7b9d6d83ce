"""Benchmark the de-identification of a staging copy at the clinic's scale.

    .venv/bin/python -m benchmarks.deidentify --dir /tmp/phms-bench --patients 1000000 \
        --events 10000000

uses the benchmark server and cohort of :mod:`benchmarks.run` (created the first
time) with the audit trail of :mod:`benchmarks.audit_review` (``--events``, added
when the database holds fewer), copies the database (``CREATE DATABASE ... TEMPLATE``:
a file copy, standing in for the restore of ``staging create``, which is the same as
``backup restore``), and times :func:`phms_admin.deidentify.deidentify` on the copy
step by step, then drops it. The result is written to docs/benchmarks.md between
the staging markers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import audit_review, generate
from phms_admin import deidentify
from phms_admin.pgtools import Target

REPO = Path(__file__).resolve().parent.parent
START, END = "<!-- staging:start -->", "<!-- staging:end -->"
LABELS = {
    "names": "made-up names for every distinct family and given name",
    "ids": "made-up patient IDs (free, unique, of the site's format)",
    "patients": "the patient rows (names, ID, phone, e-mail, address; search key)",
    "free_text": "free text of the clinical tables, appointments and problem reports",
    "secrets": "a new registry key, the registry upload record emptied",
    "audit": "the audit trail's old and new values redacted",
    "commit": "commit",
}


def _counts(url: str) -> dict[str, int]:
    with generate.connect(url) as conn:
        out = {}
        for table in ("phms.patient", "audit.event"):
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            out[table] = int(row[0]) if row else 0
    return out


def measure(admin_url: str, database: str, log: Any) -> dict[str, Any]:
    server = Target.from_url(admin_url).with_database("postgres")
    copy = f"{database}_staging_bench"
    with server.connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
        started = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{database}"')
        copied = time.perf_counter() - started
    log(f"copied {database} to {copy} in {copied:.0f} s")
    load_before = os.getloadavg()[0]
    try:
        with Target.from_url(admin_url).with_database(copy).connect(autocommit=True) as conn:
            summary = deidentify.deidentify(conn, database=copy, source="benchmark", log=log)
        url = sa.engine.make_url(admin_url).set(database=copy)
        size = _counts(url.render_as_string(hide_password=False))
    finally:
        with server.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    return {
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "copy_seconds": round(copied, 1),
        "seconds": round(summary.seconds, 1),
        "steps": {name: round(s, 1) for name, s in summary.steps},
        "patients": summary.patients,
        "names": summary.names,
        "free_text_rows": summary.free_text_rows,
        "audit_rows": summary.audit_rows,
        "size": size,
    }


def render(result: dict[str, Any], command: str) -> str:
    size = result["size"]
    lines = [
        START,
        "## Staging copy: de-identification",
        "",
        f"Command: `{command}`. Scale: {size['phms.patient']:,} patients, "
        f"{size['audit.event']:,} audit events. `staging create --de-identify` first restores "
        f"the backup (as `backup restore` does; here a `CREATE DATABASE ... TEMPLATE` copy, "
        f"{result['copy_seconds']:.0f} s), then de-identifies it in one transaction "
        "(`phms_admin/deidentify.py`):",
        "",
        "| Step | Seconds |",
        "|---|---:|",
    ]
    for name, seconds in result["steps"].items():
        lines.append(f"| {LABELS.get(name, name)} | {seconds:.1f} |")
    lines += [
        f"| **total** | **{result['seconds']:.1f}** |",
        "",
        f"{result['names']:,} distinct names, {result['free_text_rows']:,} rows of free text, "
        f"{result['audit_rows']:,} audit events redacted. Wall times on the shared 2-core "
        "benchmark machine; load average (1 min) before / after: "
        f"{result['load_average'][0]} / {result['load_average'][1]}, other work on the "
        "machine included.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    from benchmarks import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/phms-bench"))
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    target = run.prepare(args.dir, args.patients, args.seed, log)
    if _counts(target.admin_url)["audit.event"] < args.events:
        log(f"loading {args.events:,} audit events")
        audit_review.load_audit(target.admin_url, args.events, args.seed, log)
    result = measure(target.admin_url, target.database, log)
    command = (
        f".venv/bin/python -m benchmarks.deidentify --dir {args.dir} "
        f"--patients {args.patients} --events {args.events}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks_staging.json").write_text(json.dumps(result, indent=2) + "\n")
    write_section(args.out / "benchmarks.md", render(result, command))
    log(f"de-identified in {result['seconds']} s: {result['steps']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
