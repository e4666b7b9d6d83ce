"""Options > Change my password…: any logged-in person changes their own password.

Every window the application shell builds (the main window, and any other
window ``window_factory`` returns, such as an auditor's) gets the entry from
:func:`add_change_password_action`, so every role has it. The dialog asks for the
current password (checked by logging in with it, so only the person who knows
it can change it on an unattended workstation), then the new one twice. The
site's minimum length is checked here and again on the server side
(:func:`phms_client.services.staff.change_own_password`), and the server's
``passwordcheck`` may refuse it too; each refusal reads as such. The new
password reaches the server only as a SCRAM verifier. The running session then
uses it for every new connection; nothing has to be reopened.
"""

from __future__ import annotations

import html
import logging

import psycopg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client import credentials
from phms_client.db.errors import ErrorKind, classify
from phms_client.db.probe import verify_password
from phms_client.services import staff
from phms_client.ui.shared.context import AppContext

__all__ = [
    "ChangePasswordEntry",
    "OwnPasswordDialog",
    "WrongCurrentPassword",
    "add_change_password_action",
]

log = logging.getLogger(__name__)

#: Longer than any password anybody types; the field takes no more.
MAX_PASSWORD = 200


class WrongCurrentPassword(Exception):
    """The current password typed is not the login's password."""


class ServerRefused(Exception):
    """The server's own password check refused the new password."""


def _password_edit() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setMaxLength(MAX_PASSWORD)
    return edit


class OwnPasswordDialog(QDialog):
    """Emits ``changed()`` and accepts once the new password is set and works."""

    changed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("PHMS — Change my password")
        self._busy = False
        self._key = ("own-password", id(self))
        minimum = ctx.login.settings.password_min_length
        intro = QLabel(
            f"Change the password of <b>{html.escape(ctx.login.user)}</b>. "
            f"The new one needs at least {minimum} characters; a few unrelated words are "
            "easy to remember and hard to guess."
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setForegroundRole(QPalette.ColorRole.WindowText)
        self.current_edit = _password_edit()
        self.new_edit = _password_edit()
        self.repeat_edit = _password_edit()
        for edit in (self.current_edit, self.new_edit, self.repeat_edit):
            edit.textEdited.connect(lambda _text: self.message_label.setVisible(False))
        form = QFormLayout()
        form.addRow("&Current password:", self.current_edit)
        form.addRow("&New password:", self.new_edit)
        form.addRow("&Repeat the new one:", self.repeat_edit)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.ok_button = QPushButton("Change password")
        self.ok_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.buttons.addButton(self.ok_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.ok_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)
        self.current_edit.setFocus()

    # ----------------------------------------------------------------- checking

    def problem(self) -> tuple[QLineEdit, str] | None:
        """The field to fix and what is wrong (before asking the server), or None."""
        current, new = self.current_edit.text(), self.new_edit.text()
        minimum = self.ctx.login.settings.password_min_length
        if not current:
            return self.current_edit, "Please type your current password."
        if not new:
            return self.new_edit, "Please type a new password."
        if len(new) < minimum:
            return (
                self.new_edit,
                f"The new password is too short: it needs at least {minimum} characters.",
            )
        if new == current:
            return self.new_edit, "The new password must be different from the current one."
        if new != self.repeat_edit.text():
            return self.repeat_edit, "The two new passwords differ. Please type them again."
        return None

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    # ----------------------------------------------------------------- saving

    def submit(self) -> None:
        if self._busy:
            return
        problem = self.problem()
        if problem is not None:
            field, text = problem
            self.show_message(text)
            if field is self.repeat_edit:
                self.repeat_edit.clear()
            field.setFocus()
            return
        ctx = self.ctx
        config, db, user = ctx.config, ctx.db, ctx.login.user
        current, new = self.current_edit.text(), self.new_edit.text()

        def change() -> str:
            try:
                verify_password(config, user, current)
            except psycopg.Error as exc:
                if classify(exc).kind is ErrorKind.AUTH_FAILED:
                    raise WrongCurrentPassword from None
                raise
            try:
                with db.engine.begin() as conn:
                    staff.change_own_password(conn, user, new)
            except staff.PasswordPolicyError:
                raise
            except Exception as exc:
                refused = _server_refusal(exc)
                if refused:
                    raise ServerRefused(refused) from None
                raise
            verify_password(config, user, new)  # the new password works
            notice = "Your new password is set."
            try:
                if credentials.recall(config.credential_key, user) is not None:
                    credentials.remember(config.credential_key, user, new)
            except credentials.CredentialStoreUnavailable as exc:
                notice += f" {exc}"
            return notice

        self._set_busy(True)
        ctx.tasks.run(
            change,
            on_success=lambda notice: self._changed(new, notice),
            on_error=self._failed,
            key=self._key,
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.current_edit, self.new_edit, self.repeat_edit, self.ok_button):
            widget.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)
        self.ok_button.setText("Changing…" if busy else "Change password")

    def _changed(self, password: str, notice: str) -> None:
        self._set_busy(False)
        self.ctx.db.set_password(password)
        self.ctx.live.set_password(password)
        log.info("%s changed their password", self.ctx.login.user)
        for edit in (self.current_edit, self.new_edit, self.repeat_edit):
            edit.clear()
        self.notice = notice
        self.changed.emit()
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, WrongCurrentPassword):
            self.show_message(
                "Your current password is not right (is Caps Lock on?). Nothing was changed."
            )
            self.current_edit.selectAll()
            self.current_edit.setFocus()
            return
        if isinstance(exc, staff.PasswordPolicyError | ServerRefused):
            self.show_message(f"{exc} Nothing was changed.")
            self.new_edit.setFocus()
            return
        if self.ctx.connection.handle_error(exc):
            self.show_message("The server could not be reached. Nothing was changed.")
            return
        error = classify(exc, address=self.ctx.db.address)
        log.warning("password change failed (%s): %s", error.kind.value, error.detail)
        self.show_message(f"{error.title}: {error.message} Nothing was changed.")

    def done(self, result: int) -> None:
        if self._busy and result != QDialog.DialogCode.Accepted:
            return  # the change is on its way; wait for its answer
        super().done(result)


def _server_refusal(exc: BaseException) -> str | None:
    """The server's password check said no (``passwordcheck``): its reason, in words."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, psycopg.Error) or orig.sqlstate != "22023":
        return None
    primary = orig.diag.message_primary or ""
    if "password" not in primary.lower():
        return None
    return f"The server refused the new password: {primary}."


class ChangePasswordEntry:
    """The menu entry and the dialog it opened last (one at a time)."""

    def __init__(self, menu: QMenu, ctx: AppContext, parent: QWidget | None) -> None:
        self.ctx = ctx
        self.parent = parent
        self.dialog: OwnPasswordDialog | None = None
        self.action = menu.addAction("Change my &password…")
        self.action.setStatusTip("Choose a new password for your login")
        self.action.setMenuRole(QAction.MenuRole.NoRole)
        self.action.triggered.connect(lambda _checked=False: self.open())

    def open(self) -> OwnPasswordDialog:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        dialog = OwnPasswordDialog(self.ctx, self.parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        show = getattr(self.parent, "statusBar", None)
        if callable(show):
            dialog.changed.connect(lambda: show().showMessage(dialog.notice, 20_000))
        self.dialog = dialog
        dialog.open()
        return dialog


def add_change_password_action(
    menu: QMenu, ctx: AppContext, parent: QWidget | None = None
) -> ChangePasswordEntry:
    """Add "Change my password…" to ``menu`` of any window, for any role."""
    return ChangePasswordEntry(menu, ctx, parent)
