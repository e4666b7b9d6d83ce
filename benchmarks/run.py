"""Benchmark PHMS end to end and write docs/benchmarks.md and docs/benchmarks.json.

    .venv/bin/python -m benchmarks.run --dir /tmp/phms-bench --patients 1000000

creates (first time) a dedicated embedded PostgreSQL server in ``--dir``/data
(tuned, see :data:`benchmarks.server.TUNING`), a database ``phms_bench_<N>``
migrated to head with a synthetic cohort (:mod:`benchmarks.generate`; reused
when it exists), and measures the sections of :data:`SECTIONS`, each beside a
baseline in the same run (``--sections`` chooses some; the figures of the others are
kept from the last report's JSON):

- ``search``: search as you type (:mod:`benchmarks.search_section`);
- ``chart``: the chart window's loads (first screen, a page of older records, the
  course) and the whole chart through the latency proxy (:mod:`benchmarks.chart_section`);
- ``error_check``: the Error Check over the whole database
  (:mod:`benchmarks.error_check_section`);
- ``startup``, ``memory``: the client process (:mod:`benchmarks.client_section`);
- ``vpn``: the clinic's work over a VPN, TLS on (:mod:`benchmarks.vpn_section`);
- ``clinic_load``: many workstations at once (:mod:`benchmarks.load_section`);
- ``cold``: the chart and search again after a server restart (cold buffers)
  (:mod:`benchmarks.cold_section`).

Wall times on a shared machine are noisy: compare the figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import (
    audit_review,
    chart_section,
    client_section,
    cold_section,
    environment,
    error_check_section,
    generate,
    load_section,
    search_section,
    server,
    vpn_section,
)
from benchmarks.figures import FULL_PLAN, REPO, SMOKE_PLAN, Log, Plan, Target
from phms_admin import embedded

__all__ = ["SMOKE_PLAN", "Plan", "Target", "main", "prepare", "run_all"]


@dataclass(frozen=True)
class Section:
    """One section of the report: how it is measured, shown, judged and explained."""

    key: str
    title: str
    measure: Callable[[Target, Plan, int, Log], dict[str, Any]]
    render: Callable[[dict[str, Any]], list[str]]
    targets: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda _r: []
    finding: Callable[[dict[str, Any]], list[str]] = lambda _r: []


SECTION_LIST: tuple[Section, ...] = (
    Section(
        "search",
        "Search",
        lambda t, p, seed, log: search_section.bench_search(t, p, seed, log),
        search_section.render,
        search_section.targets,
        search_section.finding,
    ),
    Section(
        "chart",
        "Chart",
        lambda t, p, _seed, log: chart_section.bench_chart(t, p, log),
        chart_section.render,
        chart_section.targets,
        chart_section.finding,
    ),
    Section(
        "error_check",
        "Error Check",
        lambda t, p, _seed, log: error_check_section.bench_error_check(t, p, log),
        error_check_section.render,
        error_check_section.targets,
        error_check_section.finding,
    ),
    Section(
        "startup",
        "Start-up",
        lambda t, p, _seed, log: client_section.bench_startup(t, p, log),
        client_section.render_startup,
        client_section.targets,
        client_section.finding,
    ),
    Section(
        "memory",
        "Memory",
        lambda t, p, _seed, log: client_section.bench_memory(t, p, log),
        client_section.render_memory,
    ),
    Section(
        "vpn",
        "Over a VPN",
        vpn_section.bench_vpn,
        vpn_section.render,
        vpn_section.targets,
        vpn_section.finding,
    ),
    Section(
        "clinic_load",
        "A clinic under load",
        load_section.bench_load,
        load_section.render,
        load_section.targets,
        load_section.finding,
    ),
    Section(
        "cold",
        "Cold buffers",
        cold_section.bench_cold,
        cold_section.render,
        finding=cold_section.finding,
    ),
)
SECTION_KEYS = tuple(s.key for s in SECTION_LIST)
#: The headings of the report (the smoke test checks every one is there).
SECTIONS = (
    "Summary",
    "Findings",
    "Environment",
    "Data",
    *(s.title for s in SECTION_LIST),
)


# ------------------------------------------------------------------ report


def render(results: dict[str, Any], *, command: str, notes: Sequence[str] = ()) -> str:
    env, load = results["environment"], results["load"]
    met = {True: "met", False: "**not met**", None: "not measured"}
    out: list[str] = ["# PHMS benchmarks", ""]
    out += [
        f"Run of {env['date']} at **{load['patients']:,} patients** "
        f"({sum(load['rows'].values()):,} rows loaded). Every figure is beside a "
        "baseline measured in the same run; on a shared machine compare the ratios, not "
        "the absolute times of different runs. Sections measured at another time than "
        "the rest say so under *Environment*.",
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
    findings = ["## Findings", ""]
    for section in SECTION_LIST:
        if section.key in results:
            findings += section.finding(results)
    findings += PAST_FINDINGS
    out += [*findings, "", *environment.render(results)]
    for section in SECTION_LIST:
        if section.key in results:
            out += section.render(results)
        else:
            out += [
                f"## {section.title}",
                "",
                f"Not measured yet: run with `--sections {section.key}`.",
                "",
            ]
    out += [HOW_TO_RUN]
    return "\n".join(out)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for section in SECTION_LIST:
        if section.key in results:
            rows += section.targets(results)
    return rows


HOW_TO_RUN = (Path(__file__).with_name("how_to_run.md")).read_text()
#: Changes measured on their own, before and after (``past_findings.md``: one bullet
#: a line, after an HTML comment).
PAST_FINDINGS = [
    line
    for line in (Path(__file__).with_name("past_findings.md")).read_text().splitlines()
    if line.startswith("- ")
]


# ------------------------------------------------------------------ driver


def run_all(
    target: Target,
    out_dir: Path,
    *,
    plan: Plan = FULL_PLAN,
    seed: int = generate.DEFAULT_SEED,
    command: str = "",
    notes: Sequence[str] = (),
    log: Log = print,
    sections: Sequence[str] = SECTION_KEYS,
) -> dict[str, Any]:
    """Measure ``sections`` against ``target``; write benchmarks.md and .json to
    ``out_dir``, keeping the figures of the other sections from the JSON there."""
    unknown = set(sections) - set(SECTION_KEYS)
    if unknown:
        raise ValueError(f"unknown sections: {', '.join(sorted(unknown))}")
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "benchmarks.json"
    results: dict[str, Any] = {}
    if set(sections) != set(SECTION_KEYS) and json_path.exists():
        kept = json.loads(json_path.read_text())
        if kept.get("load", {}).get("patients") == target.load.get("patients"):
            results = {k: v for k, v in kept.items() if k in SECTION_KEYS}
            results["environment"] = kept.get("environment", {})
    started = time.perf_counter()
    env = environment.environment(target)
    measured_at = env["date"]
    if results.get("environment"):
        # Kept sections keep their own date and load; the machine is described anew.
        previous = results["environment"]
        env["section_dates"] = {
            k: previous.get("section_dates", {}).get(k, previous.get("date"))
            for k in SECTION_KEYS
            if k in results
        }
        env["load_average"] = previous.get("load_average", {})
    else:
        env["section_dates"], env["load_average"] = {}, {}
    results.update({"plan": asdict(plan), "load": target.load, "environment": env})
    for section in SECTION_LIST:
        if section.key not in sections:
            continue
        before = os.getloadavg()[0]
        results[section.key] = section.measure(target, plan, seed, log)
        env["load_average"][section.key] = [round(before, 2), round(os.getloadavg()[0], 2)]
        env["section_dates"][section.key] = measured_at
    results["targets"] = evaluate(results)
    results["seconds"] = time.perf_counter() - started
    json_path.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n")
    report = out_dir / "benchmarks.md"
    kept_md = report.read_text() if report.exists() else ""
    report.write_text(render(results, command=command, notes=notes))
    audit_review.keep_section(report, kept_md)  # measured by benchmarks.audit_review
    return results


def rerender(out_dir: Path, command: str) -> None:
    """benchmarks.md again from benchmarks.json (after a change to the report's text)."""
    results = json.loads((out_dir / "benchmarks.json").read_text())
    results["targets"] = evaluate(results)
    report = out_dir / "benchmarks.md"
    kept_md = report.read_text() if report.exists() else ""
    report.write_text(render(results, command=command))
    audit_review.keep_section(report, kept_md)


def prepare(bench_dir: Path, patients_n: int, seed: int, log: Log) -> Target:
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
    return Target(
        port=info.port,
        database=name,
        admin_url=url,
        load=load_info,
        data_dir=(bench_dir / "data").resolve(),
    )


def _sections(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTION_KEYS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"choose among {', '.join(SECTION_KEYS)} (comma-separated); not {', '.join(unknown)}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, default=Path("/tmp/phms-bench"), help="server and load records"
    )
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument(
        "--sections",
        type=_sections,
        default=list(SECTION_KEYS),
        help=f"comma-separated, among: {', '.join(SECTION_KEYS)} (default: all)",
    )
    parser.add_argument(
        "--render", action="store_true", help="only write the report again from the JSON"
    )
    parser.add_argument("--smoke", action="store_true", help="the test suite's small plan")
    parser.add_argument("--stop", action="store_true", help="stop the server afterwards")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    command = f".venv/bin/python -m benchmarks.run --dir {args.dir} --patients {args.patients}"
    if args.render:
        rerender(args.out, command)
        return 0
    target = prepare(args.dir, args.patients, args.seed, log)
    try:
        results = run_all(
            target,
            args.out,
            plan=SMOKE_PLAN if args.smoke else FULL_PLAN,
            seed=args.seed,
            command=command,
            log=log,
            sections=args.sections,
        )
    finally:
        if args.stop:
            embedded.stop((args.dir / "data").resolve())
    for row in results["targets"]:
        log(f"{row['target']}: {row['figure']} ({row['met']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
