"""Choose a new password: forced after logging in with a new or reset account.

A new login, or one whose password an admin reset, must choose its own password
before the main window opens (``LoginInfo.must_change_password``, kept by the
database). The new password is typed twice and checked against the site's minimum
length here and again by :func:`phms_client.services.staff.change_own_password`; it
reaches the server only as a SCRAM verifier. PHMS then logs in again with the new
password (which proves it works) and carries on with that connection. *Log out*
closes the connection and goes back to the login window.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client import credentials
from phms_client.db.database import Database
from phms_client.db.errors import classify
from phms_client.db.login import LoginInfo, login
from phms_client.services import staff
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.login_dialog import LoginOutcome

__all__ = ["ChangePasswordDialog"]

log = logging.getLogger(__name__)


class ChangePasswordDialog(QDialog):
    """Emits ``changed(LoginOutcome)`` (the new connection) and accepts; reject = log out."""

    changed = Signal(object)

    def __init__(
        self,
        db: Database,
        info: LoginInfo,
        tasks: TaskRunner,
        *,
        remember: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        """``remember``: the old password was stored in the keychain; store the new one."""
        super().__init__(parent)
        self.setWindowTitle("PHMS — Choose your password")
        self._db = db
        self._info = info
        self._tasks = tasks
        self._remember = remember
        self._key = ("change-password", id(self))
        self._busy = False
        self.new_db: Database | None = None

        title = QLabel("Choose your own password")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        self.intro_label = intro = QLabel(
            f"Welcome, <b>{html.escape(info.user)}</b>. You logged in with a password an "
            "administrator gave you. Before you start, choose a password that only you "
            "know."
        )
        intro.setWordWrap(True)
        self.policy_label = QLabel(self._policy_text())
        self.policy_label.setWordWrap(True)
        self.policy_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.new_edit = QLineEdit()
        self.new_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_edit.textEdited.connect(self._edited)
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit.textEdited.connect(self._edited)
        form = QFormLayout()
        form.addRow("&New password:", self.new_edit)
        form.addRow("&Repeat it:", self.repeat_edit)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)

        self.buttons = QDialogButtonBox()
        self.ok_button = QPushButton("&Set password")
        self.ok_button.setDefault(True)
        self.logout_button = QPushButton("&Log out")
        self.buttons.addButton(self.ok_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.logout_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.ok_button.clicked.connect(self.submit)
        self.logout_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.policy_label)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self.new_edit.setFocus()

    def _policy_text(self) -> str:
        n = self._info.settings.password_min_length
        return (
            f"At least {n} characters. A few unrelated words are easy to remember and hard "
            "to guess. Do not reuse the password you were given."
        )

    # ----------------------------------------------------------------- checking

    def problem(self) -> str | None:
        """What is wrong with the typed passwords (before asking the server), or None."""
        new, repeat = self.new_edit.text(), self.repeat_edit.text()
        minimum = self._info.settings.password_min_length
        if not new:
            return "Please type a new password."
        if len(new) < minimum:
            return f"The password is too short: it needs at least {minimum} characters."
        if new == self._db.credentials.password:
            return "Please choose a password different from the one you were given."
        if new != repeat:
            return "The two passwords are not the same. Please type them again."
        return None

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    def _edited(self, _text: str) -> None:
        self.message_label.setVisible(False)

    # ----------------------------------------------------------------- saving

    def submit(self) -> None:
        if self._busy:
            return
        problem = self.problem()
        if problem is not None:
            self.show_message(problem)
            if "same" in problem:
                self.repeat_edit.clear()
                self.repeat_edit.setFocus()
            else:
                self.new_edit.setFocus()
            return
        password = self.new_edit.text()
        db, user, remember = self._db, self._info.user, self._remember

        def change() -> LoginOutcome:
            with db.engine.begin() as conn:
                staff.change_own_password(conn, user, password)
            new_db, info = login(db.config, user, password)  # the new password works
            notice = "Your new password is set."
            if remember:
                try:
                    credentials.remember(db.config.credential_key, user, password)
                except credentials.CredentialStoreUnavailable as exc:
                    notice += f" {exc}"
            return LoginOutcome(new_db, info, notice)

        self._set_busy(True)
        self._tasks.run(change, on_success=self._changed, on_error=self._failed, key=self._key)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.new_edit, self.repeat_edit, self.ok_button, self.logout_button):
            widget.setEnabled(not busy)
        self.ok_button.setText("Setting…" if busy else "&Set password")

    def _changed(self, outcome: LoginOutcome) -> None:
        self._set_busy(False)
        log.info("%s chose a new password", outcome.info.user)
        self.new_db = outcome.db
        self.new_edit.clear()
        self.repeat_edit.clear()
        self.changed.emit(outcome)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, staff.PasswordPolicyError):  # the server's setting was stricter
            self.show_message(str(exc))
            self.new_edit.setFocus()
            return
        error = classify(exc, address=self._db.address)
        log.warning("password change failed (%s): %s", error.kind.value, error.detail)
        self.show_message(f"{error.title}: {error.message}")

    def done(self, result: int) -> None:
        if self._busy and result != QDialog.DialogCode.Accepted:
            return  # the change is on its way; wait for its answer
        super().done(result)

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() == Qt.Key.Key_Escape and self._busy:
            return
        super().keyPressEvent(event)
