"""The client process: start-up to the login window, and memory after opening charts."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import server
from benchmarks.figures import REPO, TARGETS, Log, Plan, Target, fmt_mb, fmt_s


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


def bench_startup(target: Target, plan: Plan, log: Log) -> dict[str, Any]:
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


def bench_memory(target: Target, plan: Plan, log: Log) -> dict[str, Any]:
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


def render_startup(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
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
            f"| {label} | {fmt_s(e['first_s'])} | {fmt_s(e['p50_s'])} | {fmt_s(e['max_s'])} | "
            f"{e['runs']} ({e['failed']} failed) |"
        )
    out += [""]
    return out


def render_memory(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
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
                f"| {text} | {mode} | {fmt_mb(e['before'])} | {fmt_mb(e['after'])} | "
                f"{fmt_mb(e['after'] - e['before'])} |"
            )
    return out


def finding(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    start, naive = results["startup"]["design"], results["startup"].get("naive", {})
    if start.get("p50_s"):
        beside = (
            f" (every module imported first: {naive['p50_s']:.2f} s)" if naive.get("p50_s") else ""
        )
        out.append(
            f"- **Start-up** ({start['p50_s']:.2f} s median{beside}): the login window "
            "needs Qt and the client's settings only; SQLAlchemy, psycopg, the models and "
            "the main windows load while the person types "
            "(`tests/ui/test_startup_imports.py`). What is left is starting Python and "
            "loading Qt."
        )
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    start = results["startup"]["design"]
    figure = start["p50_s"]
    rows.append(
        {
            "target": f"Start to login window ≤ {TARGETS['startup_s']:.1f} s (median)",
            "figure": "failed" if figure is None else f"{figure:.2f} s (median)",
            "met": figure is not None and figure <= TARGETS["startup_s"],
        }
    )

    return rows
