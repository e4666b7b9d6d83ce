from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import psycopg.errors as pge
import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from phms_client.db.errors import ErrorKind, UserError
from phms_client.ui.shared.tasks import BUSY_DELAY_MS, TaskRunner, message_box_presenter


@pytest.fixture
def presented() -> list[UserError]:
    return []


@pytest.fixture
def runner(qtbot: QtBot, presented: list[UserError]) -> Iterator[TaskRunner]:
    r = TaskRunner(presenter=presented.append, address=lambda: "db.test:5432")
    yield r
    assert r.shutdown(10_000)


@pytest.fixture
def serial_runner(qtbot: QtBot, presented: list[UserError]) -> Iterator[TaskRunner]:
    """One worker thread, so tasks run (and report) strictly in order."""
    r = TaskRunner(presenter=presented.append, max_threads=1)
    yield r
    assert r.shutdown(10_000)


def test_success_is_delivered_on_gui_thread(runner: TaskRunner, qtbot: QtBot) -> None:
    gui = QApplication.instance()
    assert gui is not None
    seen: list[tuple[int, bool]] = []

    def on_success(worker_ident: int) -> None:
        seen.append((worker_ident, QThread.currentThread() == gui.thread()))

    runner.run(threading.get_ident, on_success=on_success)
    qtbot.waitUntil(lambda: bool(seen))
    worker_ident, on_gui_thread = seen[0]
    assert on_gui_thread
    assert worker_ident != threading.get_ident()  # fn really ran elsewhere
    assert runner.pending == 0


def test_error_is_delivered_and_classifiable(
    runner: TaskRunner, qtbot: QtBot, presented: list[UserError]
) -> None:
    gui = QApplication.instance()
    assert gui is not None
    errors: list[tuple[BaseException, bool]] = []

    def fail() -> None:
        raise pge.CheckViolation('new row violates check constraint "ck_weight_positive"')

    def on_error(exc: BaseException) -> None:
        errors.append((exc, QThread.currentThread() == gui.thread()))

    runner.run(fail, on_success=lambda _: pytest.fail("no success expected"), on_error=on_error)
    qtbot.waitUntil(lambda: bool(errors))
    exc, on_gui_thread = errors[0]
    assert isinstance(exc, pge.CheckViolation)
    assert on_gui_thread
    assert presented == []  # on_error given: the default presenter stays quiet


def test_default_presenter_gets_classified_error(
    runner: TaskRunner, qtbot: QtBot, presented: list[UserError]
) -> None:
    def forbidden() -> None:
        raise pge.InsufficientPrivilege("permission denied for table setting")

    runner.run(forbidden, on_success=lambda _: None)
    qtbot.waitUntil(lambda: bool(presented))
    assert presented[0].kind is ErrorKind.PERMISSION_DENIED
    assert "administrator" in presented[0].message


