"""The application shell: log in, open the main window, keep the session going, quit.

:class:`AppShell` owns the one :class:`~phms_client.ui.shared.tasks.TaskRunner` and walks
the session through its life:

1. the login dialog (unusable settings → a message box and the Settings dialog);
   a new or reset account must then choose its own password
   (:class:`~phms_client.ui.shell.change_password_dialog.ChangePasswordDialog`; *Log out*
   goes back to the login dialog);
2. after logging in, the :class:`~phms_client.ui.shared.context.AppContext` (live updates
   started, a connection monitor) and the main window, to which it adds
   Options > Settings…, Options > Preferences…, Options > Staff accounts… (admins),
   Help > About PHMS and Help > Report a problem…, the banner strip (connection lost /
   maintenance messages) and the idle lock;
3. while working: errors of lost connections go to the connection monitor instead of
   a message box; offline, the window is told ``set_editable(False)``; back online,
   ``set_editable(True)``; site settings follow the database live
   (:class:`~phms_client.ui.shell.site_settings.SiteSettingsWatch`: the idle lock and the
   window's ``apply_settings``);
4. on quit: stop the listener, shut the task runner down, close the database.

:func:`install_excepthook` turns an unexpected exception into a logged error and a
plain "unexpected error" message instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from phms_client.db.errors import UserError
from phms_client.db.probe import verify_password
from phms_client.ui.shared.tasks import ErrorPresenter, TaskRunner, message_box_presenter
from phms_client.ui.shell.banner import BannerArea
from phms_client.ui.shell.excepthook import (
    install_excepthook,
    show_unexpected_error,
    unexpected_error_hook,
)
from phms_client.ui.shell.idle_lock import IdleLock
from phms_client.ui.shell.login_dialog import LoginDialog, LoginOutcome
from phms_client.ui.shell.settings_dialog import ConfigLocation, SettingsDialog

# What a session needs after the login (and SQLAlchemy, psycopg and the schema with
# it) is imported when the session opens: the login window shows without them
# (start-up, docs/benchmarks.md).
if TYPE_CHECKING:
    from phms_client.db.login import LoginInfo
    from phms_client.db.site_settings import SiteSettings
    from phms_client.ui.admin.preferences_dialog import PreferencesDialog
    from phms_client.ui.admin.staff_window import StaffWindow
    from phms_client.ui.shared.context import AppContext
    from phms_client.ui.shell.about_dialog import AboutDialog
    from phms_client.ui.shell.change_password_dialog import ChangePasswordDialog
    from phms_client.ui.shell.own_password import ChangePasswordEntry
    from phms_client.ui.shell.problem_dialog import ProblemDialog
    from phms_client.ui.shell.site_settings import SiteSettingsWatch
    from phms_client.ui.shell.updates import UpdateHook

__all__ = [
    "AppShell",
    "WindowFactory",
    "install_excepthook",
    "show_unexpected_error",
    "unexpected_error_hook",
]

log = logging.getLogger(__name__)

WindowFactory = Callable[["AppContext"], QMainWindow]


def main_window_factory(ctx: AppContext) -> QMainWindow:
    """Each role lands on its own workspace: auditors on the review of the audit trail."""
    if ctx.login.group == "auditor":
        from phms_client.ui.audit.window import AuditWindow

        return AuditWindow(ctx)
    from phms_client.ui.shell.main_window import MainWindow

    return MainWindow(ctx)


class AppShell(QObject):
    """One PHMS session from login to quit; ``finished(exit_code)`` when it is over.

    ``window_factory`` builds the main window (default: ``MainWindow(ctx)``).
    ``idle_timeout_ms`` overrides the site's idle minutes (tests); ``retry_ms`` the
    reconnect pauses (default ``ui.shared.connection.RETRY_MS``); ``fallback_presenter``
    shows task errors that are not about the connection (default: a message box).
    """

    finished = Signal(int)
    main_window_opened = Signal(object)  # the QMainWindow
    password_change_opened = Signal(object)  # the ChangePasswordDialog

    def __init__(
        self,
        location: ConfigLocation,
        *,
        window_factory: WindowFactory = main_window_factory,
        idle_timeout_ms: int | None = None,
        retry_ms: Sequence[int] | None = None,
        fallback_presenter: ErrorPresenter = message_box_presenter,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.location = location
        self._window_factory = window_factory
        self._idle_timeout_ms = idle_timeout_ms
        self._retry_ms = None if retry_ms is None else tuple(retry_ms)
        self._fallback = fallback_presenter
        self.tasks = TaskRunner(self, presenter=self.present_error, address=self._address)
        self.login_dialog: LoginDialog | None = None
        self.password_dialog: ChangePasswordDialog | None = None
        self.context: AppContext | None = None
        self.settings_watch: SiteSettingsWatch | None = None
        self.preferences_dialog: PreferencesDialog | None = None
        self.staff_window: StaffWindow | None = None
        self.window: QMainWindow | None = None
        self.banner: BannerArea | None = None
        self.idle: IdleLock | None = None
        self.updates: UpdateHook | None = None  # What's new, Update now
        self.settings_action: QAction | None = None
        self.preferences_action: QAction | None = None
        self.staff_action: QAction | None = None
        self.about_action: QAction | None = None
        self.problem_action: QAction | None = None
        self.password_entry: ChangePasswordEntry | None = None
        self._last_failure = ""
        self._done = False

    # ----------------------------------------------------------------- login

    def start(self) -> LoginDialog:
        """Show the login dialog (and the settings problem, if there is one)."""
        dialog = LoginDialog(self.location, self.tasks)
        dialog.logged_in.connect(self._logged_in)
        dialog.rejected.connect(lambda: self.quit(0))
        self.login_dialog = dialog
        dialog.show()
        dialog.report_config_error()
        return dialog

    def _address(self) -> str:
        if self.context is not None:
            return self.context.config.display_address()
        if self.login_dialog is not None and self.login_dialog.config is not None:
            return self.login_dialog.config.display_address()
        return ""

    def _logged_in(self, outcome: LoginOutcome) -> None:
        from phms_client.ui.shell.staging_band import mark_application

        mark_application(outcome.info.staging)  # a STAGING band on every window
        if outcome.info.must_change_password:
            self._choose_password(outcome)
        else:
            self._open_session(outcome)

    def _choose_password(self, outcome: LoginOutcome) -> None:
        """New or reset account: a password of one's own before the main window."""
        login_dialog = self.login_dialog
        remember = (
            login_dialog is not None
            and login_dialog.remember_box.isChecked()
            and outcome.info.settings.remember_password_allowed
        )
        from phms_client.ui.shell.change_password_dialog import ChangePasswordDialog

        dialog = ChangePasswordDialog(outcome.db, outcome.info, self.tasks, remember=remember)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.password_dialog = dialog

        def changed(new: LoginOutcome) -> None:
            outcome.db.close()
            self._open_session(new)

        def logged_out() -> None:
            outcome.db.close()
            log.info("%s logged out instead of choosing a password", outcome.info.user)
            if not self._done:
                self.start()

        dialog.changed.connect(changed)
        dialog.rejected.connect(logged_out)
        dialog.destroyed.connect(lambda: setattr(self, "password_dialog", None))
        dialog.show()
        self.password_change_opened.emit(dialog)

    def _open_session(self, outcome: LoginOutcome) -> None:
        assert self.login_dialog is not None and self.login_dialog.config is not None
        config = self.login_dialog.config
        from phms_client.ui.shared.connection import RETRY_MS, ConnectionMonitor
        from phms_client.ui.shared.context import AppContext
        from phms_client.ui.shared.live import LiveUpdates
        from phms_client.ui.shell.site_settings import SiteSettingsWatch

        live = LiveUpdates(config, outcome.db.credentials, self)
        retry_ms = RETRY_MS if self._retry_ms is None else self._retry_ms
        monitor = ConnectionMonitor(outcome.db, self.tasks, self, retry_ms=retry_ms)
        ctx = AppContext(config, outcome.db, outcome.info, self.tasks, live, monitor)
        self.context = ctx
        self.settings_watch = SiteSettingsWatch(ctx, self)
        try:
            window = self._window_factory(ctx)
        except Exception as exc:  # a bug in a window: say so, do not leave a half session
            log.exception("the main window could not be opened")
            self.quit(1)
            show_unexpected_error(exc, wait=True)
            return
        self.window = window
        self._decorate(window)
        self._wire(ctx, window)
        live.start()
        window.show()
        window.installEventFilter(self)
        self.idle = self._make_idle_lock(ctx, window)
        from phms_client.ui.shell.updates import UpdateHook

        self.updates = UpdateHook(ctx, window, server=self.location.server, parent=self)
        if outcome.notice:
            window.statusBar().showMessage(outcome.notice, 20_000)
        self.main_window_opened.emit(window)

    # ----------------------------------------------------------------- main window

    def _decorate(self, window: QMainWindow) -> None:
        self.file_menu = _first_menu(window, "&File")
        self.quit_action = self.file_menu.addAction("&Quit")
        # Ctrl+Q everywhere (Windows has no standard Quit key), from any PHMS window;
        # closing the main window asks about unsaved work first.
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setStatusTip("Close every PHMS window and log out")
        self.quit_action.triggered.connect(lambda _checked=False: window.close())
        options = _menu(window, "options_menu", "&Options")
        help_menu = _menu(window, "help_menu", "&Help")
        self.settings_action = _add_action(options, "&Settings…", self.open_settings)
        self.settings_action.setMenuRole(QAction.MenuRole.NoRole)
        self.preferences_action = options.addAction("&Preferences…")
        self.preferences_action.setStatusTip("The clinic's settings, shared by every workstation")
        self.preferences_action.setMenuRole(QAction.MenuRole.NoRole)
        self.preferences_action.triggered.connect(lambda _checked=False: self.open_preferences())
        ctx = self.context
        if ctx is not None and ctx.login.group == "admin":
            self.staff_action = options.addAction("Staff &accounts…")
            self.staff_action.setStatusTip("Create, disable and reset staff logins")
            self.staff_action.triggered.connect(lambda _checked=False: self.open_staff())
        if ctx is not None:  # every role, whatever window the factory built
            from phms_client.ui.shell.own_password import add_change_password_action

            options.addSeparator()
            self.password_entry = add_change_password_action(options, ctx, window)
        self.problem_action = _add_action(help_menu, "&Report a problem…", self.open_problem)
        self.about_action = _add_action(help_menu, "&About PHMS", self.open_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.banner = BannerArea()
        self.banner.attach(window)

    def _wire(self, ctx: AppContext, window: QMainWindow) -> None:
        banner = self.banner
        assert banner is not None
        monitor, live = ctx.connection, ctx.live
        banner.retry_requested.connect(monitor.retry_now)
        monitor.online_changed.connect(self._online_changed)
        monitor.reconnecting.connect(banner.reconnecting)
        monitor.reconnect_failed.connect(self._reconnect_failed)
        monitor.retry_scheduled.connect(lambda ms: banner.retry_in(ms, self._last_failure))
        monitor.reconnected.connect(self._reconnected)
        live.broadcast.connect(banner.show_broadcast)
        live.listening.connect(self._listening)
        watch = self.settings_watch
        assert watch is not None
        watch.settings_changed.connect(self._apply_settings)
        apply = getattr(window, "apply_settings", None)
        if callable(apply):  # MainWindow: the patient ID format, the day list's kinds
            watch.settings_changed.connect(apply)

    def _online_changed(self, online: bool) -> None:
        ctx, banner, window = self.context, self.banner, self.window
        if ctx is None or banner is None or window is None:
            return
        if online:
            self._last_failure = ""
            banner.hide_connection_lost()
        else:
            banner.show_connection_lost(ctx.config.display_address())
        set_editable = getattr(window, "set_editable", None)
        if callable(set_editable):
            set_editable(online)

    def _reconnect_failed(self, error: UserError) -> None:
        self._last_failure = error.title

    def _reconnected(self, info: LoginInfo) -> None:
        ctx, watch = self.context, self.settings_watch
        if ctx is not None and watch is not None:
            ctx.login = dataclasses.replace(info, settings=ctx.login.settings)
            watch.apply(info.settings)  # settings may have changed while we were away

    def _listening(self, listening: bool) -> None:
        """The listener's own connection is a second witness of the network."""
        ctx = self.context
        if ctx is None or self._done:  # (queued signals can arrive after shutdown)
            return
        if not listening:
            ctx.connection.connection_lost()
        elif not ctx.connection.online:
            ctx.connection.retry_now()

    def _apply_settings(self, settings: SiteSettings) -> None:
        if self.idle is not None and self._idle_timeout_ms is None:
            timeout = max(settings.idle_lock_minutes, 0) * 60_000
            if timeout != self.idle.timeout_ms:
                self.idle.set_timeout(timeout)

    def _make_idle_lock(self, ctx: AppContext, window: QMainWindow) -> IdleLock:
        timeout = self._idle_timeout_ms
        if timeout is None:
            timeout = max(ctx.login.settings.idle_lock_minutes, 0) * 60_000

        def verify(password: str) -> None:
            verify_password(ctx.config, ctx.login.user, password)

        idle = IdleLock(
            window,
            user=ctx.login.user,
            group=ctx.login.group,
            tasks=self.tasks,
            verify=verify,
            timeout_ms=timeout,
            address=self._address,
            parent=self,
        )
        idle.quit_requested.connect(lambda: self.quit(0))
        hide = getattr(window, "hide_patient_data", None)
        if callable(hide):  # MainWindow also hides patient data under the cover
            idle.locked_changed.connect(hide)
        return idle

    # ----------------------------------------------------------------- menu actions

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.location, self.tasks, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def open_preferences(self) -> PreferencesDialog:
        """Options > Preferences…: one window; admins edit, everyone else reads."""
        assert self.context is not None
        dialog = self.preferences_dialog
        if dialog is not None and dialog.isVisible():
            dialog.raise_()
            dialog.activateWindow()
            return dialog
        from phms_client.ui.admin.preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(self.context, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "preferences_dialog", None))
        dialog.saved.connect(self._preferences_saved)
        self.preferences_dialog = dialog
        dialog.show()
        return dialog

    def _preferences_saved(self) -> None:
        if self.settings_watch is not None:
            self.settings_watch.reload()  # (the notification would do it too)
        if self.window is not None:
            self.window.statusBar().showMessage(
                "Preferences saved. Every workstation uses them from now on.", 15_000
            )

    def open_staff(self) -> StaffWindow:
        """Options > Staff accounts… (admins; the database refuses everyone else)."""
        assert self.context is not None
        window = self.staff_window
        if window is not None and window.isVisible():
            window.raise_()
            window.activateWindow()
            return window
        from phms_client.ui.admin.staff_window import StaffWindow

        window = StaffWindow(self.context, self.window)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.destroyed.connect(lambda: setattr(self, "staff_window", None))
        self.staff_window = window
        window.show()
        return window

    def _settings_saved(self, _config: object) -> None:
        if self.window is not None:
            self.window.statusBar().showMessage(
                "Settings saved. Server settings take effect the next time you log in.", 15_000
            )

    def open_about(self) -> AboutDialog:
        assert self.context is not None
        from phms_client.ui.shell.about_dialog import AboutDialog

        dialog = AboutDialog(self.context, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_problem(self) -> ProblemDialog:
        assert self.context is not None
        from phms_client.ui.shell.problem_dialog import ProblemDialog

        dialog = ProblemDialog(self.context, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._problem_sent)
        dialog.open()
        return dialog

    def _problem_sent(self) -> None:
        if self.window is not None:
            self.window.statusBar().showMessage(
                "Thank you. Your problem report has been sent to IT.", 15_000
            )

    # ----------------------------------------------------------------- errors

    def present_error(self, error: UserError) -> None:
        """The task runner's presenter: lost connections go to the banner, not a dialog."""
        ctx = self.context
        if ctx is not None and ctx.connection.handle_user_error(error):
            return
        self._fallback(error)

    # ----------------------------------------------------------------- quitting

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            # The window may refuse to close (unsaved work): look once it has decided.
            QTimer.singleShot(0, self._check_window_closed)
        return False

    def _check_window_closed(self) -> None:
        if self.window is not None and not self.window.isVisible():
            self.quit(0)

    def quit(self, code: int = 0) -> None:
        if self._done:
            return
        self.shutdown()
        self.finished.emit(code)

    def shutdown(self) -> None:
        """Stop live updates, shut the task runner down, close the database (once)."""
        if self._done:
            return
        self._done = True
        if self.idle is not None:
            self.idle.stop()
        if self.settings_watch is not None:
            self.settings_watch.stop()
        if self.updates is not None:
            self.updates.stop()
        if self.password_dialog is not None:
            self.password_dialog.reject()  # logs out: closes its connection
        if self.window is not None:
            # Closing the window first stops its searches and live refresh, so
            # nothing asks the task runner for work after it has shut down.
            self.window.close()
        ctx = self.context
        if ctx is not None:
            ctx.connection.stop()
            ctx.live.stop()
        self.tasks.shutdown()
        if ctx is not None:
            ctx.db.close()
        log.info("session ended")


def _menu(window: QMainWindow, attribute: str, title: str) -> QMenu:
    menu = getattr(window, attribute, None)
    if isinstance(menu, QMenu):
        return menu
    return window.menuBar().addMenu(title)


def _first_menu(window: QMainWindow, title: str) -> QMenu:
    bar = window.menuBar()
    menu = QMenu(title, bar)
    first = next(iter(bar.actions()), None)
    if first is None:
        bar.addMenu(menu)
    else:
        bar.insertMenu(first, menu)
    return menu


def _add_action(menu: QMenu, text: str, slot: Callable[[], object]) -> QAction:
    if menu.actions() and not menu.actions()[-1].isSeparator():
        menu.addSeparator()
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    return action
