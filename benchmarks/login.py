"""From "Log in" pressed to the main window with the day's appointments, timed and counted.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.login --dir /tmp/phms-login

creates (first time) and starts an embedded PostgreSQL server in ``--dir``/data (it
keeps running for the next run: ``phms-admin server stop --data-dir DIR/data``) and a
database with the demo clinic (``phms-admin demo``: patients and today's appointments),
then
logs in through the real login dialog and main window (``AppShell``, offscreen), as a
clinician, through the latency proxy at each one-way delay. It prints a Markdown
table: round trips of the login's connection once logged in (before the main window
is built) and once the day list has arrived, the listener's (its own connection, in
parallel), the bytes both ways, and the median wall time from the click to each
moment.

The main windows' modules are imported before the click, as the client does while
the login window waits (``phms_client.app``). The proxy adds latency, not a bandwidth
limit: the table adds the bytes' transfer time at ``--mbit`` apart. The embedded
server has no TLS; a TLS connection adds its handshake (two round trips with TLS 1.3
and the SSLRequest).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATABASE = "phms_login_bench"


@dataclass(frozen=True)
class Run:
    delay_ms: float
    round_trips_logged_in: int
    round_trips_day_list: int
    listener_round_trips: int
    bytes_total: int
    ms_to_logged_in: float
    ms_to_window: float
    ms_to_day_list: float


def prepare(folder: Path) -> Any:
    from benchmarks import server
    from phms_admin.cli import main as admin_main

    info = server.ensure_server(folder / "data", settings={})
    if not server.database_exists(info, DATABASE):
        server.create_database(info, DATABASE)
        server.prepare_database(info.url(DATABASE))
        code = admin_main(["demo", "--url", info.url(DATABASE), "--patients", "60"])
        if code:
            raise SystemExit(code)
    return info


def one_login(app: Any, info: Any, delay_ms: float, folder: Path) -> Run:
    import tomli_w

    from benchmarks.latency_proxy import LatencyProxy, ProxyThread
    from benchmarks.server import BENCH_PASSWORD, BENCH_USER
    from phms_client.ui.shell.app_shell import AppShell, main_window_factory
    from phms_client.ui.shell.settings_dialog import ConfigLocation

    marks: dict[str, float] = {}
    counts: dict[str, dict[int, int]] = {}
    with ProxyThread(LatencyProxy("127.0.0.1", info.port, delay_ms=delay_ms)) as proxy:
        user_file = folder / "user.toml"
        user_file.write_text(
            tomli_w.dumps(
                {"server": f"127.0.0.1:{proxy.port}", "database": DATABASE, "sslmode": "disable"}
            )
        )
        location = ConfigLocation(site_path=folder / "site.toml", user_path=user_file, environ={})

        def factory(ctx: Any) -> Any:
            marks["logged_in"] = time.perf_counter()
            counts["logged_in"] = dict(proxy.counters.by_connection)
            return main_window_factory(ctx)

        shell = AppShell(location, window_factory=factory, idle_timeout_ms=0)
        dialog = shell.start()
        dialog.user_edit.setText(BENCH_USER)
        dialog.password_edit.setText(BENCH_PASSWORD)

        def opened(window: Any) -> None:
            marks["window"] = time.perf_counter()
            counts["window"] = dict(proxy.counters.by_connection)

            def listed() -> None:
                marks.setdefault("day_list", time.perf_counter())
                counts.setdefault("day_list", dict(proxy.counters.by_connection))

            window.day_list.loaded.connect(listed)

        shell.main_window_opened.connect(opened)
        app.processEvents()
        proxy.counters.reset()
        start = time.perf_counter()
        dialog.login_button.click()
        deadline = start + 30
        while time.perf_counter() < deadline and not (
            "day_list" in marks and shell.context is not None and shell.context.live.is_listening()
        ):
            app.processEvents()
            time.sleep(0.001)
        total = proxy.counters.bytes_up + proxy.counters.bytes_down
        every = dict(proxy.counters.by_connection)
        shell.shutdown()
        for widget in app.topLevelWidgets():
            widget.close()
        app.processEvents()
    if "day_list" not in marks:
        raise SystemExit("the day list did not arrive within 30 s")
    first = min(every)
    listener = sum(n for conn, n in every.items() if conn != first)
    return Run(
        delay_ms,
        counts["logged_in"].get(first, 0),
        counts["day_list"].get(first, 0),
        listener,
        total,
        (marks["logged_in"] - start) * 1000,
        (marks["window"] - start) * 1000,
        (marks["day_list"] - start) * 1000,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="folder for the server")
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 25.0, 50.0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mbit", type=float, default=3.0, help="link speed for the bytes")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    info = prepare(args.dir)

    from PySide6.QtWidgets import QApplication

    import phms_client.ui.audit.window
    import phms_client.ui.shell.main_window  # noqa: F401  (as while the person types)

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    one_login(app, info, 0.0, args.dir)  # warm-up (first use of the server's caches)
    print(
        "| Delay (one way) | Round trips: logged in | with the day list | listener's | kB | "
        f"ms: logged in | window shown | day list shown | bytes at {args.mbit:g} Mbit/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for delay in args.delays:
        runs = [one_login(app, info, delay, args.dir) for _ in range(args.runs)]
        trips = {
            (r.round_trips_logged_in, r.round_trips_day_list, r.listener_round_trips) for r in runs
        }
        logged_in, day_list, listener = (
            "/".join(str(n) for n in sorted({t[i] for t in trips})) for i in range(3)
        )
        size = statistics.median(r.bytes_total for r in runs)
        transfer = size * 8 / (args.mbit * 1e6) * 1000
        ms = [
            statistics.median(getattr(r, name) for r in runs)
            for name in ("ms_to_logged_in", "ms_to_window", "ms_to_day_list")
        ]
        print(
            f"| {delay:g} ms | {logged_in} | {day_list} | {listener} | {size / 1000:.1f} | "
            f"{ms[0]:.0f} | {ms[1]:.0f} | {ms[2]:.0f} | +{transfer:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