def test_default_presenter_real_unreachable_names_address(
    runner: TaskRunner, qtbot: QtBot, presented: list[UserError]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def connect() -> None:
        psycopg.connect(host="127.0.0.1", port=port, dbname="phms", connect_timeout=2).close()

    runner.run(connect, on_success=lambda _: None)
    qtbot.waitUntil(lambda: bool(presented), timeout=10_000)
    assert presented[0].kind is ErrorKind.UNREACHABLE
    assert "db.test:5432" in presented[0].message


def test_failing_callback_goes_to_presenter(
    runner: TaskRunner, qtbot: QtBot, presented: list[UserError]
) -> None:
    def broken_callback(value: int) -> None:
        raise ZeroDivisionError(value)

    runner.run(lambda: 1, on_success=broken_callback)
    qtbot.waitUntil(lambda: bool(presented))
    assert presented[0].kind is ErrorKind.UNKNOWN
    assert "ZeroDivisionError" in presented[0].detail


def test_stale_keyed_result_is_dropped(serial_runner: TaskRunner, qtbot: QtBot) -> None:
    started = threading.Event()
    release = threading.Event()
    results: list[str] = []

    def slow_old_search() -> str:
        started.set()
        release.wait(10)
        return "old"

    serial_runner.run(slow_old_search, on_success=results.append, key="search")
    assert started.wait(10)
    serial_runner.run(lambda: "new", on_success=results.append, key="search")
    assert serial_runner.pending == 1  # the old one is no longer awaited
    release.set()
    # One worker thread: "old" reports before "new", so once "new" is here,
    # "old" has been delivered (and dropped) already.
    qtbot.waitUntil(lambda: bool(results))
    assert results == ["new"]


def test_superseded_task_that_has_not_started_is_skipped(
    serial_runner: TaskRunner, qtbot: QtBot
) -> None:
    release = threading.Event()
    ran: list[str] = []
    results: list[str] = []

    def blocker() -> str:
        release.wait(10)
        return "blocker"

    def search(term: str) -> str:
        ran.append(term)
        return term

    serial_runner.run(blocker, on_success=results.append)
    serial_runner.run(lambda: search("a"), on_success=results.append, key="search")
    serial_runner.run(lambda: search("ab"), on_success=results.append, key="search")
    release.set()
    qtbot.waitUntil(lambda: len(results) == 2)
    assert results == ["blocker", "ab"]
    assert ran == ["ab"]  # the stale query never hit the database


def test_cancel_drops_result(serial_runner: TaskRunner, qtbot: QtBot) -> None:
    release = threading.Event()
    results: list[str] = []

    def slow() -> str:
        release.wait(10)
        return "cancelled"

    serial_runner.run(slow, on_success=results.append, key="k")
    serial_runner.cancel("k")
    assert serial_runner.pending == 0
    serial_runner.run(lambda: "after", on_success=results.append)
    release.set()
    qtbot.waitUntil(lambda: bool(results))
    assert results == ["after"]


def test_busy_only_after_delay(runner: TaskRunner, qtbot: QtBot) -> None:
    release = threading.Event()
    busy_at: list[tuple[bool, float]] = []
    runner.busy_changed.connect(lambda b: busy_at.append((b, time.monotonic())))
    done: list[str] = []

    started = time.monotonic()
    runner.run(lambda: release.wait(10), on_success=lambda _: done.append("x"))
    with qtbot.waitSignal(runner.busy_changed, timeout=5_000) as blocker:
        pass
    assert blocker.args == [True]
    assert runner.busy
    assert busy_at[0][1] - started >= (BUSY_DELAY_MS - 5) / 1000
    with qtbot.waitSignal(runner.busy_changed, timeout=5_000) as blocker:
        release.set()
    assert blocker.args == [False]
    assert done == ["x"]
    assert [b for b, _ in busy_at] == [True, False]


def test_no_busy_signal_for_fast_task(runner: TaskRunner, qtbot: QtBot) -> None:
    emitted: list[bool] = []
    runner.busy_changed.connect(emitted.append)
    done: list[int] = []
    runner.run(lambda: 42, on_success=done.append)
    qtbot.waitUntil(lambda: bool(done))
    qtbot.wait(BUSY_DELAY_MS + 150)
    assert done == [42]
    assert emitted == []
    assert not runner.busy


def test_run_after_shutdown_is_refused(qtbot: QtBot) -> None:
    r = TaskRunner(presenter=lambda _: None)
    assert r.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        r.run(lambda: 1, on_success=lambda _: None)


# The offscreen platform plugin warns when any top-level window is shown; harmless.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_message_box_presenter_shows_title_and_message(qtbot: QtBot) -> None:
    shown: list[tuple[str, str, QMessageBox.Icon]] = []

    def close_box() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, close_box)
            return
        shown.append((box.text(), box.informativeText(), box.icon()))
        box.accept()

    QTimer.singleShot(0, close_box)
    message_box_presenter(
        UserError(ErrorKind.UNREACHABLE, "Cannot reach the server", "Check the cable.", "d")
    )
    assert shown == [("Cannot reach the server", "Check the cable.", QMessageBox.Icon.Warning)]
