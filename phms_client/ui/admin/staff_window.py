"""Options > Staff accounts… (admins): logins, their group, enabled or not.

Each staff member is a PostgreSQL login in one group. Everything here goes through the
database's SECURITY DEFINER functions (:mod:`phms_client.services.staff`), which only
admins may call and which write every action to the audit trail; the window itself
decides nothing. A new login, and one whose password was reset, must choose its own
password at its next login. The initial password is shown in clear so the admin can
pass it on; it must meet the site's minimum length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.services import staff
from phms_client.services.staff import StaffMember
from phms_client.ui.admin.staff_dialogs import AccountDialog, GroupDialog
from phms_client.ui.admin.staff_model import StaffModel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["StaffWindow", "explain"]

log = logging.getLogger(__name__)

#: Errors the staff functions raise with a sentence meant for people.
_SPOKEN_SQLSTATES: Final = frozenset({"22023", "42710", "42704"})


def explain(exc: BaseException, address: str = "") -> str:
    """A failed staff action in plain words."""
    if isinstance(exc, staff.PasswordPolicyError):
        return str(exc)
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if isinstance(orig, psycopg.Error) and orig.sqlstate in _SPOKEN_SQLSTATES:
        primary = orig.diag.message_primary if orig.diag is not None else None
        if primary:
            return f"{primary}."
    error = classify(exc, address=address)
    return f"{error.title}: {error.message}"


class StaffWindow(QDialog):
    """The staff list and its actions; ``changed(str)`` after each one (the message)."""

    changed = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Staff accounts")
        self.setWindowFlag(Qt.WindowType.WindowMinMaxButtonsHint, True)
        self._ctx = ctx
        self._key = ("staff", id(self))
        self._busy = False
        self.dialog: QDialog | None = None
        self.confirm_box: QMessageBox | None = None

        intro = QLabel(
            "Every staff member logs in with their own account; the group decides what "
            "they may see and do. Every change here is recorded in the audit trail."
        )
        intro.setWordWrap(True)
        self.model = StaffModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Staff accounts")
        setup_list_view(self.table, row_padding=10)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.table.doubleClicked.connect(lambda *_: self.change_group())

        self.new_button = QPushButton("&New login…")
        self.new_button.clicked.connect(self.new_login)
        self.reset_button = QPushButton("&Reset password…")
        self.reset_button.clicked.connect(self.reset_password)
        self.group_button = QPushButton("Change &group…")
        self.group_button.clicked.connect(self.change_group)
        self.enable_button = QPushButton("&Disable")
        self.enable_button.clicked.connect(self.toggle_enabled)
        self.refresh_button = QPushButton("Re&fresh")
        self.refresh_button.clicked.connect(self.reload)
        side = QVBoxLayout()
        for button in (self.new_button, self.reset_button, self.group_button, self.enable_button):
            side.addWidget(button)
        side.addStretch(1)
        side.addWidget(self.refresh_button)

        body = QHBoxLayout()
        body.addWidget(self.table, 1)
        body.addLayout(side)

        self.status_label = QLabel("Loading…")
        self.status_label.setWordWrap(True)
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(body, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.status_label)
        layout.addWidget(close)
        self.connection_notice = add_connection_notice(ctx, self)
        self.resize(640, 420)
        ctx.connection.online_changed.connect(self._online_changed)
        self._update_buttons()
        self.reload()

    # ----------------------------------------------------------------- state

    def current(self) -> StaffMember | None:
        index = self.table.currentIndex()
        return self.model.member(index.row()) if index.isValid() else None

    def select(self, name: str) -> None:
        row = self.model.row_of(name)
        if row is not None:
            self.table.selectRow(row)

    def _update_buttons(self) -> None:
        member = self.current()
        usable = not self._busy and self._ctx.can_edit
        own = member is not None and member.name == self._ctx.login.user
        self.new_button.setEnabled(usable)
        self.reset_button.setEnabled(usable and member is not None)
        self.group_button.setEnabled(usable and member is not None and not own)
        self.enable_button.setEnabled(usable and member is not None and not own)
        self.enable_button.setText(
            "&Enable" if member is not None and not member.enabled else "&Disable"
        )
        tip = "You cannot disable or regroup your own account." if own else ""
        self.group_button.setToolTip(tip)
        self.enable_button.setToolTip(tip)
        self.refresh_button.setEnabled(not self._busy)

    def _online_changed(self, _online: bool) -> None:
        self._update_buttons()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    # ----------------------------------------------------------------- work

    def reload(self) -> None:
        self._run(lambda conn: None, done="")

    def _run(
        self, action: Callable[[sa.Connection], None], *, done: str, select: str | None = None
    ) -> None:
        """Do ``action`` and read the list again, in one transaction on the task runner."""
        db = self._ctx.db

        def work() -> list[StaffMember]:
            with db.session() as session:
                conn = session.connection()
                action(conn)
                return staff.list_staff(conn)

        current = self.current()
        keep = select or (current.name if current is not None else None)
        self._set_busy(True)
        self.message_label.setVisible(False)
        self._ctx.tasks.run(
            work,
            on_success=lambda rows: self._listed(rows, done, keep),
            on_error=self._failed,
            key=self._key,
        )

    def _listed(self, rows: list[StaffMember], done: str, keep: str | None) -> None:
        self.model.set_rows(rows)
        if keep is not None:
            self.select(keep)
        self._set_busy(False)
        enabled = sum(1 for m in rows if m.enabled)
        summary = f"{len(rows)} staff logins, {enabled} enabled."
        self.status_label.setText(f"{done} {summary}".strip())
        if done:
            log.info("staff: %s", done)
            self.changed.emit(done)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if self._ctx.connection.handle_error(exc):
            self.status_label.setText("The server cannot be reached; nothing was changed.")
            return
        self.message_label.setText(explain(exc, self._ctx.config.display_address()))
        self.message_label.setVisible(True)

    # ----------------------------------------------------------------- actions

    def new_login(self) -> AccountDialog:
        dialog = AccountDialog(
            min_length=self._ctx.login.settings.password_min_length,
            taken=self.model.names(),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._create(dialog.name, dialog.group, dialog.password))
        return self._open(dialog)

    def _create(self, name: str, group: str, password: str) -> None:
        self._run(
            lambda conn: staff.create(conn, name, group, password),
            done=f"Created {name} ({group}); they choose their own password at first login.",
            select=name,
        )

    def reset_password(self) -> AccountDialog | None:
        member = self.current()
        if member is None:
            return None
        dialog = AccountDialog(
            min_length=self._ctx.login.settings.password_min_length,
            reset_for=member.name,
            parent=self,
        )

        def chosen() -> None:
            password = dialog.password  # read here: the dialog is gone when the task runs
            self._run(
                lambda conn: staff.reset_password(conn, member.name, password),
                done=f"New temporary password for {member.name}.",
            )

        dialog.accepted.connect(chosen)
        return self._open(dialog)

    def change_group(self) -> GroupDialog | None:
        member = self.current()
        if member is None or not self.group_button.isEnabled():
            return None
        dialog = GroupDialog(member, self)

        def chosen() -> None:
            group = dialog.group  # read here: the dialog is gone when the task runs
            if group != member.group:
                self._run(
                    lambda conn: staff.set_group(conn, member.name, group),
                    done=f"{member.name} is now in the group {group}.",
                )

        dialog.accepted.connect(chosen)
        return self._open(dialog)

    def toggle_enabled(self) -> QMessageBox | None:
        member = self.current()
        if member is None:
            return None
        if not member.enabled:
            self._run(
                lambda conn: staff.set_enabled(conn, member.name, True),
                done=f"{member.name} may log in again.",
            )
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "PHMS — Disable login",
            f"Disable the login “{member.name}”?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(
            "They can no longer log in. A session already open continues until they log "
            "out. The account and everything it recorded are kept; you can enable it again."
        )
        disable = box.addButton("Disable", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(_result: int) -> None:
            self.confirm_box = None
            if box.clickedButton() is disable:
                self._run(
                    lambda conn: staff.set_enabled(conn, member.name, False),
                    done=f"Disabled {member.name}.",
                )
            box.deleteLater()

        box.finished.connect(answered)
        self.confirm_box = box
        box.open()
        return box

    def _open(self, dialog: QDialog) -> Any:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def done(self, result: int) -> None:
        self._ctx.tasks.cancel(self._key)
        super().done(result)
