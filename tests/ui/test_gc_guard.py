"""Cycles are freed on the GUI thread by the client's timer, never by automatic collection."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from phms_client.ui.shared.gc_guard import GuiThreadCollector, collect_due


class _Holder:
    def __init__(self) -> None:
        self.widget = QWidget()
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_collector_frees_a_cycle_on_the_gui_thread(qtbot: QtBot) -> None:
    freed_in: list[str] = []
    old = gc.get_threshold()
    collector = GuiThreadCollector(QApplication.instance(), interval_ms=20)
    try:
        assert not gc.isenabled()
        holder = _Holder()
        ref = weakref.ref(holder)
        weakref.finalize(holder, lambda: freed_in.append(threading.current_thread().name))
        del holder
        gc.set_threshold(1, 1, 1)  # due at once
        qtbot.waitUntil(lambda: ref() is None, timeout=5_000)
        assert freed_in == [threading.main_thread().name]
    finally:
        gc.set_threshold(*old)
        collector.stop()
        collector.deleteLater()


def test_stop_gives_collection_back_as_it_was(qtbot: QtBot) -> None:
    gc.enable()
    collector = GuiThreadCollector()
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled()
    gc.disable()  # as the UI tests' own fixture keeps it


def test_nothing_is_collected_below_the_thresholds() -> None:
    gc.collect()
    old = gc.get_threshold()
    try:
        gc.set_threshold(10**6, 10, 10)
        assert collect_due() is None
        gc.set_threshold(1, 10**6, 10)
        _ = [[] for _ in range(10)]
        assert collect_due() == 0
    finally:
        gc.set_threshold(*old)
