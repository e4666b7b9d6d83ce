"""The benchmark runs end to end on a tiny cohort and writes every section of its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import generate, run, server
from tests.harness import PgDatabase


@pytest.mark.slow
def test_benchmark_smoke(fresh_database: PgDatabase, tmp_path: Path) -> None:
    url = fresh_database.admin_url
    server.prepare_database(url)
    load = generate.load(url, patients=200, big_chart_records=60, progress=lambda _m: None)
    assert load.checks["ok"] and load.rows["patient"] == 200
    target = run.Target(
        port=fresh_database.server.port,
        database=fresh_database.name,
        admin_url=url,
        load={**load.__dict__},
    )
    out = tmp_path / "report"
    results = run.run_all(target, out, plan=run.SMOKE_PLAN, command="smoke", log=lambda _m: None)

    text = (out / "benchmarks.md").read_text()
    for section in run.SECTIONS:
        assert f"## {section}" in text, section
    data = json.loads((out / "benchmarks.json").read_text())
    assert {"search", "chart", "error_check", "startup", "memory", "targets"} <= data.keys()
    assert results["chart"]["delays"]["0"]["big"]["design"]["round_trips"] <= 2
    assert results["startup"]["design"]["failed"] == 0
    assert all("after" in results["memory"][k] for k in results["memory"] if k != "charts")
