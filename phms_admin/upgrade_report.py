"""What ``phms-admin db upgrade`` reports: each migration's time, and the row checks.

:class:`StepClock` is handed to alembic through :func:`phms_admin.migrate.upgrade`;
``migrations/env.py`` starts it once the migration lock is held and alembic calls it
after each migration, so each migration's time is the time between two calls (all
of them run in one transaction: the time to commit is shown on its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    revision: str
    description: str
    seconds: float


@dataclass
class StepClock:
    clock: Callable[[], float] = time.monotonic
    steps: list[Step] = field(default_factory=list)
    _last: float | None = None

    def start(self) -> None:
        self._last = self.clock()

    def __call__(self, *, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        now = self.clock()
        since = self._last if self._last is not None else now
        revision = step.up_revision
        doc = (getattr(revision, "doc", "") or "").strip().splitlines()
        self.steps.append(Step(str(step.up_revision_id), doc[0] if doc else "", now - since))
        self._last = now

    @property
    def finished_at(self) -> float | None:
        return self._last


def seconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def migrations_table(steps: list[Step], total: float, commit: float | None) -> list[str]:
    """One line per migration with its time, then the commit and the whole run."""
    rows = [(s.revision, _short(s.description), seconds(s.seconds)) for s in steps]
    if commit is not None:
        rows.append(("", "commit (all migrations are one transaction)", seconds(commit)))
    rows.append(("", "total, with connecting and waiting for the lock", seconds(total)))
    return _table(("REVISION", "MIGRATION", "TIME"), rows, {2})


def row_checks_table(
    before: dict[str, int], after: dict[str, int], lost: set[str], may_shrink: frozenset[str]
) -> list[str]:
    """Every table's rows before and after; lost rows are marked."""
    rows = []
    for table in sorted({*before, *after}):
        b, a = before.get(table), after.get(table)
        if table in lost:
            note = "LOST ROWS" if a is not None else "TABLE GONE"
        elif b is None:
            note = "new table"
        elif a is None:
            note = "dropped"
        elif a < b and table in may_shrink:
            note = "fewer (allowed: recounted)"
        elif a != b:
            note = f"{a - b:+d}"
        else:
            note = "same"
        rows.append((table, "-" if b is None else str(b), "-" if a is None else str(a), note))
    return _table(("TABLE", "BEFORE", "AFTER", "CHECK"), rows, {1, 2})


def report(
    say: Callable[[str], None],
    clock: StepClock,
    total: float,
    ended_at: float,
    before: dict[str, int],
    after: dict[str, int],
    lost: list[str],
    may_shrink: frozenset[str],
) -> None:
    """Print the migrations' times and the row checks, as two readable tables."""
    commit = None if clock.finished_at is None else ended_at - clock.finished_at
    say(f"Migrations applied ({len(clock.steps)}):")
    for line in migrations_table(clock.steps, total, commit):
        say(f"  {line}")
    lost_tables = {entry.split(":", 1)[0] for entry in lost}
    say(f"Row checks ({len(before)} tables before, {len(after)} after):")
    for line in row_checks_table(before, after, lost_tables, may_shrink):
        say(f"  {line}")
