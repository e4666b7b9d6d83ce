"""The one task runner: database work off the GUI thread, results back on it.

Style anchor: Anki's ``aqt/taskman.py``. ``TaskRunner.run(fn, on_success=...)`` runs
``fn()`` on a worker thread of the runner's own ``QThreadPool`` and delivers the result
(or the exception) to the GUI thread through a queued signal. Errors without an
``on_error`` go to the *presenter* (by default a message box with the classified
:class:`~phms_client.db.errors.UserError`).

``key`` makes search-as-you-type cheap: a newer task with the same key supersedes the
older one, whose result is dropped (and whose ``fn`` is skipped if it has not started).

``busy_changed(True)`` is emitted only once some awaited task has been running for
longer than :data:`BUSY_DELAY_MS`; ``busy_changed(False)`` when none is left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from phms_client.db.errors import ErrorKind, UserError, classify

__all__ = ["BUSY_DELAY_MS", "ErrorPresenter", "TaskRunner", "message_box_presenter"]

log = logging.getLogger(__name__)

BUSY_DELAY_MS: Final = 300

T = TypeVar("T")
ErrorPresenter = Callable[[UserError], None]


def message_box_presenter(error: UserError) -> None:
    """Default presenter: a modal message box over the active window."""
    box = QMessageBox(QApplication.activeWindow())
    box.setIcon(
        QMessageBox.Icon.Critical if error.kind is ErrorKind.UNKNOWN else QMessageBox.Icon.Warning
    )
    box.setWindowTitle(f"PHMS — {error.title}")
    box.setText(error.title)
    box.setInformativeText(error.message)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()


@dataclass(eq=False)
class _Task:
    id: int
    key: Hashable | None
    on_success: Callable[[Any], object]
    on_error: Callable[[BaseException], object] | None
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)


class _Job(QRunnable):
    """Runs one ``fn`` on a pool thread and reports back through ``deliver``."""

    def __init__(
        self,
        task_id: int,
        fn: Callable[[], object],
        cancelled: threading.Event,
        deliver: Callable[[int, bool, object], None],
    ) -> None:
        super().__init__()
        self._task_id = task_id
        self._fn = fn
        self._cancelled = cancelled
        self._deliver = deliver

    def run(self) -> None:
        if self._cancelled.is_set():
            ok, payload = False, None  # superseded before it started; result is dropped
        else:
            try:
                ok, payload = True, self._fn()
            except BaseException as exc:  # everything goes back to the GUI thread
                ok, payload = False, exc
        try:
            self._deliver(self._task_id, ok, payload)
        except RuntimeError:  # the runner was destroyed without shutdown()
            log.debug("task %d finished after its runner was deleted", self._task_id)
        finally:
            self._fn = _nothing  # drop references held by the closure early


def _nothing() -> None:
    return None


class TaskRunner(QObject):
    """Runs callables off the GUI thread; one instance per application."""

    busy_changed = Signal(bool)
    _finished = Signal(int, bool, object)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        presenter: ErrorPresenter | None = None,
        address: Callable[[], str] | None = None,
        max_threads: int | None = None,
    ) -> None:
        """``address`` returns the server address named in "unreachable" messages."""
        super().__init__(parent)
        self._presenter: ErrorPresenter = presenter or message_box_presenter
        self._address = address or (lambda: "")
        self._pool = QThreadPool(self)
        if max_threads is not None:
            self._pool.setMaxThreadCount(max_threads)
        self._next_id = 0
        self._active: dict[int, _Task] = {}
        self._latest_by_key: dict[Hashable, int] = {}
        self._busy = False
        self._closed = False
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.timeout.connect(self._check_busy)
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    # ----------------------------------------------------------------- public

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def closed(self) -> bool:
        """True once shut down: ``run`` refuses new work."""
        return self._closed

    @property
    def pending(self) -> int:
        """Number of tasks whose result is still awaited (superseded ones excluded)."""
        return len(self._active)

    def set_presenter(self, presenter: ErrorPresenter) -> None:
        self._presenter = presenter

    def run(
        self,
        fn: Callable[[], T],
        *,
        on_success: Callable[[T], object],
        on_error: Callable[[BaseException], object] | None = None,
        key: Hashable | None = None,
    ) -> int:
        """Run ``fn()`` on a worker thread; call back on the GUI thread. Returns a task id."""
        if self._closed:
            raise RuntimeError("TaskRunner has been shut down")
        self._next_id += 1
        task = _Task(self._next_id, key, on_success, on_error)
        if key is not None:
            self._supersede(key)  # no idle update: the busy indicator must not flicker
            self._latest_by_key[key] = task.id
        self._active[task.id] = task
        self._pool.start(_Job(task.id, fn, task.cancelled, self._finished.emit))
        if not self._busy and not self._busy_timer.isActive():
            self._busy_timer.start(BUSY_DELAY_MS)
        return task.id

    def cancel(self, key: Hashable) -> None:
        """Drop the result of the pending task with ``key`` (a running ``fn`` finishes)."""
        self._supersede(key)
        self._update_idle()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Refuse new tasks, drop queued ones and wait for running ones to finish."""
        self._closed = True
        for task in self._active.values():
            task.cancelled.set()
        self._active.clear()
        self._latest_by_key.clear()
        self._pool.clear()
        done = self._pool.waitForDone(timeout_ms)
        if not done:
            log.warning("TaskRunner.shutdown: tasks still running after %d ms", timeout_ms)
        self._busy_timer.stop()
        self._set_busy(False)
        return done

    # ----------------------------------------------------------------- internals

    def _supersede(self, key: Hashable) -> None:
        old_id = self._latest_by_key.pop(key, None)
        old = self._active.pop(old_id, None) if old_id is not None else None
        if old is not None:
            old.cancelled.set()

    @Slot(int, bool, object)
    def _on_finished(self, task_id: int, ok: bool, payload: object) -> None:
        task = self._active.pop(task_id, None)
        if task is None:
            return  # superseded, cancelled or shut down: drop the result
        if task.key is not None and self._latest_by_key.get(task.key) == task.id:
            del self._latest_by_key[task.key]
        self._update_idle()
        if ok:
            try:
                task.on_success(payload)
            except Exception as exc:  # a bug in the callback: show it, do not crash Qt
                log.exception("on_success callback of task %d failed", task_id)
                self._present(exc)
            return
        assert isinstance(payload, BaseException)
        if task.on_error is not None:
            try:
                task.on_error(payload)
            except Exception as exc:
                log.exception("on_error callback of task %d failed", task_id)
                self._present(exc)
        else:
            self._present(payload)

    def _present(self, exc: BaseException) -> None:
        error = classify(exc, address=self._address())
        if error.kind is ErrorKind.UNKNOWN:
            log.error("task failed: %s", error.detail, exc_info=exc)
        else:
            log.warning("task failed (%s): %s", error.kind.value, error.detail)
        self._presenter(error)

    def _check_busy(self) -> None:
        if not self._active or self._busy:
            return
        oldest = min(task.started for task in self._active.values())
        remaining_ms = BUSY_DELAY_MS - int((time.monotonic() - oldest) * 1000)
        if remaining_ms <= 0:
            self._set_busy(True)
        else:
            self._busy_timer.start(remaining_ms)

    def _update_idle(self) -> None:
        if not self._active:
            self._busy_timer.stop()
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
