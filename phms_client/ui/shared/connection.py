"""Connection state: lost when work fails for network reasons; back after a reconnect.

While offline, windows disable editing (unsaved form contents stay in memory).
Reconnecting re-runs the schema gate, with growing pauses between attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from phms_client.db.database import Database
from phms_client.db.errors import ErrorKind, UserError, classify
from phms_client.db.login import LoginInfo, open_session
from phms_client.ui.shared.tasks import TaskRunner

log = logging.getLogger(__name__)

RETRY_MS = (1000, 2000, 4000, 8000, 15000)
NETWORK_KINDS = frozenset({ErrorKind.CONNECTION_LOST, ErrorKind.UNREACHABLE})


class ConnectionMonitor(QObject):
    online_changed = Signal(bool)
    reconnected = Signal(object)  # LoginInfo, fresh from the server (settings included)
    retry_scheduled = Signal(int)  # milliseconds until the next reconnect attempt
    reconnecting = Signal()  # an attempt has started
    reconnect_failed = Signal(object)  # UserError: why the last attempt failed

    def __init__(
        self,
        db: Database,
        tasks: TaskRunner,
        parent: QObject | None = None,
        *,
        retry_ms: Sequence[int] = RETRY_MS,
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._tasks = tasks
        self._retry_ms = tuple(retry_ms)
        self._online = True
        self._stopped = False
        self._attempt = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._try_reconnect)

    @property
    def online(self) -> bool:
        return self._online

    def handle_error(self, exc: BaseException) -> bool:
        """Call with a task's error; True when it was a lost connection (now handled)."""
        return self.handle_user_error(classify(exc, address=self._db.address))

    def handle_user_error(self, error: UserError) -> bool:
        """Like :meth:`handle_error` for an already classified error (a task presenter)."""
        if error.kind not in NETWORK_KINDS:
            return False
        self.connection_lost()
        return True

    def connection_lost(self) -> None:
        if not self._online or self._stopped:
            return
        log.warning("connection to the server lost")
        self._online = False
        self._attempt = 0
        self.online_changed.emit(False)
        self._schedule()

    def retry_now(self) -> None:
        if not self._online and not self._stopped:
            self._timer.stop()
            self._try_reconnect()

    def stop(self) -> None:
        """No more reconnect attempts (the session is ending)."""
        self._stopped = True
        self._timer.stop()

    def _schedule(self) -> None:
        delay = self._retry_ms[min(self._attempt, len(self._retry_ms) - 1)]
        self._timer.start(delay)
        self._attempt += 1
        self.retry_scheduled.emit(delay)

    def _try_reconnect(self) -> None:
        self.reconnecting.emit()

        def attempt() -> LoginInfo:
            self._db.reset()
            return open_session(self._db)

        self._tasks.run(
            attempt, on_success=self._back, on_error=self._still_away, key=("reconnect", id(self))
        )

    def _back(self, info: LoginInfo) -> None:
        log.info("reconnected to the server")
        self._online = True
        self.online_changed.emit(True)
        self.reconnected.emit(info)

    def _still_away(self, exc: BaseException) -> None:
        error = classify(exc, address=self._db.address)
        log.info("reconnect failed: %s", error.kind.name)
        self.reconnect_failed.emit(error)
        if not self._stopped:
            self._schedule()
