"""Opening a chart through the latency proxy: statements, round trips, bytes, time,
beside the naive ORM loader."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from benchmarks import naive
from benchmarks.figures import TARGETS, Log, Plan, Target, fmt_kb, fmt_ratio
from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.db.database import Database
from phms_client.services import chart, patients


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


def bench_chart(target: Target, plan: Plan, log: Log) -> dict[str, Any]:
    big = int(target.load["big_chart_patient"])
    typical = typical_patient(target)
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


def typical_patient(target: Target) -> int:
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


def render(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
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
                f"{trips} | {fmt_kb(d['bytes_down'])} | {d['ms_p50']:.0f} | "
                f"{n['statements']} | {n['round_trips']} | {fmt_kb(n['bytes_down'])} | "
                f"{n['ms_p50']:.0f} | {fmt_ratio(n['ms_p50'], d['ms_p50'])} |"
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
    return out


def finding(results: dict[str, Any]) -> list[str]:
    out = [
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
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
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
    return rows
