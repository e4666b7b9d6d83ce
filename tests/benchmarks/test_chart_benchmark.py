"""The chart section measures the chart window's loads on a small cohort: the first
screen, a page of older records, the course, the whole chart, and the naive loader;
its report and Summary rows come from them, again from the saved JSON too."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmarks import generate, run, server
from phms_client.services import chart
from tests.harness import PgDatabase

BIG_RECORDS = 120


@pytest.mark.slow
def test_chart_section(fresh_database: PgDatabase, tmp_path: Path) -> None:
    url = fresh_database.admin_url
    server.prepare_database(url)
    load = generate.load(url, patients=120, big_chart_records=BIG_RECORDS, progress=lambda _m: None)
    target = run.Target(
        port=fresh_database.server.port,
        database=fresh_database.name,
        admin_url=url,
        load={**load.__dict__},
    )
    plan = dataclasses.replace(run.SMOKE_PLAN, delays_ms=(0.0, 50.0), chart_reps=3)
    out = tmp_path / "report"
    results = run.run_all(
        target, out, plan=plan, command="chart", log=lambda _m: None, sections=["chart"]
    )

    assert set(results["chart"]["delays"]) == {"0", "50"}
    for entry in results["chart"]["delays"].values():
        big, typical = entry["big"], entry["typical"]
        whole = big["whole"]
        first = big["first_screen"]
        # The first screen: the newest records, the rest counted, one statement that
        # costs one round trip on a warm connection (two when it is prepared there).
        assert first["timeline"] == chart.FIRST_SCREEN_RECORDS
        assert first["timeline"] + first["older"] == whole["timeline"]
        assert first["statements"] == 1 and first["round_trips"] == 1
        assert first["round_trips_max"] <= 2
        assert 0 < first["bytes_down"] < whole["bytes_down"]
        assert first["bytes_up"] > 0
        # The next page: what follows the first screen, and what is older still.
        older = big["older"]
        assert older["records"] == chart.OLDER_PAGE_RECORDS < first["older"]
        assert older["older"] == first["older"] - older["records"]
        assert older["statements"] == 1 and older["round_trips"] == 1
        course = big["course"]
        assert course["records"] > 0 and course["risk_points"] > 0
        assert course["statements"] == 1 and course["round_trips"] == 1
        # The whole chart beside the naive loader: the same records, far fewer statements.
        assert whole["records"] == big["naive"]["records"]
        assert whole["records"] >= BIG_RECORDS
        assert whole["statements"] == 1 and whole["round_trips"] == 1
        assert big["naive"]["statements"] > chart.FIRST_SCREEN_RECORDS
        # A typical chart's first screen holds all of it: no page to load.
        assert typical["first_screen"]["older"] == 0 and "older" not in typical
        assert typical["first_screen"]["records"] == typical["whole"]["records"]
        for m in (*big.values(), *typical.values()):
            assert m["runs"] in (plan.chart_reps, plan.naive_chart_reps)
            assert m["ms_p50"] > 0 and m["bytes_down"] > 0

    rows = {r["target"]: r for r in results["targets"]}
    trips = next(r for t, r in rows.items() if t.startswith("Chart open ≤ 2 round trips"))
    assert trips["met"] is True and trips["figure"].startswith("1 round trip ")
    at_50 = [r for t, r in rows.items() if "350 ms at 50 ms" in t]
    assert len(at_50) == 2 and all(isinstance(r["met"], bool) for r in at_50)
    big_50 = results["chart"]["delays"]["50"]["big"]["first_screen"]
    assert any(r["figure"].startswith(f"{big_50['ms_p50']:.0f} ms") for r in at_50)

    text = (out / "benchmarks.md").read_text()
    section = text.split("## Chart\n", 1)[1].split("\n## ", 1)[0]
    for load_label in ("first screen", "older page", "course", "whole chart", "naive (whole)"):
        assert f"| 50 ms | big | {load_label} |" in section, load_label
    assert "| 50 ms | typical | older page |" not in section
    assert f"newest={chart.FIRST_SCREEN_RECORDS}" in section
    assert "liveness ping" not in section
    assert "**Chart.**" in text

    # Rendered again from the saved JSON: the same report.
    saved = json.loads((out / "benchmarks.json").read_text())
    assert saved["chart"]["delays"]["50"]["big"]["older"]["records"] == older["records"]
    run.rerender(out, "chart")
    assert (out / "benchmarks.md").read_text() == text
