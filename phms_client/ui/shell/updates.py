"""After login: "What's new" once per person, then the update offer, never over unsaved work.

:class:`UpdateHook` is attached by the application shell to the main window once
the session has started. It asks the database once (:func:`phms_client.services.
updates.after_login`, one short session):

1. the notes of the running version, the first time this person runs it (on any
   workstation): shown in :class:`~.whats_new.WhatsNewDialog`;
2. the recommended release, when it is newer than this client and the site file
   has a release key: offered in :class:`~.update_offer.UpdateOffer`, after the
   notes are closed, and only while no window holds unsaved changes (it waits and
   looks again every :data:`RECHECK_MS`).

Update now checks for unsaved work again, downloads and installs in the
background (:class:`~.updater.Updater`), then closes the main window (the shell
quits) and starts the new version. Help > What's new shows the notes again.
A failed check is only logged: it must never stand between a person and work.
"""

from __future__ import annotations

import logging
from typing import Final

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QMessageBox, QWidget

from phms_client.services import updates
from phms_client.services.updates import AfterLogin, Release, ReleaseNotes
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shell.update_offer import UpdateOffer
from phms_client.ui.shell.updater import Updater
from phms_client.ui.shell.whats_new import WhatsNewDialog
from phms_client.update.errors import UpdateError
from phms_client.update.install import Installed, VersionsFolder
from phms_client.version import client_version

__all__ = ["RECHECK_MS", "UpdateHook", "unsaved_work"]

log = logging.getLogger(__name__)

#: While there is unsaved work, look again this often before offering the update.
RECHECK_MS: Final = 30_000


def unsaved_work(window: QWidget | None) -> bool:
    """Does any PHMS window hold changes not yet saved (a form, a record, a chart)?"""
    widgets: list[QWidget] = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    if window is not None:
        widgets.append(window)
    for widget in widgets:
        for name in ("has_unsaved_changes", "is_dirty"):
            check = getattr(widget, name, None)
            if callable(check) and check():
                return True
    return False


def _help_menu(window: QMainWindow) -> QMenu:
    menu = getattr(window, "help_menu", None)
    if isinstance(menu, QMenu):
        return menu
    for action in window.menuBar().actions():
        if isinstance(action.menu(), QMenu) and action.text().replace("&", "") == "Help":
            return action.menu()  # type: ignore[return-value]
    return window.menuBar().addMenu("&Help")


