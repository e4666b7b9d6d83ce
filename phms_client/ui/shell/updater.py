"""Running one update on the task runner: progress, cancel, the result on the GUI thread.

:class:`Updater` wraps :func:`phms_client.services.updates.install_release` (check
the signature, read the bytes, check them, install beside the old version, switch
``current``) for the windows that offer an update: after login
(:mod:`.update_offer`) and in the login dialog when the database refuses an old
client (:mod:`.update_login`). :meth:`Updater.restart` then starts the new
program; the caller quits this one.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from phms_client.config_release import ReleaseSettings
from phms_client.db.database import Database
from phms_client.db.errors import classify
from phms_client.services.updates import Release, install_release
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.update.errors import UpdateCancelled, UpdateError
from phms_client.update.install import Installed, VersionsFolder, launch, restart_command
from phms_client.update.launcher import versions_folder
from phms_client.version import client_version

__all__ = ["Updater", "restart_arguments", "versions_folder"]

log = logging.getLogger(__name__)


def restart_arguments(server: str | None) -> list[str]:
    """This program's own options to pass on (``--server`` given on its command line)."""
    return ["--server", server] if server else []


class Updater(QObject):
    """One update at a time; ``progress(received, total)``, then ``installed`` or ``failed``."""

    progress = Signal(int, int)
    installed = Signal(object)  # Installed
    failed = Signal(str)  # what to tell the person

    def __init__(
        self,
        tasks: TaskRunner,
        settings: ReleaseSettings,
        folder: VersionsFolder | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self.folder = folder or versions_folder(settings.update_folder)
        self._cancelled = threading.Event()
        self._percent = -1
        self.running = False

    def start(self, db: Database, release: Release) -> None:
        """Download, check and install ``release`` in the background."""
        if self.running:
            return
        self.running = True
        self._cancelled = threading.Event()
        self._percent = -1
        settings, folder, cancelled = self._settings, self.folder, self._cancelled
        log.info("updating to PHMS %s (%s)", release.version, release.platform)
        self._tasks.run(
            lambda: install_release(
                db,
                release,
                settings,
                folder,
                keep={client_version()},
                progress=self._report,
                cancelled=cancelled,
            ),
            on_success=self._done,
            on_error=self._failed,
            key=("update", id(self)),
        )

    def cancel(self) -> None:
        """Stop the download (quitting PHMS does this too); nothing is installed."""
        self._cancelled.set()

    def restart(self, installed: Installed, server: str | None) -> None:
        """Start the installed version with this program's options; UpdateError if it cannot."""
        command = restart_command(installed, restart_arguments(server))
        log.info("starting PHMS %s: %s", installed.version, command[0])
        launch(command)

    def _report(self, received: int, total: int) -> None:  # worker thread
        percent = received * 100 // max(total, 1)
        if percent != self._percent:
            self._percent = percent
            self.progress.emit(received, total)

    def _done(self, installed: Installed) -> None:
        self.running = False
        log.info("PHMS %s installed in %s", installed.version, installed.folder)
        self.installed.emit(installed)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        if isinstance(exc, UpdateCancelled):
            message = str(exc)
        elif isinstance(exc, UpdateError):
            message = str(exc)
            log.warning("update failed: %s", exc)
        else:
            error = classify(exc)
            message = f"{error.title}: {error.message} Nothing was installed."
            log.warning("update failed (%s): %s", error.kind.value, error.detail)
        self.failed.emit(message)
