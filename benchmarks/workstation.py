"""One workstation of the clinic under load, in a process of its own.

It logs in with its own login (the client's ``Database`` and its pool), listens for
changes as the client does (``db.notify.Listener``, its own connection), and runs
a clinic day's mix until its time is up: the day list; a search for the next
patient typed keystroke by keystroke (by name, ID or birth date); the chart opened
(``chart.load_chart_with_details``, as the chart window does); now and then a
followup saved. At a clinic's pace it pauses 0.2 s between keystrokes and 2 s after
a chart or a save; flat out, never.

Each operation's wall time is recorded with the CPU the process's thread used
(``time.thread_time``) and the time it waited for a CPU
(``/proc/thread-self/schedstat``, Linux), so that a slow operation can be told
apart from a busy machine. The followups saved and the notifications heard are
reported, so the caller can check that no NOTIFY was lost.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database
from phms_client.db.notify import Listener
from phms_client.services import appointments, chart, patients

KEYSTROKE_PAUSE_S = 0.2
AFTER_CHART_S = 2.0
AFTER_SAVE_S = 2.0
SAVE_SHARE = 0.3
#: How searches are typed in a clinic day (name, ID, birth date).
CATEGORY_WEIGHTS = {"name": 0.6, "ID": 0.25, "birth date": 0.15}
SCHEDSTAT = Path("/proc/thread-self/schedstat")


def _queued_ns() -> int:
    """Time this thread spent runnable, waiting for a CPU (0 where unknown)."""
    try:
        return int(SCHEDSTAT.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def keystrokes(patient: dict[str, Any], category: str) -> list[str]:
    if category == "name":
        text = f"{patient['family_name']} {patient['given_name'].split()[0][:2]}"
    elif category == "ID":
        text = patient["patient_code"]
    else:
        return [dt.date.fromisoformat(str(patient["birth_date"])).strftime("%d.%m.%Y")]
    out: list[str] = []
    for i in range(1, len(text) + 1):
        typed = text[:i].strip()
        if typed and (not out or out[-1] != typed):
            out.append(typed)
    return out


class Workstation:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.config = ClientConfig(
            hosts=("127.0.0.1",), port=spec["port"], database=spec["database"], sslmode="disable"
        )
        self.credentials = Credentials(spec["user"], spec["password"])
        self.db = Database(self.config, self.credentials)
        self.heard: list[int] = []
        self.listener = Listener(self.config, self.credentials, on_change=self._heard)
        self.rng = random.Random(spec["seed"])
        self.times: dict[str, list[tuple[float, float, float]]] = {}
        self.errors: dict[str, int] = {}
        self.error_examples: list[str] = []
        self.saved: list[int] = []
        self.zone = dt.datetime.now().astimezone().tzinfo or dt.UTC

    def _heard(self, payload: dict[str, Any]) -> None:
        if payload.get("table") == "assessment" and payload.get("op") == "INSERT":
            self.heard.append(int(payload["key"]))

    def timed(self, op: str, fn: Callable[[], Any]) -> Any:
        cpu0, queued0, t0 = time.thread_time(), _queued_ns(), time.perf_counter()
        try:
            return fn()
        except Exception as exc:  # counted and reported: the run goes on
            self.errors[op] = self.errors.get(op, 0) + 1
            if len(self.error_examples) < 5:
                self.error_examples.append(f"{op}: {type(exc).__name__}: {exc}"[:300])
            return None
        finally:
            wall = (time.perf_counter() - t0) * 1000
            cpu = (time.thread_time() - cpu0) * 1000
            queued = (_queued_ns() - queued0) / 1e6
            self.times.setdefault(op, []).append((wall, cpu, queued))

    def pause(self, seconds: float) -> None:
        if self.spec["pace"] == "clinic":
            time.sleep(seconds)

    # ----------------------------------------------------------------- the day

    def day_list(self) -> None:
        def load() -> Any:
            with self.db.session() as s:
                return appointments.day_list(s, dt.date.today(), self.zone)

        self.timed("day list", load)

    def search(self, patient: dict[str, Any]) -> None:
        names = list(CATEGORY_WEIGHTS)
        category = self.rng.choices(names, weights=[CATEGORY_WEIGHTS[n] for n in names])[0]
        for i, typed in enumerate(keystrokes(patient, category)):
            if i:
                self.pause(KEYSTROKE_PAUSE_S)

            def find(q: str = typed) -> Any:
                with self.db.session() as s:
                    return patients.search(s, q)

            self.timed("search", find)

    def open_chart(self, patient_id: int) -> None:
        def load() -> Any:
            with self.db.session() as s:
                return chart.load_chart_with_details(s, patient_id)

        self.timed("chart", load)
        self.pause(AFTER_CHART_S)

    def save_followup(self, patient_id: int) -> None:
        data = chart.AssessmentInput(
            patient_id,
            dt.date.today(),
            kind="followup",
            who_fc=self.rng.choice((1, 2, 3)),
            heart_rate_bpm=Decimal(self.rng.randrange(55, 110)),
            bnp_pg_ml=Decimal(self.rng.randrange(20, 900)),
        )

        def save() -> Any:
            with self.db.session() as s:
                return chart.create_assessment(s, data)

        record = self.timed("save", save)
        if record is not None:
            self.saved.append(int(record.id))
        self.pause(AFTER_SAVE_S)

    def warm(self) -> None:
        """Connect and touch each statement once (a workstation logged in earlier)."""
        with self.db.session() as s:
            patients.search(s, "a")
            chart.load_chart_with_details(s, int(self.spec["patients"][0]["id"]))
            appointments.day_list(s, dt.date.today(), self.zone)

    def run(self, until: float) -> None:
        people = self.spec["patients"]
        while time.monotonic() < until:
            self.day_list()
            patient = self.rng.choice(people)
            self.search(patient)
            if time.monotonic() >= until:
                break
            self.open_chart(int(patient["id"]))
            if time.monotonic() < until and self.rng.random() < SAVE_SHARE:
                self.save_followup(int(patient["id"]))

    def report(self) -> dict[str, Any]:
        return {
            "user": self.spec["user"],
            "times": self.times,
            "errors": self.errors,
            "error_examples": self.error_examples,
            "saved": self.saved,
            "heard": self.heard,
        }


def main(spec: dict[str, Any], news: Any, go: Any, stop: Any, results: Any) -> None:
    """The process's entry (multiprocessing, spawn). It says ("ready", user) when
    logged in and listening, runs when ``go`` is set, says ("done", user), keeps
    listening until ``stop`` is set (every workstation done: no save left to hear),
    then puts its report in ``results``."""
    ws: Workstation | None = None
    said = "new"
    try:
        ws = Workstation(spec)
        ws.listener.start()
        if not ws.listener.connected.wait(60):
            raise RuntimeError("live updates did not connect")
        ws.warm()
        news.put(("ready", spec["user"]))
        said = "ready"
        if not go.wait(900):
            raise RuntimeError("no start signal")
        ws.run(time.monotonic() + spec["seconds"])
        news.put(("done", spec["user"]))
        said = "done"
        stop.wait(300)
        results.put(ws.report())
    except Exception as exc:
        if said == "new":
            news.put(("ready", spec["user"]))
        if said != "done":
            news.put(("done", spec["user"]))
        results.put(
            {"user": spec["user"], "failed": f"{type(exc).__name__}: {exc}"[:500]}
            | ({} if ws is None else ws.report())
        )
    finally:
        if ws is not None:
            ws.listener.stop()
            ws.db.close()
