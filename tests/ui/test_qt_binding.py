"""Guards against known-bad Qt binding releases (a crash here is not our code's fault)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ping = Signal(int)


def test_signal_emit_keeps_reference_counts() -> None:
    """PySide6 6.12.0 returned a borrowed ``True`` from ``SignalInstance.emit()``: every
    emit dropped a reference, and on Python 3.11 (bools are not immortal) the process
    died with "bool_dealloc" after a few thousand signals — a running client included."""
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(200):
        emitter.ping.emit(1)
    assert sys.getrefcount(True) - before > -100
