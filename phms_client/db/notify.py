"""LISTEN/NOTIFY: a background thread that hears about changes (no Qt).

It has its own connection (as the logged-in staff member), reconnects with
backoff when the server goes away, and re-subscribes after every reconnect.
Callbacks run on the listener thread; the UI bridges them to the GUI thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from phms_client.config import ClientConfig
from phms_client.db.database import Credentials
from phms_schema.roles import BROADCAST_CHANNEL, CHANGE_CHANNEL

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)


class Listener:
    def __init__(
        self,
        config: ClientConfig,
        credentials: Credentials,
        *,
        on_change: Callable[[dict[str, Any]], None],
        on_broadcast: Callable[[str], None] = lambda message: None,
        on_state: Callable[[bool], None] = lambda connected: None,
        channels: Sequence[str] = (CHANGE_CHANNEL, BROADCAST_CHANNEL),
    ) -> None:
        self._conninfo = config.conninfo_kwargs(credentials.user, credentials.password)
        self._conninfo["application_name"] = "phms-client-listener"
        self._on_change = on_change
        self._on_broadcast = on_broadcast
        self._on_state = on_state
        self._channels = tuple(channels)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="phms-listener", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def set_password(self, password: str) -> None:
        """The next (re)connection uses ``password``."""
        self._conninfo = {**self._conninfo, "password": password}

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(**self._conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
                    # One message for every channel: one round trip (no parameters, so
                    # psycopg sends it as a simple query, which may hold several).
                    conn.execute("; ".join(f"LISTEN {channel}" for channel in self._channels))
                    attempt = 0
                    self.connected.set()
                    self._on_state(True)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._dispatch(note.channel, note.payload)
            except psycopg.Error as exc:
                log.info("listener connection lost: %s", type(exc).__name__)
            if self.connected.is_set():
                self.connected.clear()
                if not self._stop.is_set():
                    self._on_state(False)
            delay = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            attempt += 1
            self._stop.wait(delay)

    def _dispatch(self, channel: str, payload: str) -> None:
        try:
            if channel == BROADCAST_CHANNEL:
                self._on_broadcast(payload)
            else:
                self._on_change(json.loads(payload))
        except Exception:  # a bad callback must not kill the listener
            log.exception("notification handler failed")
