"""Opening a chart through the latency proxy, as the chart window does: its first
screen, a page of older records, the course; and the whole chart (record forms,
reports) beside the naive ORM loader. Statements, round trips, bytes, time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from benchmarks import naive
from benchmarks.figures import TARGETS, Log, Plan, Target, fmt_kb, fmt_ratio, run_summary
from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.db.database import PING_AFTER_IDLE, Database
from phms_client.services import chart

#: What a load brings back, counted: ``records`` and whatever else the report shows.
Counts = dict[str, int]
Load = Callable[[Session], Counts]
#: The loads of a chart, in the order measured (and shown).
LOADS = ("first_screen", "older", "course", "whole", "naive")


def _records(c: Any) -> int:
    """The records a ``Chart`` holds: its timeline's and its items."""
    return (
        len(c.timeline)
        + len(c.medications)
        + len(c.allergies)
        + len(c.comorbidities)
        + len(c.stopped_items)
        + len(c.later_items)
    )


class _Meter:
    """Each load in a unit of work of its own on the client's pooled connection, as the
    window runs it, counted by the proxy and by the engine's statement hook."""

    def __init__(self, db: Database, proxy: LatencyProxy) -> None:
        self.db, self.proxy, self.statements = db, proxy, 0
        sa.event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *_a: Any) -> None:
        self.statements += 1

    def once(self, load: Load) -> dict[str, float]:
        self.proxy.counters.reset()
        self.statements = 0
        t0 = time.perf_counter()
        with self.db.session() as s:
            counts = load(s)
        wall = (time.perf_counter() - t0) * 1000
        c = self.proxy.counters
        return {
            "ms": wall,
            "round_trips": c.round_trips,
            "bytes_up": c.bytes_up,
            "bytes_down": c.bytes_down,
            "statements": self.statements,
            **counts,
        }

    def runs(self, load: Load, reps: int) -> dict[str, Any]:
        return summary([self.once(load) for _ in range(reps)])


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Medians of the runs (:func:`~benchmarks.figures.run_summary`); and the most round
    trips and bytes up of one (a statement's first use on a connection prepares it:
    one round trip more, its SQL sent)."""
    return {
        **run_summary(runs),
        "round_trips_max": max(r["round_trips"] for r in runs),
        "bytes_up_max": max(r["bytes_up"] for r in runs),
    }


def _bench_patient(meter: _Meter, pid: int, plan: Plan) -> dict[str, Any]:
    """The chart window's loads of one chart, then the whole chart and the naive one."""
    reps = plan.chart_reps
    shown: list[chart.Chart] = []

    def first_screen(s: Session) -> Counts:
        # exactly what ui/chart/chart_window.py runs when the window opens
        _details, c = chart.load_chart_with_details(s, pid, newest=chart.FIRST_SCREEN_RECORDS)
        shown[:] = [c]
        return {"records": _records(c), "timeline": len(c.timeline), "older": c.older_records}

    entry: dict[str, Any] = {"first_screen": meter.runs(first_screen, reps)}
    opened = shown[0]
    if not opened.whole:  # the timeline scrolled to its end: the next page
        after = opened.timeline[-1]

        def older(s: Session) -> Counts:
            page = chart.load_older(s, pid, after)
            return {"records": len(page.entries), "older": page.older_records}

        entry["older"] = meter.runs(older, reps)

    def course(s: Session) -> Counts:
        c = chart.load_course(s, pid)
        return {
            "records": len(c.assessments) + len(c.walks),
            "risk_points": len(c.risk_course),
        }

    entry["course"] = meter.runs(course, reps)

    def whole(s: Session) -> Counts:
        c = chart.load_chart(s, pid)
        return {"records": _records(c), "timeline": len(c.timeline)}

    entry["whole"] = meter.runs(whole, reps)

    def naive_whole(s: Session) -> Counts:
        c = naive.naive_chart(s, pid)
        return {"records": _records(c), "timeline": len(c.timeline)}

    entry["naive"] = meter.runs(naive_whole, plan.naive_chart_reps)
    return entry


def bench_chart(target: Target, plan: Plan, log: Log) -> dict[str, Any]:
    big = int(target.load["big_chart_patient"])
    typical = typical_patient(target)
    out: dict[str, Any] = {
        "patients": {"typical": typical, "big": big},
        "first_screen_records": chart.FIRST_SCREEN_RECORDS,
        "older_page_records": chart.OLDER_PAGE_RECORDS,
        "delays": {},
    }
    for delay in plan.delays_ms:
        log(f"chart: {delay:g} ms one way")
        with ProxyThread(LatencyProxy("127.0.0.1", target.port, delay_ms=delay)) as proxy:
            db = target.client(proxy.port)
            try:
                with db.session() as s:  # a logged-in client: one pooled connection
                    s.execute(sa.text("SELECT 1"))
                meter = _Meter(db, proxy)
                out["delays"][f"{delay:g}"] = {
                    label: _bench_patient(meter, pid, plan)
                    for label, pid in (("typical", typical), ("big", big))
                }
            finally:
                db.close()
    return out


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


