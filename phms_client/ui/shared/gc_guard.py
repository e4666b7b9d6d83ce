"""Python's cyclic garbage collector runs on the GUI thread only.

Automatic collection starts in whichever thread happens to allocate past the
threshold. When that is a task runner's worker, the collector may free widgets
that were left in reference cycles (a closure holding its window) and so delete
Qt objects off the GUI thread, which crashes Qt without a Python traceback.
:class:`GuiThreadCollector` switches automatic collection off and collects from a
timer on the GUI thread instead, with the collector's own thresholds (Anki's
desktop client does the same). Reference counting still frees everything that
is not in a cycle at once; only cycles wait for the next tick.
"""

from __future__ import annotations

import gc
from typing import Final

from PySide6.QtCore import QObject, QTimer

__all__ = ["INTERVAL_MS", "GuiThreadCollector", "collect_due"]

#: How often the GUI thread looks whether a collection is due.
INTERVAL_MS: Final = 1_000


def collect_due() -> int | None:
    """Collect the oldest generation whose threshold is passed; return it (or None)."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    due = None
    for generation in range(3):
        limit = thresholds[generation]
        if limit <= 0 or counts[generation] <= limit:
            break
        due = generation
    if due is not None:
        gc.collect(due)
    return due


class GuiThreadCollector(QObject):
    """Owns the collector while it lives: automatic collection off, a timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(collect_due)
        self._timer.start()

    def stop(self) -> None:
        """Give collection back to Python (as it was before), after one full collection."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
