"""The login window: user name and password, checked by the server itself.

Logging in connects as the staff member's own PostgreSQL role and passes the schema
gate (:func:`phms_client.db.login.login`), on a worker thread of the task runner.
Every failure is shown in plain words (from :func:`~phms_client.db.errors.classify`);
when the server cannot be reached the dialog offers Retry, Settings and Quit, and no
main window (and no patient data) is shown.

Remembering the password: whether the clinic allows it (site setting
``remember_password_allowed``) is only known after logging in. So a remembered
password is offered when there is one; after a successful login it is stored only if
the site allows it, and any stored one is removed otherwise.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client import credentials
from phms_client.config import ClientConfig, ConfigError
from phms_client.db.errors import ClientTooOld, ErrorKind, UserError, classify
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.settings_dialog import ConfigLocation, SettingsDialog
from phms_client.ui.shell.update_login import LoginUpdate

if TYPE_CHECKING:
    from phms_client.db.database import Database
    from phms_client.db.login import LoginInfo

__all__ = ["LoginDialog", "LoginOutcome"]

log = logging.getLogger(__name__)

#: Errors after which trying again unchanged may help: the button says "Retry".
RETRY_KINDS = frozenset({ErrorKind.UNREACHABLE, ErrorKind.CONNECTION_LOST})

NOT_ALLOWED_TO_REMEMBER = (
    "Your clinic does not allow PHMS to remember passwords, so yours was not saved "
    "on this computer."
)


@dataclass(frozen=True)
class LoginOutcome:
    """A successful login: the open database, who logged in, and a note for the user."""

    db: Database
    info: LoginInfo
    notice: str = ""


class LoginDialog(QDialog):
    """Emits ``logged_in(LoginOutcome)`` and then accepts; rejected means Quit."""

    logged_in = Signal(object)
    config_changed = Signal(object)  # ClientConfig, after Settings were saved

    def __init__(
        self, location: ConfigLocation, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Log in")
        self._location = location
        self._tasks = tasks
        self._login_key = ("login", id(self))
        self._recall_key = ("recall", id(self))
        self._password_from_store = False
        self._stored_password_seen = False
        self.config: ClientConfig | None = None
        self.config_error: str | None = None
        self.last_error: UserError | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._closing = False

        title = QLabel("PHMS")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 2)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Pulmonary hypertension clinic records")
        subtitle.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.server_label = QLabel()
        self.server_label.setWordWrap(True)
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("your PHMS user name")
        self.user_edit.editingFinished.connect(self._recall_password)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.textEdited.connect(self._password_edited)
        self.remember_box = QCheckBox("R&emember password on this computer")
        self.remember_box.setToolTip(
            "Only if your clinic allows it: PHMS checks the clinic's rule after logging "
            "in, and otherwise removes any password it had remembered."
        )
        form = QFormLayout()
        form.addRow("&User name:", self.user_edit)
        form.addRow("&Password:", self.password_edit)
        form.addRow("", self.remember_box)

        self.message_frame = QFrame()
        self.message_frame.setObjectName("loginMessage")
        self.message_frame.setStyleSheet(
            "#loginMessage { background: #fdecea; border: 1px solid #e0a39c; border-radius: 4px; }"
        )
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.RichText)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        message_layout = QVBoxLayout(self.message_frame)
        message_layout.setContentsMargins(10, 8, 10, 8)
        message_layout.addWidget(self.message_label)
        self.message_frame.setVisible(False)

        self.busy_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.busy_bar.setMaximumHeight(10)
        self.busy_bar.setTextVisible(False)
        busy_row = QHBoxLayout()
        busy_row.addWidget(self.busy_label)
        busy_row.addWidget(self.busy_bar, 1)
        self.busy_widget = QWidget()
        self.busy_widget.setLayout(busy_row)
        busy_row.setContentsMargins(0, 0, 0, 0)
        self.busy_widget.setVisible(False)

        self.settings_button = QPushButton("&Settings…")
        self.settings_button.clicked.connect(self.open_settings)
        self.quit_button = QPushButton("&Quit")
        self.quit_button.clicked.connect(self.reject)
        self.login_button = QPushButton("&Log in")
        self.login_button.setDefault(True)
        self.login_button.clicked.connect(self.submit)
        #: Update now, when the database accepts only a newer client.
        self.login_update = LoginUpdate(self, tasks, server=location.server)
        buttons = QHBoxLayout()
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)
        buttons.addWidget(self.quit_button)
        buttons.addWidget(self.login_update.button)
        buttons.addWidget(self.login_button)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(8)
        layout.addWidget(self.server_label)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.message_frame)
        layout.addWidget(self.busy_widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(480)

        self.reload_config()
        self.user_edit.setFocus()

    # ----------------------------------------------------------------- config

    def reload_config(self) -> None:
        try:
            self.set_config(self._location.load())
        except ConfigError as exc:
            self.config, self.config_error = None, str(exc)
            self.server_label.setText("Server: <i>the settings cannot be used</i>")
            self.show_message("Settings problem", f"{exc}\n\nPlease correct them in Settings.")
            self._update_buttons()

    def set_config(self, config: ClientConfig) -> None:
        self.config, self.config_error = config, None
        where = html.escape(config.display_address())
        note = "" if config.server_configured else " (built-in default: this computer)"
        self.server_label.setText(
            f"Server: <b>{where}</b>{note} · database <b>{html.escape(config.database)}</b>"
        )
        self.clear_message()
        self._update_buttons()

    def report_config_error(self) -> None:
        """At start-up with unusable settings: a message box, then the Settings dialog."""
        if self.config_error is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "PHMS — Settings problem",
            "PHMS cannot use its settings.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setInformativeText(
            f"{self.config_error}\n\nThe Settings window opens next so you can correct "
            "them. If the problem is in the site file, please contact IT."
        )
        box.finished.connect(lambda _result: self.open_settings())
        self.config_box = box
        box.open()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self._location, self._tasks, self)
        dialog.saved.connect(self._settings_saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "settings_dialog", None))
        self.settings_dialog = dialog
        dialog.open()

    def _settings_saved(self, config: ClientConfig) -> None:
        self.set_config(config)
        self.config_changed.emit(config)
        self._recall_password()

    # ----------------------------------------------------------------- messages

    def show_message(self, title: str, message: str) -> None:
        self.message_label.setText(
            f"<b>{html.escape(title)}</b><br>{html.escape(message).replace(chr(10), '<br>')}"
        )
        self.message_frame.setVisible(True)
        self.adjustSize()

    def clear_message(self) -> None:
        self.last_error = None
        self.message_frame.setVisible(False)
        self.message_label.clear()
        self.login_button.setText("&Log in")
        self.login_update.reset()

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_label.setText(text)
        self.busy_widget.setVisible(busy)
        for widget in (self.user_edit, self.password_edit, self.remember_box):
            widget.setEnabled(not busy)
        self._update_buttons(busy=busy)

    def _update_buttons(self, *, busy: bool = False) -> None:
        self.login_button.setEnabled(self.config is not None and not busy)
        self.settings_button.setEnabled(not busy)

    # ----------------------------------------------------------------- remembered password

    def _recall_password(self) -> None:
        user = self.user_edit.text().strip()
        if self.config is None or not user or self.password_edit.text():
            return
        key = self.config.credential_key
        self._tasks.run(
            lambda: credentials.recall(key, user),
            on_success=lambda password: self._offer_password(user, password),
            key=self._recall_key,
        )

    def _offer_password(self, user: str, password: str | None) -> None:
        if password is None or user != self.user_edit.text().strip():
            return
        if self.password_edit.text():
            return  # the person typed meanwhile: theirs wins
        self.password_edit.setText(password)
        self._password_from_store = True
        self._stored_password_seen = True
        self.remember_box.setChecked(True)

    def _password_edited(self, _text: str) -> None:
        self._password_from_store = False

    # ----------------------------------------------------------------- logging in

    def submit(self) -> None:
        if self.config is None:
            self.open_settings()
            return
        user = self.user_edit.text().strip()
        password = self.password_edit.text()
        if not user or not password:
            self.show_message("Log in", "Please enter your user name and password.")
            (self.password_edit if user else self.user_edit).setFocus()
            return
        config = self.config
        remember = self.remember_box.isChecked()
        had_stored = self._stored_password_seen
        self.clear_message()
        self._set_busy(True, f"Connecting to {config.display_address()}…")
        log.info("logging in as %s to %s", user, config.display_address())
        self._tasks.run(
            lambda: _log_in(config, user, password, remember=remember, had_stored=had_stored),
            on_success=self._login_done,
            on_error=self._login_failed,
            key=self._login_key,
        )

    def _login_done(self, outcome: LoginOutcome) -> None:
        if self._closing:  # Quit was pressed while connecting
            outcome.db.close()
            return
        self._set_busy(False)
        log.info("logged in as %s (%s)", outcome.info.user, outcome.info.group)
        self.password_edit.clear()
        self.logged_in.emit(outcome)
        self.accept()

    def _login_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if self._closing:
            return
        address = self.config.display_address() if self.config else ""
        error = classify(exc, address=address)
        self.last_error = error
        log.warning("login failed (%s): %s", error.kind.value, error.detail)
        message = error.message
        if error.kind is ErrorKind.AUTH_FAILED:
            if self._password_from_store and self.config is not None:
                message += "\n\nThe remembered password is no longer valid; it has been removed."
                self._forget_stored(self.config.credential_key, self.user_edit.text().strip())
            self.password_edit.clear()
            self._password_from_store = False
        self.show_message(error.title, message)
        if error.kind in RETRY_KINDS:
            self.login_button.setText("&Retry")
        # Inputs were disabled while connecting; give the focus back where it helps.
        if error.kind is ErrorKind.AUTH_FAILED:
            self.password_edit.setFocus()
        else:
            self.login_button.setFocus()
        if isinstance(exc, ClientTooOld):
            self.login_update.refused(exc)

    def _forget_stored(self, key: str, user: str) -> None:
        def forget() -> None:
            try:
                credentials.forget(key, user)
            except credentials.CredentialStoreUnavailable as exc:
                log.warning("could not remove a stale password: %s", exc)

        self._tasks.run(forget, on_success=lambda _none: None)

    def done(self, result: int) -> None:
        self._closing = result != QDialog.DialogCode.Accepted
        self._tasks.cancel(self._recall_key)
        super().done(result)


def _log_in(
    config: ClientConfig, user: str, password: str, *, remember: bool, had_stored: bool
) -> LoginOutcome:
    """Worker thread: log in, then store or forget the password as the site allows."""
    from phms_client.db.login import login  # SQLAlchemy and psycopg: after the window shows

    db, info = login(config, user, password)
    key = config.credential_key
    notice = ""
    allowed = info.settings.remember_password_allowed
    try:
        if remember and allowed:
            credentials.remember(key, user, password)
        elif remember or had_stored:
            # Not allowed (any more), or no longer wanted: remove what may be stored.
            notice = NOT_ALLOWED_TO_REMEMBER if remember else ""
            credentials.forget(key, user)
    except credentials.CredentialStoreUnavailable as exc:
        notice = str(exc)
    return LoginOutcome(db, info, notice)
