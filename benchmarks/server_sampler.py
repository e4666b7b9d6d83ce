"""Sampling the server while workstations work: wait events and CPU.

:class:`Sampler` reads ``pg_stat_activity`` every quarter second (the wait events
of the workstations' active backends) and, at the start and the end, the CPU time
of the server's processes, of the workstations' and of the whole machine, and how
long each waited for a CPU (``/proc``, Linux).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.figures import Target

CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime + stime in ticks) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _queued_ns(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of every CPU since boot."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _server_pids(postmaster: int) -> list[int]:
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st is not None and st[0] == postmaster:
                pids.append(int(entry))
    return pids


class Sampler:
    """Samples the workstations' backends and CPU use while the workstations run."""

    def __init__(self, target: Target, worker_pids: list[int], interval: float = 0.25) -> None:
        self.engine = sa.create_engine(
            target.admin_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
        )
        self.worker_pids = worker_pids
        self.interval = interval
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self.active_max = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        with self.engine.connect() as conn:
            checkpointer = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
            ).scalar_one()
        st = _proc_stat(int(checkpointer))
        self.postmaster = st[0] if st else 0

    def _cpu(self) -> dict[str, float]:
        server_pids = _server_pids(self.postmaster) if self.postmaster else []

        def ticks(pids: list[int]) -> int:
            return sum((_proc_stat(p) or (0, 0))[1] for p in pids)

        busy, total = _machine_ticks()
        return {
            "wall": time.perf_counter(),
            "server": ticks(server_pids) / CLK,
            "workstations": ticks(self.worker_pids) / CLK,
            "server_queued": sum(_queued_ns(p) for p in server_pids) / 1e9,
            "workstations_queued": sum(_queued_ns(p) for p in self.worker_pids) / 1e9,
            "machine_busy": busy / CLK,
            "machine_total": total / CLK,
        }

    def start(self) -> None:
        self._before = self._cpu()
        self._thread.start()

    def _run(self) -> None:
        sql = sa.text(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w"
            " FROM pg_stat_activity WHERE usename LIKE 'bench_ws_%' AND state = 'active'"
            " AND backend_type = 'client backend'"
        )
        with self.engine.connect() as conn:
            while not self._stop.wait(self.interval):
                rows = conn.execute(sql).scalars().all()
                self.samples += 1
                self.active_max = max(self.active_max, len(rows))
                self.waits.update(rows)

    def stop(self) -> dict[str, Any]:
        after = self._cpu()
        self._stop.set()
        self._thread.join(10)
        self.engine.dispose()
        b, a = self._before, after
        wall = a["wall"] - b["wall"]
        cores = os.cpu_count() or 1
        busy = a["machine_busy"] - b["machine_busy"]
        server_cpu = a["server"] - b["server"]
        ws_cpu = a["workstations"] - b["workstations"]
        return {
            "seconds": wall,
            "cores": cores,
            "machine_busy_pct": 100 * busy / max(1e-9, a["machine_total"] - b["machine_total"]),
            "server_cpu_s": server_cpu,
            "workstations_cpu_s": ws_cpu,
            "other_cpu_s": max(0.0, busy - server_cpu - ws_cpu),
            "server_queued_s": a["server_queued"] - b["server_queued"],
            "workstations_queued_s": a["workstations_queued"] - b["workstations_queued"],
            "samples": self.samples,
            "active_mean": sum(self.waits.values()) / max(1, self.samples),
            "active_max": self.active_max,
            "waits": dict(self.waits.most_common(8)),
        }
