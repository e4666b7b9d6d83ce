"""The staff window's dialogs: a new login or a password reset (:class:`AccountDialog`),
and a change of group (:class:`GroupDialog`). They check what is typed; the database
applies the same rules again."""

from __future__ import annotations

import html
import re

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.services import staff
from phms_client.services.staff import StaffMember
from phms_client.ui.admin.staff_model import GROUP_TEXT

__all__ = ["AccountDialog", "GroupDialog", "name_problem"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


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
