"""Connection state: lost when work fails for network reasons; back after a reconnect.

While offline, windows disable editing (unsaved form contents stay in memory).
Reconnecting re-runs the schema gate, with growing pauses between attempts.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from phms_client.db.database import Database
from phms_client.db.errors import ErrorKind, classify
from phms_client.db.login import LoginInfo, open_session
from phms_client.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

RETRY_MS = (1000, 2000, 4000, 8000, 15000)
NETWORK_KINDS = frozenset({ErrorKind.CONNECTION_LOST, ErrorKind.UNREACHABLE})


class ConnectionMonitor(QObject):
    online_changed = Signal(bool)
    reconnected = Signal(object)  # LoginInfo, fresh from the server (settings included)

    def __init__(self, db: Database, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._tasks = tasks
        self._online = True
        self._attempt = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._try_reconnect)

    @property
    def online(self) -> bool:
        return self._online

    def handle_error(self, exc: BaseException) -> bool:
        """Call with a task's error; True when it was a lost connection (now handled)."""
        if classify(exc, address=self._db.address).kind not in NETWORK_KINDS:
            return False
        self.connection_lost()
        return True

    def connection_lost(self) -> None:
        if not self._online:
            return
        log.warning("connection to the server lost")
        self._online = False
        self._attempt = 0
        self.online_changed.emit(False)
        self._schedule()

    def retry_now(self) -> None:
        if not self._online:
            self._timer.stop()
            self._try_reconnect()

    def _schedule(self) -> None:
        self._timer.start(RETRY_MS[min(self._attempt, len(RETRY_MS) - 1)])
        self._attempt += 1

    def _try_reconnect(self) -> None:
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
        kind = classify(exc, address=self._db.address).kind
        log.info("reconnect failed: %s", kind.name)
        self._schedule()
