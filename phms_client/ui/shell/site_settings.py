"""Site settings follow the database live: reload on NOTIFY, tell the windows.

Every change of a ``phms.setting`` row sends a notification (table ``"setting"``).
:class:`SiteSettingsWatch` hears it through :class:`~phms_client.ui.shared.live.LiveUpdates`,
reloads the settings on the task runner, replaces ``ctx.login`` with a copy holding
the new ones, and emits :attr:`SiteSettingsWatch.settings_changed`. The shell applies
the idle lock from it and passes it to the main window (``apply_settings``), so the
patient ID format and the idle time change without logging in again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

from phms_client.db.site_settings import SiteSettings, load_settings
from phms_client.ui.shared.context import AppContext

__all__ = ["SiteSettingsWatch"]

log = logging.getLogger(__name__)


class SiteSettingsWatch(QObject):
    """``settings_changed(SiteSettings)`` after ``ctx.login.settings`` was replaced."""

    settings_changed = Signal(object)

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._key = ("site-settings", id(self))
        self._stopped = False
        ctx.live.changed.connect(self._changed)

    def _changed(self, payload: dict[str, Any]) -> None:
        if payload.get("table") == "setting":
            self.reload()

    def reload(self) -> None:
        """Read the settings from the server now (a newer reload supersedes an older)."""
        if self._stopped:  # (queued notifications can arrive after the session ended)
            return
        db = self._ctx.db

        def load() -> SiteSettings:
            with db.session() as session:
                return load_settings(session)

        self._ctx.tasks.run(
            load, on_success=self.apply, on_error=self._ctx.connection.handle_error, key=self._key
        )

    def apply(self, settings: SiteSettings) -> None:
        """Make ``settings`` the session's settings (also used after a reconnect)."""
        if self._stopped:
            return
        ctx = self._ctx
        if settings == ctx.login.settings:
            return
        ctx.login = dataclasses.replace(ctx.login, settings=settings)
        log.info("site settings changed")
        self.settings_changed.emit(settings)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(RuntimeError, TypeError):  # already gone
            self._ctx.live.changed.disconnect(self._changed)
