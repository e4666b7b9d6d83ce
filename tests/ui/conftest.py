from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator

import pytest

# Must be set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _collect_on_gui_thread() -> Iterator[None]:
    """As in the client (``ui/shared/gc_guard.py``): no automatic collection while a
    UI test runs, so that the collector never frees a widget in a task runner's
    worker thread; the cycles a test leaves are freed here, on the GUI thread."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # A psycopg connection that a simulated outage left in a cycle warns as it is
        # freed here, at a place no longer chosen by chance; it belongs to the test
        # that ended, which has already said what it checks.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        if was_enabled:
            gc.enable()
