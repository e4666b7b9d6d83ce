"""A real PHMS client (offscreen Qt) that does one thing at a time when told to.

Started by :mod:`benchmarks.vpn_section` with the site settings in
``PHMS_SITE_CONFIG`` (server, port, database, sslmode, sslrootcert). It reads one
command a line from stdin and answers each with one JSON line on stdout, so that the
caller can reset the link's counters before each command and read them after:

- ``login USER PASSWORD``: the login dialog is filled in and submitted; answers when
  the main window is open, its first loads are done (no task left) and live updates
  are connected: ``window_ms``, ``ready_ms``, ``listening_ms`` from the submit;
- ``search TEXT``: the text in the search box, searched now (the debounce skipped,
  ``debounce_ms`` says how long the client waits after the last keystroke);
- ``daylist``: the day list reloaded;
- ``chart ID``: the chart window opened, until it shows the chart (then closed);
- ``followup ID``: a followup saved for the patient (today) through the client's
  connection, as the assessment form does;
- ``quit``.

Everything goes through the client's own code (login dialog, main window, its task
runner and services), so a change to the client shows in the next run.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

TIMEOUT_S = 120.0


class Probe:
    def __init__(self) -> None:
        from PySide6.QtCore import QLocale
        from PySide6.QtWidgets import QApplication

        from phms_client.ui.shared.dates import use_locale
        from phms_client.ui.shell.app_shell import AppShell
        from phms_client.ui.shell.settings_values import ConfigLocation

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        use_locale(QLocale.system())
        self.errors: list[str] = []
        self.shell = AppShell(
            ConfigLocation(),
            idle_timeout_ms=0,
            fallback_presenter=lambda e: self.errors.append(str(e)),
        )
        self.window: Any = None

    # ----------------------------------------------------------------- waiting

    def wait(self, done: Callable[[], bool], what: str) -> float:
        """Process events until ``done()``; the time it became true (perf_counter)."""
        deadline = time.perf_counter() + TIMEOUT_S
        while not done():
            if self.errors:
                raise RuntimeError(f"{what}: {self.errors[-1]}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{what}: no answer in {TIMEOUT_S:.0f} s")
            self.app.processEvents()
            time.sleep(0.0005)
        return time.perf_counter()

    def idle(self) -> bool:
        return int(self.shell.tasks.pending) == 0

    # ----------------------------------------------------------------- commands

    def login(self, user: str, password: str) -> dict[str, Any]:
        from phms_client.app import _after_shown

        dialog = self.shell.start()
        # What the client does while the person types (``phms_client.app``): the
        # modules of the login and the main windows, imported before "Log in".
        _after_shown(self.app)
        opened: list[Any] = []
        self.shell.main_window_opened.connect(opened.append)
        self.app.processEvents()
        dialog.user_edit.setText(user)
        dialog.password_edit.setText(password)
        t0 = time.perf_counter()
        dialog.submit()
        t_window = self.wait(lambda: bool(opened), "login")
        # The caller reads the link's counters now: what it took to open the window.
        print(json.dumps({"milestone": "window"}), flush=True)
        self.window = opened[0]
        day_list = getattr(self.window, "day_list", None)
        loaded: list[bool] = []
        if day_list is not None and hasattr(day_list, "loaded"):
            day_list.loaded.connect(lambda *_: loaded.append(True))
        t_ready = self.wait(self.idle, "first loads")
        ctx = self.shell.context
        t_listen = self.wait(lambda: bool(ctx.live.is_listening()), "live updates")
        return {
            "window_ms": (t_window - t0) * 1000,
            "ready_ms": (t_ready - t0) * 1000,
            "listening_ms": (t_listen - t0) * 1000,
            "day_list_loaded": bool(loaded) or day_list is None,
        }

    def search(self, text: str) -> dict[str, Any]:
        w = self.window
        replaced: list[bool] = []

        def on_replaced() -> None:
            replaced.append(True)

        w.search.results_replaced.connect(on_replaced)
        try:
            w.search_box.setText(text)
            t0 = time.perf_counter()
            w.search.search_now()
            t1 = self.wait(lambda: bool(replaced), "search")
        finally:
            w.search.results_replaced.disconnect(on_replaced)
        debounce = getattr(getattr(w.search, "_debounce", None), "interval", lambda: None)()
        return {"ms": (t1 - t0) * 1000, "rows": w.model.rowCount(), "debounce_ms": debounce}

    def daylist(self) -> dict[str, Any]:
        day_list = self.window.day_list
        loaded: list[bool] = []

        def on_loaded() -> None:
            loaded.append(True)

        day_list.loaded.connect(on_loaded)
        try:
            t0 = time.perf_counter()
            day_list.reload()
            t1 = self.wait(lambda: bool(loaded), "day list")
        finally:
            day_list.loaded.disconnect(on_loaded)
        rows = day_list.model.rowCount() if hasattr(day_list, "model") else None
        return {"ms": (t1 - t0) * 1000, "rows": rows}

    def chart(self, patient_id: int) -> dict[str, Any]:
        loaded: list[bool] = []
        t0 = time.perf_counter()
        chart = self.window.open_chart(patient_id)
        chart.loaded.connect(lambda *_: loaded.append(True))
        t1 = self.wait(lambda: bool(loaded), "chart")
        self.app.processEvents()  # the first paint
        t2 = time.perf_counter()
        self.wait(self.idle, "chart's other loads")
        t3 = time.perf_counter()
        chart.close()
        self.app.processEvents()
        return {
            "ms": (t2 - t0) * 1000,
            "loaded_ms": (t1 - t0) * 1000,
            "all_loads_ms": (t3 - t0) * 1000,
        }

    def followup(self, patient_id: int) -> dict[str, Any]:
        from phms_client.services import chart as chart_service

        data = chart_service.AssessmentInput(
            patient_id,
            dt.date.today(),
            kind="followup",
            who_fc=2,
            heart_rate_bpm=Decimal(72),
            bnp_pg_ml=Decimal(120),
        )
        db = self.shell.context.db
        t0 = time.perf_counter()
        with db.session() as s:
            record = chart_service.create_assessment(s, data)
        return {"ms": (time.perf_counter() - t0) * 1000, "id": record.id}

    def close(self) -> None:
        self.shell.shutdown()


def main() -> int:
    probe = Probe()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command, _, rest = line.strip().partition(" ")
        try:
            if command == "quit":
                break
            if command == "login":
                user, password = rest.split(" ", 1)
                answer = probe.login(user, password)
            elif command == "search":
                answer = probe.search(rest)
            elif command == "daylist":
                answer = probe.daylist()
            elif command == "chart":
                answer = probe.chart(int(rest))
            elif command == "followup":
                answer = probe.followup(int(rest))
            else:
                answer = {"error": f"unknown command {command!r}"}
        except Exception as exc:  # report, keep serving: the caller counts failures
            answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(json.dumps(answer, default=str), flush=True)
    probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
