"""The client's log lives in memory only (the last lines, for Report a problem).

Nothing is written to the workstation's disk. Log records must never carry
patient data; the error classifier already strips server DETAIL lines.
"""

from __future__ import annotations

import collections
import logging

_LINES = 500


class MemoryLog(logging.Handler):
    def __init__(self, capacity: int = _LINES) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def tail(self) -> str:
        return "\n".join(self.lines)


MEMORY_LOG = MemoryLog()


def install() -> MemoryLog:
    root = logging.getLogger()
    if MEMORY_LOG not in root.handlers:
        root.addHandler(MEMORY_LOG)
        root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return MEMORY_LOG