# ------------------------------------------------------------------ report

_LABELS = {
    "first_screen": "first screen",
    "older": "older page",
    "course": "course",
    "whole": "whole chart",
    "naive": "naive (whole)",
}


def _records_cell(load: str, e: dict[str, Any]) -> str:
    if "timeline" in e and load != "older":  # a chart: its timeline and its items
        shown = e["timeline"]
        records = f"{shown} of {shown + e['older']}" if e.get("older") else str(shown)
        return f"{records} + {e['records'] - shown} items"
    if load == "older":
        return f"{e['records']} ({e.get('older', 0)} older still)"
    if load == "course" and "risk_points" in e:
        return f"{e['records']} ({e['risk_points']} risk points)"
    return str(e["records"])


def _once(e: dict[str, Any], key: str, fmt: Callable[[Any], str] = str) -> str:
    """The median, and the most of one run when it was more (a statement's first use)."""
    cell = fmt(e[key])
    most = e.get(f"{key}_max", 0)
    return f"{cell} ({fmt(most)} once)" if most > e[key] else cell


def render(results: dict[str, Any]) -> list[str]:
    c, plan = results["chart"], results["plan"]
    first_n = c.get("first_screen_records", chart.FIRST_SCREEN_RECORDS)
    page_n = c.get("older_page_records", chart.OLDER_PAGE_RECORDS)
    out = [
        "## Chart",
        "",
        "The chart window's loads from a logged-in client, each a unit of work of its own "
        "(`with db.session() as s: …`) on the client's one pooled connection, as the window "
        "runs them, through `benchmarks/latency_proxy.py` with the given one-way delay. "
        f"Typical chart: patient {c['patients']['typical']}; big chart: patient "
        f"{c['patients']['big']}.",
        "",
        f"- *first screen*: `chart.load_chart_with_details(s, id, newest={first_n})`, what "
        "the window opens with and the person waits for: the demographics, the newest "
        f"{first_n} records, the latest values of all of them, every item, and the "
        "access log entry, in one statement;",
        f"- *older page*: `chart.load_older(s, id, last)`, the first page of (up to) {page_n} "
        "older records after the first screen, when the timeline is scrolled to its end "
        "(none when the first screen holds every record);",
        "- *course*: `chart.load_course(s, id)`, every risk point and the values the trend "
        "charts draw, when their tab opens (a chart whose first screen holds every record "
        "has its course already and does not load it; measured anyway);",
        "- *whole chart*: `chart.load_chart(s, id)`, every record, what the record forms and "
        "reports use;",
        "- *naive (whole)*: the baseline, the naive ORM loader (lazy loading: one query per "
        "relationship and per record) giving the same whole `Chart`.",
        "",
        "Records: of a chart, those in its timeline (of all there are) and its items "
        "(medications, allergies, secondary diseases); of a page, its records and how many "
        "are older still; of a course, its assessments and walks. Round trips and bytes "
        "as counted by the proxy; "
        f"medians of {plan['chart_reps']} loads (naive: {plan['naive_chart_reps']}). The "
        "connection was used moments before, so the pool does not ping it (it does after "
        f"{PING_AFTER_IDLE:g} s idle, `PING_AFTER_IDLE` in `phms_client/db/database.py`: "
        "one round trip more). *once*: a chart statement is prepared on a connection at "
        "its first use there (one round trip more, its SQL sent); after that only its name "
        "and parameters travel. *naive ÷*: the naive loader's time over this one.",
        "",
        "| Delay (one way) | Chart | Load | Records | Statements | Round trips | Bytes up | "
        "Bytes down | ms | naive ÷ |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for delay, entry in c["delays"].items():
        for label, e in entry.items():
            loads = {**e, "whole": e.get("whole", e.get("design"))}  # older reports: design
            naive_ms = (loads.get("naive") or {}).get("ms_p50")
            for load in LOADS:
                m = loads.get(load)
                if not m:
                    continue
                ratio = (
                    fmt_ratio(naive_ms, m["ms_p50"]) if load in ("first_screen", "whole") else "–"
                )
                out.append(
                    f"| {delay} ms | {label} | {_LABELS[load]} | {_records_cell(load, m)} | "
                    f"{m['statements']} | {_once(m, 'round_trips')} | "
                    f"{_once(m, 'bytes_up', fmt_kb)} | {fmt_kb(m['bytes_down'])} | "
                    f"{m['ms_p50']:.0f} | {ratio} |"
                )
    if not _first_screens(results):
        out += [
            "",
            "These figures come from a run that measured only the whole chart and the "
            "naive loader: run with `--sections chart` for the window's loads.",
        ]
    return [*out, ""]


# ------------------------------------------------------------------ judged


def _first_screens(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first screen of every chart at every delay, by "delay/chart"."""
    return {
        f"{delay}/{label}": e["first_screen"]
        for delay, entry in results["chart"]["delays"].items()
        for label, e in entry.items()
        if "first_screen" in e
    }


def _big(results: dict[str, Any]) -> str:
    """The big chart as the report names it: by the records generated for it."""
    return f"{results.get('load', {}).get('big_chart_records', 500)}-record chart"


def _shown(first: dict[str, Any]) -> str:
    n = first["timeline"]
    if not first["older"]:
        return f"all {n} records of the timeline"
    return f"{n} of {n + first['older']} records of the timeline"


def _trips(n: int) -> str:
    return f"{n} round trip" if n == 1 else f"{n} round trips"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    firsts = _first_screens(results)
    limit = 3 * 100 + TARGETS["chart_extra_ms_at_50"]
    rows: list[dict[str, Any]] = []
    trips_target = (
        "Chart open ≤ 2 round trips, whatever the record count (the window's first screen)"
    )
    ms_targets = {
        "typical": "Chart open ≤ 3 × RTT + 50 ms = 350 ms at 50 ms one way "
        "(typical chart, the window's first screen)",
        "big": f"{_big(results)}'s first screen ≤ 3 × RTT + 50 ms = 350 ms at 50 ms one way",
    }
    if not firsts:
        missing = {"figure": "not measured: run with `--sections chart`", "met": None}
        return [{"target": t, **missing} for t in (trips_target, *ms_targets.values())]
    trips = max(f["round_trips"] for f in firsts.values())
    most = max(f["round_trips_max"] for f in firsts.values())
    once = (
        f"; {most} once per pooled connection, when the statement is prepared on its first use"
        if most > trips
        else ""
    )
    rows.append(
        {
            "target": trips_target,
            "figure": f"{_trips(trips)} (typical and {_big(results)}, every delay{once})",
            "met": most <= TARGETS["chart_round_trips"],
        }
    )
    for label, target in ms_targets.items():
        first = firsts.get(f"50/{label}")
        if first is not None:
            rows.append(
                {
                    "target": target,
                    "figure": f"{first['ms_p50']:.0f} ms (median; {_shown(first)})",
                    "met": first["ms_p50"] <= limit,
                }
            )
    return rows


def finding(results: dict[str, Any]) -> list[str]:
    at_50 = results["chart"]["delays"].get("50", {})
    big = at_50.get("big", {})
    first, whole, naive_ = big.get("first_screen"), big.get("whole"), big.get("naive")
    if not (first and whole and naive_):
        return []
    # the statement is prepared on the first chart opened, whichever it was
    most = max(e.get("first_screen", {}).get("round_trips_max", 0) for e in at_50.values())
    out = [
        "- **Chart.** The window opens with the chart's first screen: one statement, "
        "without BEGIN/COMMIT. Changed: the pool pings a connection only after "
        f"{PING_AFTER_IDLE:g} s idle (`PING_AFTER_IDLE`), no longer before every unit of "
        f"work. For the {_big(results)} at 50 ms one way the first screen takes "
        f"{_trips(first['round_trips'])} ({_trips(most)} the first time the statement runs "
        f"on a connection), {first['bytes_down'] / 1e3:.1f} kB, {first['ms_p50']:.0f} ms, "
        f"where the whole chart takes {whole['bytes_down'] / 1e3:.1f} kB, "
        f"{whole['ms_p50']:.0f} ms and the naive ORM loader {_trips(naive_['round_trips'])}, "
        f"{naive_['ms_p50'] / 1000:.1f} s."
    ]
    older, course = big.get("older"), big.get("course")
    if older and course:
        out.append(
            f"- **Chart, later loads.** A page of {older['records']} older records: "
            f"{_trips(older['round_trips'])}, {older['bytes_down'] / 1e3:.1f} kB, "
            f"{older['ms_p50']:.0f} ms; the course (risk table, trend charts): "
            f"{_trips(course['round_trips'])}, {course['bytes_down'] / 1e3:.1f} kB, "
            f"{course['ms_p50']:.0f} ms ({_big(results)}, 50 ms one way)."
        )
    return out
