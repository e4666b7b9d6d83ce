"""In the login dialog: the clinic's database accepts only a newer PHMS → "Update now".

When the login is refused with :class:`~phms_client.db.errors.ClientTooOld` and the
site file has a release key, the dialog shows an Update now button next to Log in.
It uses the name and password typed only to read the newest published release
(it must be at least the minimum the database asks for), downloads, checks and
installs it like the offer after login (:class:`~.updater.Updater`), then starts
the new version and closes this one. Nothing of the person's session is opened.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QPushButton

from phms_client.config import ClientConfig
from phms_client.db.errors import ClientTooOld, classify
from phms_client.ui.shared.tasks import TaskRunner

# The update's machinery (and SQLAlchemy, psycopg, the schema with it) is imported
# when Update now is pressed: the login window shows without it (start-up,
# docs/benchmarks.md).
if TYPE_CHECKING:
    from phms_client.db.database import Database
    from phms_client.services.updates import Release
    from phms_client.ui.shell.login_dialog import LoginDialog
    from phms_client.ui.shell.updater import Updater
    from phms_client.update.install import Installed, VersionsFolder

__all__ = ["LoginUpdate", "release_for"]

log = logging.getLogger(__name__)


def release_for(
    config: ClientConfig, user: str, password: str, minimum: str, platform: str
) -> tuple[Database, Release]:
    """Worker thread: the newest release, if it is at least ``minimum``; the open database
    (to read its bytes with) is the caller's to close."""
    from phms_client.db.database import Credentials, Database
    from phms_client.services.updates import newest_release
    from phms_client.update.errors import UpdateError
    from phms_client.update.versions import is_newer

    db = Database(config, Credentials(user, password), pool_size=1)
    try:
        with db.session() as session:
            release = newest_release(session, platform)
        if release is None or is_newer(minimum, release.version):
            newest = (
                f"the newest published is {release.version}" if release else "none is published"
            )
            raise UpdateError(
                f"No release on the server is new enough (PHMS {minimum} or newer is needed; "
                f"{newest} for {platform}). Please ask IT."
            )
        return db, release
    except BaseException:
        db.close()
        raise


class LoginUpdate(QObject):
    """The login dialog's Update now button and what it does."""

    def __init__(
        self,
        dialog: LoginDialog,
        tasks: TaskRunner,
        *,
        server: str | None = None,
        folder: VersionsFolder | None = None,
    ) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self.tasks = tasks
        self.server = server
        self._folder = folder
        self.minimum = ""
        self.updater: Updater | None = None
        self._db: Database | None = None
        self.button = QPushButton("&Update now")
        self.button.setToolTip(
            "Download the newer PHMS from the clinic's server, check it and restart"
        )
        self.button.clicked.connect(self.start)
        self.button.hide()

    def reset(self) -> None:
        self.button.hide()
        self.dialog.login_button.setDefault(True)

    def refused(self, exc: ClientTooOld) -> None:
        """The gate said this client is too old: offer the update if this site can."""
        config = self.dialog.config
        if config is None or not config.release.updates_configured:
            return
        self.minimum = exc.minimum
        self.dialog.show_message(
            "Newer PHMS needed",
            f"This workstation's PHMS {exc.client} is older than this clinic's database "
            f"accepts ({exc.minimum} or newer). Update now fetches the newer PHMS from the "
            "clinic's server with your login, checks that IT signed it, installs it and "
            "restarts PHMS.",
        )
        self.button.show()
        self.button.setDefault(True)
        self.button.setFocus()

    def start(self) -> None:
        config, dialog = self.dialog.config, self.dialog
        user, password = dialog.user_edit.text().strip(), dialog.password_edit.text()
        if config is None or not self.minimum:
            return
        if not user or not password:
            dialog.show_message("Update", "Please enter your user name and password first.")
            return
        from phms_client.ui.shell.updater import Updater

        folder = self._folder
        updater = self.updater or Updater(self.tasks, config.release, folder, self)
        if self.updater is None:
            self.updater = updater
            updater.progress.connect(self._progress)
            updater.installed.connect(self._installed)
            updater.failed.connect(self._failed)
        dialog.clear_message()  # (hides the button until it is needed again)
        dialog._set_busy(True, "Looking for the newer PHMS on the server…")
        minimum, platform = self.minimum, updater.folder.platform
        self.tasks.run(
            lambda: release_for(config, user, password, minimum, platform),
            on_success=self._found,
            on_error=self._find_failed,
            key=("login-update", id(self)),
        )

    def _found(self, found: tuple[Database, Release]) -> None:
        self._db, release = found
        assert self.updater is not None
        self.dialog.busy_label.setText(f"Downloading PHMS {release.version}…")
        self.updater.start(self._db, release)

    def _progress(self, received: int, total: int) -> None:
        self.dialog.busy_bar.setRange(0, 1000)
        self.dialog.busy_bar.setValue(received * 1000 // max(total, 1))
        self.dialog.busy_label.setText(f"Downloading… {received / 1e6:.1f} of {total / 1e6:.1f} MB")

    def _find_failed(self, exc: BaseException) -> None:
        from phms_client.update.errors import UpdateError

        message = str(exc) if isinstance(exc, UpdateError) else classify(exc).message
        self._failed(message)

    def _failed(self, message: str) -> None:
        self._close_db()
        self.dialog.busy_bar.setRange(0, 0)
        self.dialog._set_busy(False)
        self.dialog.show_message("The update did not work", message)
        self.button.show()
        self.button.setDefault(True)

    def _installed(self, installed: Installed) -> None:
        self._close_db()
        assert self.updater is not None
        self.dialog.busy_label.setText(f"PHMS {installed.version} is installed. Restarting…")
        from phms_client.update.errors import UpdateError

        try:
            self.updater.restart(installed, self.server)
        except UpdateError as exc:
            self._failed(str(exc))
            return
        self.dialog.reject()  # the shell quits; the new version shows its own login

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