class UpdateHook(QObject):
    """What's new and the update offer for one session (see the module text)."""

    checked = Signal(object)  # AfterLogin, once the database has answered
    offer_shown = Signal(object)  # UpdateOffer
    notes_shown = Signal(object)  # WhatsNewDialog

    def __init__(
        self,
        ctx: AppContext,
        window: QMainWindow,
        *,
        server: str | None = None,
        folder: VersionsFolder | None = None,
        recheck_ms: int = RECHECK_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.window = window
        self.server = server
        self.updater = Updater(ctx.tasks, ctx.config.release, folder, self)
        self.platform = self.updater.folder.platform
        self.offer: UpdateOffer | None = None
        self.notes_dialog: WhatsNewDialog | None = None
        self.no_notes_box: QMessageBox | None = None
        self._pending: Release | None = None
        self._stopped = False
        #: How long to wait before looking again for unsaved work.
        self.recheck_ms = recheck_ms
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.timeout.connect(self._offer_when_free)
        self.updater.progress.connect(self._progress)
        self.updater.installed.connect(self._installed)
        self.updater.failed.connect(self._failed)
        self.whats_new_action = QAction("&What's new…", self)
        self.whats_new_action.setStatusTip("The release notes of this version of PHMS")
        self.whats_new_action.setMenuRole(QAction.MenuRole.NoRole)
        self.whats_new_action.triggered.connect(lambda _checked=False: self.open_whats_new())
        menu = _help_menu(window)
        menu.insertAction(next(iter(menu.actions()), None), self.whats_new_action)  # type: ignore[arg-type]
        # The first screen's data goes first: the check waits for the day list's first
        # load (one pooled connection, one request at a time), or a turn of the loop.
        day_list = getattr(window, "day_list", None)
        if day_list is not None and hasattr(day_list, "loaded"):
            day_list.loaded.connect(self._first_screen_loaded)
        else:
            QTimer.singleShot(0, self.check)

    def _first_screen_loaded(self) -> None:
        self.window.day_list.loaded.disconnect(self._first_screen_loaded)  # type: ignore[attr-defined]
        QTimer.singleShot(0, self.check)

    # ----------------------------------------------------------------- after login

    def check(self) -> None:
        if self._stopped:
            return
        db, platform = self.ctx.db, self.platform
        offer = self.ctx.config.release.updates_configured

        def ask() -> AfterLogin:
            with db.session() as session:
                return updates.after_login(
                    session, client=client_version(), platform=platform, offer=offer
                )

        self.ctx.tasks.run(ask, on_success=self._checked, on_error=self._check_failed)

    def _check_failed(self, exc: BaseException) -> None:
        log.warning("could not look for updates and release notes: %s", exc)

    def _checked(self, after: AfterLogin) -> None:
        if self._stopped:
            return
        self._pending = after.offer
        if after.notes is not None:
            dialog = self.show_notes(after.notes)
            dialog.finished.connect(lambda _result: self._offer_when_free())
        else:
            self._offer_when_free()
        self.checked.emit(after)

    def _offer_when_free(self) -> None:
        if self._stopped or self._pending is None or self.offer is not None:
            return
        if self.notes_dialog is not None and self.notes_dialog.isVisible():
            return  # offered once the notes are closed
        if unsaved_work(self.window):
            log.info("update %s waits: there is unsaved work", self._pending.version)
            self._recheck.start(self.recheck_ms)
            return
        self.show_offer(self._pending)

    def show_offer(self, release: Release) -> UpdateOffer:
        dialog = UpdateOffer(release, client_version(), self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.update_requested.connect(self.update_now)
        dialog.cancel_requested.connect(self.updater.cancel)
        dialog.destroyed.connect(lambda: setattr(self, "offer", None))
        self.offer = dialog
        self._pending = None
        dialog.show()
        self.offer_shown.emit(dialog)
        return dialog

    def show_notes(self, notes: ReleaseNotes) -> WhatsNewDialog:
        dialog = WhatsNewDialog(notes, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "notes_dialog", None))
        self.notes_dialog = dialog
        dialog.show()
        self.notes_shown.emit(dialog)
        return dialog

    def open_whats_new(self) -> None:
        """Help > What's new: this version's notes, seen before or not."""
        db, platform, version = self.ctx.db, self.platform, client_version()

        def read() -> tuple[ReleaseNotes | None, str]:
            try:
                with db.session() as session:
                    return updates.notes_for(session, version, platform), ""
            except UpdateError as exc:  # (other errors: the usual message)
                return None, str(exc)

        self.ctx.tasks.run(read, on_success=lambda found: self._notes_read(*found))

    def _notes_read(self, notes: ReleaseNotes | None, why: str = "") -> None:
        if notes is not None:
            self.show_notes(notes)
            return
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "PHMS — What's new",
            why or f"No release notes were published with PHMS {client_version()}.",
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.no_notes_box = box
        box.open()

    # ----------------------------------------------------------------- updating

    def update_now(self) -> None:
        offer = self.offer
        if offer is None or self.updater.running:
            return
        if unsaved_work(self.window):
            offer.say(
                "Some windows hold changes that are not saved. Save or close them, then "
                "choose Update now again.",
                problem=True,
            )
            return
        offer.downloading()
        self.updater.start(self.ctx.db, offer.release)

    def _progress(self, received: int, total: int) -> None:
        if self.offer is not None:
            self.offer.show_progress(received, total)

    def _failed(self, message: str) -> None:
        if self.offer is not None:
            self.offer.failed(message)

    def _installed(self, installed: Installed) -> None:
        if self.offer is not None:
            self.offer.restarting()
        if unsaved_work(self.window) or not self.window.close():
            # Work was started during the download: the update waits for the next start.
            if self.offer is not None:
                self.offer.say(
                    f"PHMS {installed.version} is installed; it starts the next time you "
                    "start PHMS."
                )
            return
        try:
            self.updater.restart(installed, self.server)
        except UpdateError as exc:
            QMessageBox.warning(None, "PHMS — Update", str(exc))

    def stop(self) -> None:
        """The session ends: stop waiting, stop a download (nothing is installed)."""
        self._stopped = True
        self._recheck.stop()
        self.updater.cancel()
