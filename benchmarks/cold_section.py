"""Cold buffers: search and charts right after a server restart, beside warm.

The other sections measure a server that has been answering for a while. A clinic's
first patient of the morning may meet a server just restarted (an update, a power
cut): its shared buffers are empty, and after the machine's restart so is the
operating system's file cache. This section restarts the benchmark server, empties
the file cache where it may (Linux, as root: ``/proc/sys/vm/drop_caches``), then
types fresh keystrokes and opens the typical and the biggest chart once each; then
the same again, warm.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.chart_section import typical_patient
from benchmarks.figures import Log, Plan, Target, fmt_ms, stats
from benchmarks.search_section import search_workload
from phms_admin import embedded
from phms_client.services import chart, patients

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def restart(target: Target) -> dict[str, Any]:
    """Restart the server and drop the file cache (what could be done is said)."""
    if target.data_dir is None:
        return {"restarted": False, "file_cache_dropped": False}
    t0 = time.perf_counter()
    embedded.stop(target.data_dir)
    dropped = False
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
        dropped = True
    except OSError:
        pass
    info = embedded.start(target.data_dir)
    if info.port != target.port:
        raise RuntimeError(f"the server came back on port {info.port}, not {target.port}")
    return {
        "restarted": True,
        "file_cache_dropped": dropped,
        "seconds": time.perf_counter() - t0,
    }


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def bench_cold(target: Target, plan: Plan, seed: int, log: Log) -> dict[str, Any]:
    small = Plan(name_patients=4, typo_patients=4, id_patients=4, date_patients=4)
    work = search_workload(target, small, seed + 211)
    rng = random.Random(seed + 212)
    keys = {c: rng.sample(qs, min(len(qs), plan.cold_keystrokes)) for c, qs in work.items()}
    charts = {"typical": typical_patient(target), "big": int(target.load["big_chart_patient"])}
    log("cold: restarting the server")
    out: dict[str, Any] = {"restart": restart(target), "charts": charts}
    db = target.client()
    try:

        def first() -> None:
            with db.session() as s:
                s.execute(sa.text("SELECT 1"))

        out["first_connection_ms"] = _timed(first)

        def search(q: str) -> Callable[[], Any]:
            def run() -> Any:
                with db.session() as s:
                    return patients.search(s, q)

            return run

        def open_chart(pid: int) -> Callable[[], Any]:
            def run() -> Any:
                with db.session() as s:
                    return chart.load_chart_with_details(s, pid)

            return run

        for state in ("cold", "warm"):
            log(f"cold: search and charts, {state}")
            entry: dict[str, Any] = {"search": {}, "charts": {}}
            for cat, qs in keys.items():
                times = [_timed(search(q)) for q in qs]
                slowest = max(range(len(times)), key=times.__getitem__)
                entry["search"][cat] = {
                    **stats(times),
                    "worst": {"query": qs[slowest], "ms": times[slowest]},
                }
            for label, pid in charts.items():
                entry["charts"][label] = _timed(open_chart(pid))
            out[state] = entry
    finally:
        db.close()
    return out


def render(results: dict[str, Any]) -> list[str]:
    c = results["cold"]
    r = c["restart"]
    how = (
        "the server restarted"
        + (" and the operating system's file cache dropped" if r["file_cache_dropped"] else "")
        if r["restarted"]
        else "no restart (this run could not restart its server): warm twice"
    )
    out = [
        "## Cold buffers",
        "",
        f"Right after a restart ({how}), as a clinician: the first statement on a new "
        f"connection took {c['first_connection_ms']:.0f} ms; then fresh keystrokes "
        "(each once) and the typical and the biggest chart (once each, "
        "`chart.load_chart_with_details`); *warm* is the same again at once.",
        "",
        "| | cold p50 ms | cold max ms | cold slowest keystroke | warm p50 ms | warm max ms |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for cat, cold in c["cold"]["search"].items():
        warm = c["warm"]["search"][cat]
        out.append(
            f"| search: {cat} ({cold['n']}) | {fmt_ms(cold.get('p50'))} | "
            f"{fmt_ms(cold.get('max'))} | {cold['worst']['query']!r} | "
            f"{fmt_ms(warm.get('p50'))} | {fmt_ms(warm.get('max'))} |"
        )
    for label, ms in c["cold"]["charts"].items():
        warm_ms = c["warm"]["charts"][label]
        out.append(f"| {label} chart | {ms:.1f} | | | {warm_ms:.1f} | |")
    out += [""]
    return out


def finding(results: dict[str, Any]) -> list[str]:
    c = results["cold"]
    if not c["restart"]["restarted"]:
        return []
    worst_cold = max(s["max"] for s in c["cold"]["search"].values() if s.get("n"))
    worst_warm = max(s["max"] for s in c["warm"]["search"].values() if s.get("n"))
    big_cold, big_warm = c["cold"]["charts"]["big"], c["warm"]["charts"]["big"]
    return [
        f"- **Cold buffers.** After a restart the slowest keystroke took {worst_cold:.0f} ms "
        f"(warm {worst_warm:.0f} ms) and the biggest chart {big_cold:.0f} ms (warm "
        f"{big_warm:.0f} ms): the first reads of each index and table page come from "
        "disk. Only the first patients after a restart meet it; restarting outside "
        "clinic hours keeps it from them."
    ]
