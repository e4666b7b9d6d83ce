"""Options > Staff accounts… (admins): logins, their group, enabled or not.

Each staff member is a PostgreSQL login in one group. Everything here goes through the
database's SECURITY DEFINER functions (:mod:`phms_client.services.staff`), which only
admins may call and which write every action to the audit trail; the window itself
decides nothing. A new login, and one whose password was reset, must choose its own
password at its next login. The initial password is shown in clear so the admin can
pass it on; it must meet the site's minimum length.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.services import staff
from phms_client.services.staff import StaffMember
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice
from phms_client.ui.shared.table_view import RowsTableModel, setup_list_view

__all__ = ["GROUP_TEXT", "AccountDialog", "StaffModel", "StaffWindow", "name_problem"]

log = logging.getLogger(__name__)

GROUP_TEXT: Final = {
    "clerk": "Clerk — demographics and appointments",
    "clinician": "Clinician — clinical records",
    "admin": "Administrator — clinical records, preferences, staff",
    "auditor": "Auditor — audit trail and statistics only",
}
MEMBER_ROLE: Final = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
#: Errors the staff functions raise with a sentence meant for people.
_SPOKEN_SQLSTATES: Final = frozenset({"22023", "42710", "42704"})


def name_problem(name: str, taken: set[str]) -> str | None:
    """Why ``name`` cannot be a new login (the database applies the same rule)."""
    if not name:
        return "Please type a user name."
    if not _NAME.fullmatch(name):
        return (
            "A user name is 2–63 lower-case letters, digits or _, starting with a letter "
            "(for example “anna_meier”)."
        )
    if name.startswith(("pg_", "phms_")) or name == "postgres":
        return "User names may not start with “pg_” or “phms_”, nor be “postgres”."
    if name in taken:
        return f"There is already a login named “{name}”."
    return None


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


# --------------------------------------------------------------------------- model


class StaffModel(RowsTableModel):
    """The staff list as handed to it; it never queries."""

    HEADERS: Final = ("User name", "Group", "Login")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StaffMember] = []

    def set_rows(self, rows: list[StaffMember]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[StaffMember]:
        return list(self._rows)

    def member(self, row: int) -> StaffMember:
        return self._rows[row]

    def row_of(self, name: str) -> int | None:
        for n, member in enumerate(self._rows):
            if member.name == name:
                return n
        return None

    def names(self) -> set[str]:
        return {m.name for m in self._rows}

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        member = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return member.name
            if column == 1:
                return GROUP_TEXT.get(member.group, member.group).split(" — ")[0]
            if column == 2:
                return "enabled" if member.enabled else "disabled"
        if role == Qt.ItemDataRole.ToolTipRole and column == 1:
            return GROUP_TEXT.get(member.group, member.group)
        if role == Qt.ItemDataRole.ForegroundRole and not member.enabled:
            return QColor("#8a8a8a")
        if role == MEMBER_ROLE:
            return member
        return None


# --------------------------------------------------------------------------- dialogs


class AccountDialog(QDialog):
    """New login (name, group, initial password) or a password reset (password only)."""

    def __init__(
        self,
        *,
        min_length: int,
        taken: set[str] | None = None,
        reset_for: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._min_length = min_length
        self._taken = taken or set()
        self.reset_for = reset_for
        new = reset_for is None
        self.setWindowTitle("PHMS — New staff login" if new else "PHMS — Reset password")

        intro = QLabel(
            "The person logs in with this password once and must then choose their own."
            if new
            else f"Give <b>{html.escape(reset_for or '')}</b> a new temporary password. "
            "They must choose their own at their next login; sessions already open "
            "are not affected."
        )
        intro.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. anna_meier")
        self.name_edit.setMaxLength(63)
        self.group_combo = QComboBox()
        for short, text in GROUP_TEXT.items():
            self.group_combo.addItem(text, short)
        self.group_combo.setCurrentIndex(self.group_combo.findData("clinician"))
        self.password_edit = QLineEdit()
        self.password_edit.setPlaceholderText(f"at least {min_length} characters")
        self.generate_button = QPushButton("&Generate")
        self.generate_button.setToolTip("Fill in a random password")
        self.generate_button.clicked.connect(self.generate)
        password_row = QHBoxLayout()
        password_row.addWidget(self.password_edit, 1)
        password_row.addWidget(self.generate_button)

        form = QFormLayout()
        if new:
            form.addRow("&User name:", self.name_edit)
            form.addRow("Gr&oup:", self.group_combo)
        caption = QLabel("Initial &password:" if new else "New &password:")
        caption.setBuddy(self.password_edit)  # (the row holds Generate too)
        self.password_edit.setAccessibleName(caption.text().replace("&", "").rstrip(":"))
        form.addRow(caption, password_row)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("C&reate login" if new else "&Reset password")
        self.buttons.accepted.connect(self.check_and_accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        (self.name_edit if new else self.password_edit).setFocus()

    @property
    def name(self) -> str:
        return self.reset_for or self.name_edit.text().strip()

    @property
    def group(self) -> str:
        return str(self.group_combo.currentData())

    @property
    def password(self) -> str:
        return self.password_edit.text()

    def generate(self) -> None:
        self.password_edit.setText(staff.generate_password(max(self._min_length, 16)))

    def problem(self) -> str | None:
        if self.reset_for is None:
            problem = name_problem(self.name, self._taken)
            if problem:
                return problem
        if len(self.password) < self._min_length:
            return (
                f"The password is too short: it needs at least {self._min_length} "
                "characters (the clinic's minimum)."
            )
        return None

    def check_and_accept(self) -> None:
        problem = self.problem()
        if problem is not None:
            self.message_label.setText(problem)
            self.message_label.setVisible(True)
            return
        self.accept()


class GroupDialog(QDialog):
    def __init__(self, member: StaffMember, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Change group")
        intro = QLabel(
            f"Group of <b>{html.escape(member.name)}</b>. The new rights apply from "
            "their next login."
        )
        intro.setWordWrap(True)
        self.group_combo = QComboBox()
        for short, text in GROUP_TEXT.items():
            self.group_combo.addItem(text, short)
        self.group_combo.setCurrentIndex(self.group_combo.findData(member.group))
        self.group_combo.setAccessibleName("Group")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Change group")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.group_combo)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    @property
    def group(self) -> str:
        return str(self.group_combo.currentData())


# --------------------------------------------------------------------------- window


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
