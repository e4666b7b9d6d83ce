"""The audit review benchmark runs end to end on a tiny trail and writes its section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import audit_review, generate, server
from tests.harness import PgDatabase


@pytest.mark.slow
def test_audit_benchmark_smoke(fresh_database: PgDatabase, tmp_path: Path) -> None:
    url = fresh_database.admin_url
    server.prepare_database(url)
    generate.load(url, patients=200, big_chart_records=10, progress=lambda _m: None)
    load = audit_review.load_audit(url, 3000, seed=7, log=lambda _m: None)
    assert load["events"] == 3000 and load["openings"] == 600
    results = audit_review.measure(url, fresh_database.server.port, fresh_database.name, reps=2)
    for key in audit_review.LABELS:
        assert results[key]["design"]["p50_ms"] > 0, key
    assert results["activity"]["design"]["rows"] == 200
    assert results["patient_by_id"]["design"]["rows"] > 0
    # The design and the naive query find the same rows for one patient.
    assert results["patient_by_id"]["design"]["rows"] == results["patient_by_id"]["naive"]["rows"]
    assert results["event_detail"]["design"]["rows"] == 1

    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\nearlier text\n")
    size = {"phms.patient": 200, "audit.event": 3000, "audit.chart_access": 600}
    audit_review.write_section(report, audit_review.render(results, size, load, "smoke"))
    audit_review.write_section(report, audit_review.render(results, size, load, "smoke"))
    text = report.read_text()
    assert text.count("## Audit review") == 1 and "earlier text" in text
    assert "| Activity, no filter (first 200) | 200 |" in text
    kept = text
    report.write_text("# Benchmarks, regenerated\n")
    audit_review.keep_section(report, kept)
    assert "## Audit review" in report.read_text()
    json.dumps(results, default=str)  # what benchmarks_audit.json holds
