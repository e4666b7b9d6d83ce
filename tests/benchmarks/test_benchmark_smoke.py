"""The benchmark runs end to end on a tiny cohort and writes every section of its report
(the VPN section through the shaped link and TLS, the clinic under load with two
workstations; the server is shared with other tests, so it is not restarted)."""

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
    assert {*run.SECTION_KEYS, "targets"} <= data.keys()
    assert results["chart"]["delays"]["0"]["big"]["first_screen"]["round_trips"] == 1
    assert results["startup"]["design"]["failed"] == 0
    assert all("after" in results["memory"][k] for k in results["memory"] if k != "charts")
    for category in results["search"]["categories"].values():
        assert category["worst"]["ms"] == category["design"]["max"]

    # Over a VPN: the real client logged in through the shaped link and TLS, and
    # everything it did crossed the link.
    for link in results["vpn"]["links"].values():
        login = link["login"]
        assert login["failed"] == 0, login
        assert login["tls_handshakes"] >= 1 and login["statements"] >= 1
        assert login["connections"] >= 1 and login["bytes_down"] > 0
        assert link["connect"]["tls_handshakes"] == 1
        # The window opened after the login statement on the login's connection (on
        # the smoke's 5 ms link the day list's answer may be counted with it).
        window = login["window_first_connection_round_trips"]
        assert link["connect"]["round_trips"] + 1 <= window <= link["connect"]["round_trips"] + 2
        for op in ("search", "day list", "typical chart", "big chart", "followup"):
            assert link[op]["failed"] == 0, (op, link[op])
            assert link[op]["round_trips"] >= 1
    assert results["vpn"]["without_tls"]
    assert results["vpn"]["followups_removed"] == len(results["vpn"]["links"])

    # A clinic under load: every workstation worked, no error, no NOTIFY lost.
    for pace in ("clinic", "flat"):
        for n, ran in results["clinic_load"][pace].items():
            assert ran["reports"] == int(n)
            assert ran["errors"] == {}, ran["error_examples"]
            assert ran["notify"]["lost"] == 0
            assert ran["ops"]["search"]["n"] > 0 and ran["ops"]["day list"]["n"] > 0
    assert results["cold"]["warm"]["charts"]["big"] > 0
