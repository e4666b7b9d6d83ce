"""A clinic under load: N workstations at once, each a process with its own login.

Each workstation (:mod:`benchmarks.workstation`) runs a clinic day's mix at a
clinic's pace or flat out; this module starts them together, samples the server
meanwhile (``pg_stat_activity`` wait events of the workstations' backends; CPU of the
server's processes, of the workstations and of the whole machine, and the time each
waited for a CPU) and reports p50/p95/p99 per operation beside one workstation
alone, errors, and the NOTIFYs sent against those heard.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import random
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

from benchmarks import server, workstation
from benchmarks.figures import TARGETS, Log, Plan, Target
from benchmarks.server_sampler import Sampler

GRACE_S = 1.0
OPS = ("search", "chart", "save", "day list")
PACE_NAMES = {"clinic": "at a clinic's pace", "flat": "flat out"}
#: Wait events grouped by what they mean for us.
WAIT_GROUPS = (
    ("on a CPU or waiting for one", ("CPU",)),
    ("flushing the WAL at commit", ("IO:WalSync", "LWLock:WALWrite", "LWLock:WALInsert")),
    (
        "parallel query workers",
        ("IPC:BgworkerShutdown", "IPC:MessageQueue", "LWLock:SharedTidBitmap", "IO:Dsm",
         "IPC:ParallelFinish", "IPC:ExecuteGather"),
    ),
    ("reading data files", ("IO:DataFileRead",)),
    ("row or object locks", ("Lock:",)),
)  # fmt: skip


def wait_shares(waits: dict[str, int]) -> list[tuple[str, float]]:
    """(group, share of the samples) for the groups above, the rest as 'other'."""
    total = sum(waits.values())
    if not total:
        return []
    out, seen = [], 0
    for label, prefixes in WAIT_GROUPS:
        n = sum(v for k, v in waits.items() if k.startswith(prefixes))
        seen += n
        if n:
            out.append((label, n / total))
    if total - seen:
        out.append(("other", (total - seen) / total))
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        k = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[k - 1]

    return {
        "n": len(ordered),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


# ------------------------------------------------------------------ a run


def clinic_patients(target: Target, n: int, seed: int) -> list[dict[str, Any]]:
    """Up to ``n`` random living patients with an assessment before today (a followup
    may be saved for them today)."""
    total = int(target.load.get("patients") or 1)
    ids = random.Random(seed).sample(range(1, total + 1), min(total, 3 * n))
    engine = sa.create_engine(target.admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT p.id, p.patient_code, p.family_name, p.given_name,"
                    " p.birth_date::text AS birth_date FROM phms.patient p"
                    " WHERE p.id = ANY(:ids) AND p.deceased_date IS NULL"
                    " AND EXISTS (SELECT FROM phms.assessment a"
                    "  WHERE a.patient_id = p.id AND a.kind = 'assessment'"
                    "  AND NOT a.entered_in_error AND a.study_date < current_date)"
                    " ORDER BY p.id LIMIT :n"
                ),
                {"ids": ids, "n": n},
            ).mappings()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def run_clinic(
    target: Target,
    users: list[str],
    people: list[dict[str, Any]],
    *,
    pace: str,
    seconds: float,
    seed: int,
    log: Log,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    news: Any = ctx.Queue()
    results: Any = ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    share = max(1, len(people) // len(users))
    procs = []
    for i, user in enumerate(users):
        spec = {
            "port": target.port,
            "database": target.database,
            "user": user,
            "password": server.BENCH_PASSWORD,
            "patients": people[i * share : (i + 1) * share] or people,
            "pace": pace,
            "seconds": seconds,
            "seed": seed + i,
        }
        procs.append(
            ctx.Process(target=workstation.main, args=(spec, news, go, stop, results), daemon=True)
        )
    for p in procs:
        p.start()
    reports: list[dict[str, Any]] = []
    try:
        _await(news, "ready", procs, 600)
        sampler = Sampler(target, [p.pid for p in procs if p.pid])
        sampler.start()
        go.set()
        _await(news, "done", procs, seconds + 600)
        load = sampler.stop()
        time.sleep(GRACE_S)  # the last commits' notifications reach every listener
        stop.set()
        for _ in users:
            try:
                reports.append(results.get(timeout=120))
            except queue.Empty:
                break
    finally:
        stop.set()
        go.set()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join(5)
    out = _combine(reports, len(users))
    out["load"] = load
    return out


def _await(news: Any, what: str, procs: list[Any], timeout: float) -> None:
    """Until every workstation said ``what`` (each says it even when it fails)."""
    deadline = time.monotonic() + timeout
    n, seen = len(procs), 0
    while seen < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n - seen} of {n} workstations never said {what!r}")
        try:
            kind, _user = news.get(timeout=1.0)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                raise RuntimeError(
                    f"the workstation processes ended before saying {what!r} "
                    f"(exit codes {sorted({p.exitcode for p in procs}, key=str)})"
                ) from None
            continue
        seen += kind == what


def _combine(reports: list[dict[str, Any]], n: int) -> dict[str, Any]:
    walls: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    queued: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    examples: list[str] = []
    saved: set[int] = set()
    for r in reports:
        for op, rows in r.get("times", {}).items():
            walls.setdefault(op, []).extend(w for w, _c, _q in rows)
            cpu.setdefault(op, []).extend(c for _w, c, _q in rows)
            queued.setdefault(op, []).extend(q for _w, _c, q in rows)
        errors.update(r.get("errors", {}))
        examples += r.get("error_examples", [])
        if "failed" in r:
            errors["workstation failed"] += 1
            examples.append(r["failed"])
        saved.update(r.get("saved", []))
    heard = sum(len(saved.intersection(r.get("heard", []))) for r in reports)
    ops = {}
    for op, values in walls.items():
        ops[op] = {
            **percentiles(values),
            "cpu_mean": sum(cpu[op]) / len(cpu[op]),
            "queued_mean": sum(queued[op]) / len(queued[op]),
            "queued_p95": percentiles(queued[op])["p95"],
            "without_cpu_wait_p95": percentiles(
                [w - q for w, q in zip(values, queued[op], strict=True)]
            )["p95"],
        }
    return {
        "workstations": n,
        "reports": len(reports),
        "ops": ops,
        "errors": dict(errors),
        "error_examples": examples[:5],
        "notify": {
            "saves": len(saved),
            "expected": len(saved) * len(reports),
            "heard": heard,
            "lost": len(saved) * len(reports) - heard,
        },
        "saved_ids": sorted(saved),
    }


def bench_load(target: Target, plan: Plan, seed: int, log: Log) -> dict[str, Any]:
    most = max((*plan.load_workstations, *plan.load_flat_workstations))
    users = server.ensure_workstation_logins(target.admin_url, most)
    people = clinic_patients(target, 30 * most, seed + 31)
    out: dict[str, Any] = {
        "prewarm": server.prewarm(target.admin_url),
        "patients": len(people),
        "clinic": {},
        "flat": {},
        "seconds": {"clinic": plan.load_seconds, "flat": plan.load_flat_seconds},
    }
    removed = 0
    for pace, counts, seconds in (
        ("clinic", plan.load_workstations, plan.load_seconds),
        ("flat", plan.load_flat_workstations, plan.load_flat_seconds),
    ):
        for n in counts:
            log(f"load: {n} workstations, {pace} pace, {seconds:g} s")
            before = os.getloadavg()[0]
            run = run_clinic(
                target, users[:n], people, pace=pace, seconds=seconds, seed=seed + n, log=log
            )
            run["load_average"] = [round(before, 2), round(os.getloadavg()[0], 2)]
            removed += server.remove_assessments(target.admin_url, run.pop("saved_ids"))
            out[pace][str(n)] = run
    out["followups_removed"] = removed
    return out


# ------------------------------------------------------------------ report


def _p(s: dict[str, Any], key: str) -> str:
    return "–" if key not in s else f"{s[key]:.1f}"


def render(results: dict[str, Any]) -> list[str]:
    ld = results["clinic_load"]
    out = [
        "## A clinic under load",
        "",
        "N workstations at once, each a process of its own (`benchmarks/workstation.py`, "
        "multiprocessing spawn) with its own clinician login, the client's `Database` "
        "(its pool) and the client's live-update listener (`db/notify.py`, its own "
        "connection), over loopback. Each runs a clinic day's mix: the day list; a search "
        "for the next patient typed keystroke by keystroke, one query a keystroke (name "
        "60 %, ID 25 %, birth date 15 %); the chart (`chart.load_chart_with_details`); "
        "a followup saved for 3 patients in 10. *Clinic pace*: 0.2 s between keystrokes, "
        "2 s after a chart or a save; *flat out*: no pause. Every workstation logs in, "
        "listens and runs each statement once before the clock starts, and every table "
        "and index is in shared buffers first (`pg_prewarm`, "
        f"{ld.get('prewarm', {}).get('prewarmed_blocks', 0):,} blocks); "
        f"{ld['seconds']['clinic']:g} s at a clinic's pace, {ld['seconds']['flat']:g} s "
        f"flat out. Patients: {ld['patients']:,} living, with an assessment, shared out. The "
        "workstations and the server share this machine's "
        f"{_cores(ld)} cores: *CPU wait* is the time a workstation was ready to run but "
        "had no CPU (`/proc/…/schedstat`), which a clinic's separate computers would not "
        "have. Followups saved are deleted afterwards "
        f"({ld.get('followups_removed', 0):,}).",
        "",
        "| Pace | N | Operation | count | p50 ms | p95 ms | p99 ms | max ms | "
        "p95 ×N=1 | CPU wait mean ms | p95 without CPU wait |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pace in ("clinic", "flat"):
        runs = ld[pace]
        base = runs.get("1", {}).get("ops", {})
        for n, run in runs.items():
            for op in OPS:
                s = run["ops"].get(op)
                if s is None or not s.get("n"):
                    continue
                ratio = (
                    f"{s['p95'] / base[op]['p95']:.2f}"
                    if op in base and base[op].get("p95") and n != "1"
                    else ""
                )
                out.append(
                    f"| {pace} | {n} | {op} | {s['n']:,} | {_p(s, 'p50')} | {_p(s, 'p95')} | "
                    f"{_p(s, 'p99')} | {_p(s, 'max')} | {ratio} | {_p(s, 'queued_mean')} | "
                    f"{_p(s, 'without_cpu_wait_p95')} |"
                )
    out += [
        "",
        "| Pace | N | errors | NOTIFY sent × listeners | heard | lost | machine CPU busy | "
        "server CPU | workstations CPU | other work | server's CPU wait | active backends "
        "(mean / max) | wait events of active backends (samples) | load avg before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for pace in ("clinic", "flat"):
        for n, run in ld[pace].items():
            ln, nt = run["load"], run["notify"]
            errs = sum(run["errors"].values())
            waits = ", ".join(f"{k} {v}" for k, v in ln["waits"].items()) or "none"
            secs = ln["seconds"] or 1
            out.append(
                f"| {pace} | {n} | {errs} | {nt['expected']:,} | {nt['heard']:,} | "
                f"{nt['lost']} | {ln['machine_busy_pct']:.0f} % | "
                f"{100 * ln['server_cpu_s'] / secs:.0f} % of a core | "
                f"{100 * ln['workstations_cpu_s'] / secs:.0f} % | "
                f"{100 * ln['other_cpu_s'] / secs:.0f} % | {ln['server_queued_s']:.1f} s | "
                f"{ln['active_mean']:.1f} / {ln['active_max']} | {waits} | "
                f"{run['load_average'][0]:.1f} / {run['load_average'][1]:.1f} |"
            )
    examples = [
        e
        for pace in ("clinic", "flat")
        for r in ld[pace].values()
        for e in r.get("error_examples", [])
    ]
    if examples:
        out += ["", "Errors, first examples: " + "; ".join(f"`{e}`" for e in examples[:5])]
    out += [""]
    return out


def _cores(ld: dict[str, Any]) -> int:
    for pace in ("clinic", "flat"):
        for run in ld[pace].values():
            return int(run["load"]["cores"])
    return os.cpu_count() or 1


def _at_20(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    runs = results["clinic_load"]["clinic"]
    n = "20" if "20" in runs else max(runs, key=int, default=None)
    if n is None or "1" not in runs or n == "1":
        return None
    return runs["1"], runs[n]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    pair = _at_20(results)
    if pair is None:
        return []
    one, many = pair
    n = many["workstations"]
    s1, sn = one["ops"].get("search", {}), many["ops"].get("search", {})
    rows: list[dict[str, Any]] = []
    if s1.get("p95") and sn.get("p95"):
        ratio = sn["p95"] / s1["p95"]
        rows.append(
            {
                "target": f"{n} workstations, clinic pace: search p95 ≤ 1.5 × one "
                "workstation's, p99 ≤ 60 ms",
                "figure": f"p95 {sn['p95']:.1f} ms = {ratio:.2f} × {s1['p95']:.1f} ms; "
                f"p99 {sn['p99']:.1f} ms (without the workstations' own wait for a CPU: "
                f"p95 {sn['without_cpu_wait_p95']:.1f} ms = "
                f"{sn['without_cpu_wait_p95'] / s1['without_cpu_wait_p95']:.2f} × "
                f"{s1['without_cpu_wait_p95']:.1f} ms)",
                "met": ratio <= TARGETS["load_search_p95_ratio"]
                and sn["p99"] <= TARGETS["load_search_p99_ms"],
            }
        )
    errs = sum(many["errors"].values())
    rows.append(
        {
            "target": f"{n} workstations, clinic pace: no error, no lost NOTIFY",
            "figure": f"{errs} errors; {many['notify']['heard']:,} of "
            f"{many['notify']['expected']:,} notifications heard",
            "met": errs == 0 and many["notify"]["lost"] == 0,
        }
    )
    return rows


def _day_rows(results: dict[str, Any]) -> str:
    for link in results.get("vpn", {}).get("links", {}).values():
        rows = link.get("day list", {}).get("rows")
        if rows:
            return f"; {rows:,} appointments today in this cohort"
    return ""


def finding(results: dict[str, Any]) -> list[str]:
    """What limits the clinic: CPU (whose), waits, locks, the saves' triggers."""
    ld = results["clinic_load"]
    parts = []
    for pace in ("clinic", "flat"):
        runs = ld[pace]
        if not runs:
            continue
        n = max(runs, key=int)
        run = runs[n]
        ln = run["load"]
        secs = ln["seconds"] or 1
        shares = ", ".join(f"{100 * v:.0f} % {k}" for k, v in wait_shares(ln["waits"]))
        search = run["ops"].get("search", {})
        parts.append(
            f"at {n} workstations {PACE_NAMES[pace]} the machine's {ln['cores']} cores were "
            f"{ln['machine_busy_pct']:.0f} % busy (server "
            f"{100 * ln['server_cpu_s'] / secs:.0f} % of a core, workstations "
            f"{100 * ln['workstations_cpu_s'] / secs:.0f} %, other work on the machine "
            f"{100 * ln['other_cpu_s'] / secs:.0f} %); the workstations' active backends, "
            f"sampled every 0.25 s: {shares or 'never active'}; the server's processes waited "
            f"{ln['server_queued_s']:.1f} s for a CPU in all; search p95 "
            f"{search.get('p95', 0):.1f} ms, {search.get('without_cpu_wait_p95', 0):.1f} ms "
            "without the workstation's own wait for a CPU"
        )
    saves = []
    for pace in ("clinic", "flat"):
        runs = ld[pace]
        for n in (min(runs, key=int, default=None), max(runs, key=int, default=None)):
            if n is not None and "save" in runs[n]["ops"]:
                saves.append(f"{runs[n]['ops']['save']['p95']:.0f} ms at {n} ({pace})")
    text = "; ".join(parts)
    return [
        "- **A clinic under load (what limits us).** "
        + text[:1].upper()
        + text[1:]
        + ". Saves (each writes the record, its audit row, its value-tally rows and a "
        "NOTIFY in one transaction), p95: "
        + ", ".join(dict.fromkeys(saves))
        + ". Every chart opened writes its access record, so chart opens commit and "
        "flush the WAL like saves. The client's sessions run no parallel query "
        "(`max_parallel_workers_per_gather = 0`, `db/database.py`): the day list's "
        "statement chose a parallel bitmap scan of `appointment`"
        + _day_rows(results)
        + ", and each load started and stopped background workers, 9 to 15 % of the "
        "active backends' samples before, for rows one process reads faster alone; "
        "a keystroke is one round trip with no liveness ping and no BEGIN/COMMIT, so "
        "each costs the server one statement instead of four. "
        "Each workstation's work here is sequential, so it holds one pooled "
        "connection at a time (plus its listener's): the pool's size is not what is "
        "measured. On this machine the workstations and the server share two cores, so "
        "the figures at 20 and 40 are an upper bound of what separate computers would see."
    ]
