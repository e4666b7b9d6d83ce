"""Over a VPN: the real client's work through a shaped link, TLS on.

A real client process (:mod:`benchmarks.client_probe`, offscreen Qt) reaches the
server through :class:`~benchmarks.latency_proxy.LatencyProxy` (bandwidth each way
and one-way delay) and :class:`~benchmarks.tls_front.TlsFront` (PostgreSQL's TLS,
``verify-full`` against a site CA, since the embedded server has no OpenSSL). For
each link it logs in through the login dialog and, logged in, types search
keystrokes, reloads the day list, opens a typical and the biggest chart and saves
a followup. The proxy counts round trips and bytes each way (encrypted, as on the
wire), the TLS front the connections, handshakes and statements. The baseline is
the same work over loopback (TLS on); the login is also measured without TLS.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks import server, tls_check
from benchmarks.chart_section import typical_patient
from benchmarks.figures import TARGETS, Log, Plan, Target, fmt_kb, run_summary
from benchmarks.latency_proxy import Link
from benchmarks.search_section import search_workload
from benchmarks.vpn_client import ClientProcess, Wire, site_file, wire

LOOPBACK = Link("loopback")
OPERATIONS = ("login", "search", "day list", "typical chart", "big chart", "followup")
TARGET_LINK = "3 Mbit/s + 50 ms"


def _step(client: ClientProcess, w: Wire, command: str) -> dict[str, Any]:
    """One command's answer and the link's counters; at a milestone (the login's
    window open) the counters so far too, as ``<milestone>_<counter>``."""
    w.reset()
    marks: dict[str, Any] = {}

    def mark(name: str) -> None:
        marks.update({f"{name}_{key}": value for key, value in w.read().items()})
        # The first connection's own (the login's); others may be setting up meanwhile.
        by_connection = w.proxy.counters.by_connection
        marks[f"{name}_first_connection_round_trips"] = (
            by_connection[min(by_connection)] if by_connection else 0
        )

    answer = client.ask(command, on_milestone=mark)
    return {**answer, **w.read(), **marks}


def floor_ms(s: dict[str, Any], link: Link) -> float | None:
    """The network's share: round trips x RTT, plus the bytes at the link's rates."""
    if "round_trips" not in s:
        return None
    t = float(s["round_trips"]) * 2 * link.delay_ms
    if link.down_kbit_s:
        t += s["bytes_down"] * 8 / link.down_kbit_s
    if link.up_kbit_s:
        t += s["bytes_up"] * 8 / link.up_kbit_s
    return t


def followup_patient(target: Target) -> int:
    """A living patient with an assessment before today (a followup may be saved)."""
    engine = sa.create_engine(target.admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            start = int(target.load.get("patients") or 2) // 2
            found = conn.execute(
                sa.text(
                    "SELECT a.patient_id FROM phms.assessment a"
                    " JOIN phms.patient p ON p.id = a.patient_id"
                    " WHERE a.kind = 'assessment' AND NOT a.entered_in_error"
                    " AND a.study_date < current_date AND p.deceased_date IS NULL"
                    " AND a.patient_id > :s ORDER BY a.patient_id LIMIT 1"
                ),
                {"s": start},
            ).scalar_one()
            return int(found)
    finally:
        engine.dispose()


def connect_cost(target: Target, w: Wire, rootcert: Path | None) -> dict[str, Any]:
    """One bare connection as the clinician (TLS and SCRAM), then closed."""
    w.reset()
    t0 = time.perf_counter()
    with psycopg.connect(
        host="127.0.0.1",
        port=w.proxy.port,
        dbname=target.database,
        user=server.BENCH_USER,
        password=server.BENCH_PASSWORD,
        sslmode="disable" if rootcert is None else "verify-full",
        sslrootcert=str(rootcert) if rootcert else None,
    ):
        ms = (time.perf_counter() - t0) * 1000
    return {"ms": ms, **w.read()}


def _keystrokes(target: Target, plan: Plan, seed: int) -> dict[str, list[str]]:
    """Fresh keystrokes (not the search section's): ``plan.vpn_keystrokes`` a category."""
    small = Plan(name_patients=3, typo_patients=3, id_patients=3, date_patients=3)
    work = search_workload(target, small, seed + 101)
    rng = random.Random(seed + 102)
    return {
        cat: rng.sample(qs, min(len(qs), plan.vpn_keystrokes)) for cat, qs in work.items() if qs
    }


def measure_link(
    target: Target,
    plan: Plan,
    link: Link,
    patients: dict[str, int],
    keystrokes: dict[str, list[str]],
    home: Path,
    log: Log,
    saved: list[int],
) -> dict[str, Any]:
    out: dict[str, Any] = {"link": asdict(link)}
    with wire(target, link, tls=True) as (w, rootcert):
        site = site_file(home, target, w.proxy.port, rootcert)
        out["connect"] = run_summary([connect_cost(target, w, rootcert) for _ in range(3)])
        logins: list[dict[str, Any]] = []
        client: ClientProcess | None = None
        for i in range(plan.vpn_logins):
            if client is not None:
                client.close()
            client = ClientProcess(site, home)
            logins.append(_step(client, w, f"login {server.BENCH_USER} {server.BENCH_PASSWORD}"))
            if "error" in logins[-1]:
                log(f"vpn: {link.name}: login {i + 1} failed: {logins[-1]['error']}")
        assert client is not None
        try:
            out["login"] = run_summary(logins, "ready_ms")
            out["login"]["window_ms_p50"] = statistics.median(
                r.get("window_ms", 0.0) for r in logins
            )
            out["login"]["listening_ms_p50"] = statistics.median(
                r.get("listening_ms", 0.0) for r in logins
            )
            if out["login"]["failed"] == len(logins):
                return out
            per_cat: dict[str, Any] = {}
            every: list[dict[str, Any]] = []
            for cat, qs in keystrokes.items():
                runs = [_step(client, w, f"search {q}") for q in qs]
                every += runs
                s = run_summary(runs)
                worst = max(
                    (r for r in runs if "error" not in r), key=lambda r: r["ms"], default={}
                )
                s["worst"] = {"query": qs[runs.index(worst)] if worst else None, **worst}
                per_cat[cat] = s
            out["search"] = {**run_summary(every), "categories": per_cat}
            ms = sorted(r["ms"] for r in every if "error" not in r)
            if ms:
                out["search"]["ms_p95"] = ms[max(0, round(0.95 * len(ms) + 0.5) - 1)]
            days = [_step(client, w, "daylist") for _ in range(plan.vpn_reps)]
            out["day list"] = run_summary(days)
            for label in ("typical", "big"):
                runs = [_step(client, w, f"chart {patients[label]}") for _ in range(plan.vpn_reps)]
                out[f"{label} chart"] = run_summary(runs)
            runs = [
                _step(client, w, f"followup {patients['followup']}") for _ in range(plan.vpn_reps)
            ]
            saved += [int(r["id"]) for r in runs if "id" in r]
            out["followup"] = run_summary(runs)
        finally:
            client.close()
    return out


def login_without_tls(target: Target, plan: Plan, link: Link, home: Path) -> dict[str, Any]:
    with wire(target, link, tls=False) as (w, _none):
        site = site_file(home, target, w.proxy.port, None)
        runs = []
        for _ in range(plan.vpn_logins):
            client = ClientProcess(site, home)
            try:
                runs.append(_step(client, w, f"login {server.BENCH_USER} {server.BENCH_PASSWORD}"))
            finally:
                client.close()
        connect = run_summary([connect_cost(target, w, None)])
        return {**run_summary(runs, "ready_ms"), "connect": connect}


def bench_vpn(target: Target, plan: Plan, seed: int, log: Log) -> dict[str, Any]:
    patients = {
        "typical": typical_patient(target),
        "big": int(target.load["big_chart_patient"]),
        "followup": followup_patient(target),
    }
    keystrokes = _keystrokes(target, plan, seed)
    links = [
        *([LOOPBACK] if plan.vpn_baseline else []),
        *(Link.vpn(mbit, delay) for mbit, delay in plan.vpn_links),
    ]
    out: dict[str, Any] = {
        "patients": patients,
        "keystrokes": {k: len(v) for k, v in keystrokes.items()},
        "links": {},
        "without_tls": {},
    }
    saved: list[int] = []
    with tempfile.TemporaryDirectory(prefix="phms-bench-vpn-") as tmp:
        home = Path(tmp)
        try:
            for link in links:
                log(f"vpn: {link.name}, TLS on")
                out["links"][link.name] = measure_link(
                    target, plan, link, patients, keystrokes, home, log, saved
                )
            if plan.vpn_tls_check and tls_check.available():
                log("vpn: the TLS front against a distribution PostgreSQL with TLS")
                out["tls_check"] = tls_check.check()
            for link in links:
                if link == LOOPBACK:
                    continue
                log(f"vpn: {link.name}, login without TLS")
                out["without_tls"][link.name] = login_without_tls(target, plan, link, home)
        finally:
            out["followups_removed"] = server.remove_assessments(target.admin_url, saved)
    return out


# ------------------------------------------------------------------ report


def _cell_ms(s: dict[str, Any], key: str = "ms_p50") -> str:
    if key not in s:
        return f"failed ({s.get('failed', '?')})"
    return f"{s[key]:.0f}"


def render(results: dict[str, Any]) -> list[str]:
    v = results["vpn"]
    plan = results["plan"]
    out = [
        "## Over a VPN",
        "",
        "A real client process (`benchmarks/client_probe.py`: the login dialog, the main "
        "window, its task runner and services, offscreen Qt) through "
        "`benchmarks/latency_proxy.py` (bandwidth each way as a token bucket, plus the "
        "one-way delay) and `benchmarks/tls_front.py`. TLS is on: the installer's servers "
        "take workstations only over TLS, but the embedded server is built without "
        "OpenSSL, so the TLS front does PostgreSQL's TLS for it — libpq sends its "
        "SSLRequest, completes a TLS handshake and checks the certificate "
        "(`verify-full`, a P-256 site CA and server certificate as the installer makes "
        "them), then the startup and SCRAM go inside the tunnel; the front passes the "
        "decrypted protocol to the server over loopback. So the handshake's round trips "
        "and bytes cross the link as they would; only the server-side encryption CPU is "
        "the front's, not PostgreSQL's. Bytes are counted on the link (encrypted), "
        "statements in the decrypted stream: *statements* counts each query sent, of "
        "which *pings* are the connection pool's liveness check (`;`, sent only on a "
        "connection idle for more than 10 s, `PING_AFTER_IDLE`), and *BEGIN/"
        "COMMIT* the transaction control sent on its own. Medians of "
        f"{plan['vpn_reps']} (login: {plan['vpn_logins']} fresh client processes); "
        "*network floor* is round trips × RTT plus the bytes at the link's rate: what "
        "the link alone costs, the rest is the client's and the server's work. "
        f"Patients: typical chart {v['patients']['typical']}, biggest "
        f"{v['patients']['big']}, followups saved for {v['patients']['followup']} "
        f"(and deleted afterwards: {v.get('followups_removed', 0)}).",
        "",
        "| Link | Operation | ms | network floor ms | round trips | connections | "
        "statements (pings) | BEGIN/COMMIT | bytes up | bytes down |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in v["links"].items():
        link = Link(**e["link"])
        for op in OPERATIONS:
            s = e.get(op)
            if s is None:
                continue
            floor = floor_ms(s, link)
            out.append(
                f"| {name} | {op} | {_cell_ms(s)} | "
                f"{'' if floor is None else f'{floor:.0f}'} | {s.get('round_trips', '')} | "
                f"{s.get('connections', '')} | {s.get('statements', '')} "
                f"({s.get('pings', '–')}) | {s.get('transaction_control', '')} | "
                f"{fmt_kb(s.get('bytes_up', 0))} | {fmt_kb(s.get('bytes_down', 0))} |"
            )
    out += [
        "",
        "*login*: from pressing Log in until the main window is open and its first loads "
        "are done (no task left); the round trips and bytes run on until live updates "
        "are connected (their own connection). *search*: one keystroke's query, from the "
        "moment the client sends it (the client waits "
        f"{_debounce(v)} ms after the last keystroke first); fresh keystrokes, "
        + ", ".join(f"{k} {n}" for k, n in v["keystrokes"].items())
        + ". *typical chart*, *big chart*: from the call that opens the chart window "
        "until it shows the chart and has painted. *followup*: one followup saved "
        "through the client's connection.",
        "",
        "*Window open*: the round trips of the login's connection and the bytes of "
        "all connections counted when the window opened (the day list's answer, at "
        "least one round trip later, not yet; the listener's connection may be setting "
        "up meanwhile).",
        "",
        "| Link | login: window open | its round trips (connections open) | its bytes down "
        "| ready | live updates connected | one connection "
        "(TLS + SCRAM): round trips, ms | login without TLS: ms, round trips, bytes |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, e in v["links"].items():
        lg, conn = e.get("login", {}), e.get("connect", {})
        plain = v["without_tls"].get(name, {})
        plain_txt = (
            f"{plain['ms_p50']:.0f} ms, {plain.get('round_trips')} round trips, "
            f"{fmt_kb(plain.get('bytes_up', 0) + plain.get('bytes_down', 0))}"
            if "ms_p50" in plain
            else "–"
        )
        out.append(
            f"| {name} | {lg.get('window_ms_p50', 0):.0f} | "
            f"{lg.get('window_first_connection_round_trips', '–')} "
            f"({lg.get('window_connections', '–')}) | "
            f"{fmt_kb(lg.get('window_bytes_down', 0))} | {_cell_ms(lg)} | "
            f"{lg.get('listening_ms_p50', 0):.0f} | {conn.get('round_trips', '')}, "
            f"{conn.get('ms_p50', 0):.0f} ms | {plain_txt} |"
        )
    check = v.get("tls_check")
    if check:
        out += [
            "",
            f"The TLS front against a real TLS server ({check['server']}, the "
            "distribution's, built with OpenSSL, as the installer sets up; "
            "`benchmarks/tls_check.py`, same certificates, same link): a connection's "
            "round trips, bytes up / down and ms. *Any curve* is the front without "
            "PostgreSQL's P-256-only key exchange.",
            "",
            "| Link | | server's own TLS | TLS front | TLS front, any curve |",
            "|---|---|---|---|---|",
        ]
        for name, ways in check.items():
            if not isinstance(ways, dict):
                continue
            for what in ("connect", "300 kB answer"):
                cells = []
                for way in ("server's TLS", "TLS front", "TLS front, any curve"):
                    r = ways.get(way, {}).get(what)
                    cells.append(
                        f"{r['round_trips']} rt, {fmt_kb(r['bytes_up'])} / "
                        f"{fmt_kb(r['bytes_down'])}, {r['ms']:.0f} ms"
                        if r
                        else "–"
                    )
                out.append(f"| {name} | {what} | {' | '.join(cells)} |")
    out += ["", "Search keystrokes per category (the slowest keystroke of each):", ""]
    out += [
        "| Link | Category | p50 ms | max ms | slowest keystroke | its round trips "
        "| its bytes down |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for name, e in v["links"].items():
        for cat, s in e.get("search", {}).get("categories", {}).items():
            worst = s.get("worst", {})
            out.append(
                f"| {name} | {cat} | {_cell_ms(s)} | {_cell_ms(s, 'ms_max')} | "
                f"{worst.get('query')!r} | {worst.get('round_trips', '')} | "
                f"{fmt_kb(worst.get('bytes_down', 0))} |"
            )
    out += [""]
    return out


def _debounce(v: dict[str, Any]) -> str:
    for e in v["links"].values():
        for s in e.get("search", {}).get("categories", {}).values():
            if s.get("debounce_ms") is not None:
                return f"{s['debounce_ms']:.0f}"
    return "?"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    e = results["vpn"]["links"].get(TARGET_LINK)
    if e is None:
        return []
    rows: list[dict[str, Any]] = []
    lg, conn = e.get("login", {}), e.get("connect", {})
    if "window_round_trips" in lg:
        per_conn = conn.get("round_trips", 0)
        window_rt = lg["window_first_connection_round_trips"]
        statements = window_rt - per_conn
        rows.append(
            {
                "target": "VPN 3 Mbit/s + 50 ms: login to main window ≤ 1.0 s in ≤ 4 round trips",
                "figure": (
                    f"window open at {lg['window_ms_p50'] / 1000:.2f} s after {window_rt} "
                    f"round trips on the login's connection: {per_conn} to connect (TLS, "
                    f"SCRAM; see *Findings*), {statements} for the statements; first loads "
                    "done at "
                    f"{lg['ms_p50'] / 1000:.2f} s"
                ),
                "met": lg["window_ms_p50"] <= TARGETS["vpn_login_s"] * 1000
                and statements <= TARGETS["vpn_login_round_trips"],
            }
        )
    for op, key, label in (
        ("typical chart", "vpn_typical_chart_ms", "typical chart"),
        ("big chart", "vpn_big_chart_first_screen_ms", "500-record chart's first screen"),
    ):
        s = e.get(op, {})
        if "ms_p50" in s:
            rows.append(
                {
                    "target": f"VPN 3 Mbit/s + 50 ms: {label} ≤ {TARGETS[key]:.0f} ms",
                    "figure": f"{s['ms_p50']:.0f} ms (median; {fmt_kb(s['bytes_down'])} down, "
                    f"{s['round_trips']} round trip{'' if s['round_trips'] == 1 else 's'})",
                    "met": s["ms_p50"] <= TARGETS[key],
                }
            )
    s = e.get("search", {})
    if "ms_p95" in s:
        rows.append(
            {
                "target": "VPN 3 Mbit/s + 50 ms: search keystroke ≤ 150 ms",
                "figure": f"p50 {s['ms_p50']:.0f} ms, p95 {s['ms_p95']:.0f} ms, "
                f"max {s['ms_max']:.0f} ms",
                "met": s["ms_p95"] <= TARGETS["vpn_search_keystroke_ms"],
            }
        )
    return rows


def finding(results: dict[str, Any]) -> list[str]:
    """What limits each operation over the VPN: the link's floor against the rest."""
    e = results["vpn"]["links"].get(TARGET_LINK)
    if e is None:
        return []
    link = Link(**e["link"])
    parts = []
    for op in OPERATIONS:
        s = e.get(op, {})
        if op == "login" and "window_ms_p50" in s:
            # Judged on the window's opening: the login's connection until then.
            s = {
                "ms_p50": s["window_ms_p50"],
                "round_trips": s["window_first_connection_round_trips"],
                "bytes_up": s.get("window_bytes_up", 0),
                "bytes_down": s.get("window_bytes_down", 0),
            }
            op = "login to the main window"
        floor = floor_ms(s, link)
        if "ms_p50" not in s or floor is None:
            continue
        rt = s["round_trips"] * 2 * link.delay_ms
        data = floor - rt
        why = ""
        if op != "login" and "statements" in s:
            why = (
                f" ({s['round_trips']} round trip(s): {s['statements']} statement(s) of which "
                f"{s.get('pings', '?')} liveness ping, {s['transaction_control']} BEGIN/"
                f"COMMIT; {fmt_kb(s['bytes_down'])} down)"
            )
        parts.append(
            f"{op} {s['ms_p50']:.0f} ms = round trips {rt:.0f} + bytes {data:.0f} + "
            f"client and server work {max(0.0, s['ms_p50'] - floor):.0f}{why}"
        )
    search = e.get("search", {})
    if search.get("ms_p95", 0) > TARGETS["vpn_search_keystroke_ms"]:
        parts.append(
            f"a keystroke's p95 of {search['ms_p95']:.0f} ms (target "
            f"{TARGETS['vpn_search_keystroke_ms']:.0f}) is a keystroke of one round trip "
            "too: the name statement (6 kB of SQL) goes up in full on each of its first "
            "five uses on a connection, 16 ms at 3 Mbit/s, and on its sixth psycopg "
            f"prepares it in a round trip of its own (the slowest, {search['ms_max']:.0f} "
            "ms), once per pooled connection (connections are recycled every 30 min); "
            "what is left to gain is the answer's 4 to 5 kB (a first page of 51 names)"
        )
    conn = e.get("connect", {})
    plain = results["vpn"]["without_tls"].get(TARGET_LINK, {})
    lg = e.get("login", {})
    tls_cost = (
        f" TLS adds {lg['ms_p50'] - plain['ms_p50']:.0f} ms to the login here "
        f"({lg['round_trips'] - plain['round_trips']} round trips)."
        if "ms_p50" in lg and "ms_p50" in plain
        else ""
    )
    return [
        f"- **Over a VPN (what limits us, {TARGET_LINK}).** "
        + "; ".join(parts)
        + f". Each new connection costs {conn.get('round_trips', '?')} round trips before "
        "its first statement: the SSLRequest, the TLS handshake twice (PostgreSQL up to 17 "
        "takes only P-256 for the key exchange, libpq offers X25519 first, so the server "
        "asks again; PostgreSQL 18's `ssl_groups` accepts X25519 and saves that round "
        "trip), three SCRAM messages. A server of PostgreSQL 17 or later also takes TLS "
        "at once (libpq's `sslnegotiation=direct`), without the SSLRequest's round trip; "
        "the client does not ask for it yet, because the installer's default server "
        "(the distribution's PostgreSQL 15 on Debian 12) does not take it and libpq "
        "does not fall back." + tls_cost
    ]
