"""Live updates on the GUI thread: row changes, broadcasts, settings."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from phms_client.config import ClientConfig
from phms_client.db.database import Credentials
from phms_client.db.notify import Listener


class LiveUpdates(QObject):
    """Bridges the listener thread's callbacks to Qt signals (queued to the GUI thread).

    ``changed`` carries the NOTIFY payload: ``{"table": ..., "op": ..., "key": ...}``.
    """

    changed = Signal(dict)
    broadcast = Signal(str)
    listening = Signal(bool)

    def __init__(
        self, config: ClientConfig, credentials: Credentials, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._listener = Listener(
            config,
            credentials,
            on_change=self._emit_change,
            on_broadcast=self.broadcast.emit,
            on_state=self.listening.emit,
        )

    def _emit_change(self, payload: dict[str, Any]) -> None:
        self.changed.emit(payload)

    def start(self) -> None:
        self._listener.start()

    def set_password(self, password: str) -> None:
        self._listener.set_password(password)

    def stop(self) -> None:
        self._listener.stop()

    def is_listening(self) -> bool:
        return self._listener.connected.is_set()
