"""The Preferences window's *General* tab: patient ID format, screen lock, passwords, the
error check threshold, and which PHMS versions may log in.

The patient ID format shows an example of the format being typed, and, once it differs
from the stored one, how many existing patient IDs would not match it (asked of the
server a moment after the typing stops; only a hint, the save reports real problems).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Final

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPalette, QRegularExpressionValidator
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from phms_client.services import preferences
from phms_client.services.preferences import SettingRow, SettingValueError
from phms_client.ui.admin.preferences_editors import (
    KEYED_LABELS,
    LABELS,
    BoolEditor,
    Editor,
    IntEditor,
    NumberEditor,
    TextEditor,
    label_of,
)
from phms_client.ui.shared.context import AppContext
from phms_client.version import client_version
from phms_schema.ddl_compat import DOWNLOAD_HINT_KEY, MAX_DOWNLOAD_HINT, MIN_CLIENT_KEY

__all__ = ["GENERAL_KEYS", "GeneralTab"]

#: Settings shown on this tab; the dialog puts settings it has no tab for on "Other".
GENERAL_KEYS: Final = (
    "patient_id_format",
    "idle_lock_minutes",
    "remember_password_allowed",
    "password_min_length",
    "error_check_sd",
    MIN_CLIENT_KEY,
    DOWNLOAD_HINT_KEY,
)
WORKSTATIONS_NOTE: Final = (
    "A workstation whose PHMS is older than the version below cannot log in: it is told "
    "which version it needs and where to get it. “phms-admin db upgrade” raises the "
    "version when a change of the database needs newer workstations. You may raise it "
    "here, up to this workstation's own version; only IT can lower it."
)


class GeneralTab(QWidget):
    """The General settings in a form; ``editors`` in the order they stand."""

    def __init__(
        self,
        ctx: AppContext,
        read_only: bool,
        stored: Callable[[str], SettingRow | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._read_only = read_only
        self._stored = stored  # the setting's row as loaded (None before the load)
        self._count_key = ("preferences-ids", id(self))
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)

        id_edit = QLineEdit()
        id_edit.setMaxLength(preferences.ID_FORMAT_MAX_LENGTH)
        id_edit.setValidator(QRegularExpressionValidator(r"[A-Za-z0-9./\-]*", id_edit))
        self.id_format = TextEditor("patient_id_format", id_edit)
        self.id_preview = QLabel()
        self.id_preview.setWordWrap(True)
        self.id_warning = QLabel()
        self.id_warning.setWordWrap(True)
        self.id_warning.setStyleSheet("color: #8a4b00;")
        self.id_warning.setVisible(False)
        id_box = QWidget()
        id_layout = QVBoxLayout(id_box)
        id_layout.setContentsMargins(0, 0, 0, 0)
        id_layout.setSpacing(2)
        id_layout.addWidget(id_edit)
        id_layout.addWidget(self.id_preview)
        id_layout.addWidget(self.id_warning)
        form.addRow(f"{label_of('patient_id_format')}:", id_box)
        id_edit.textChanged.connect(self._id_format_changed)  # (after the edit report)

        self.idle = IntEditor("idle_lock_minutes", 0, preferences.IDLE_LOCK_MAX_MINUTES, " min")
        self.idle.spin.setSpecialValueText("never")
        form.addRow(
            f"{label_of('idle_lock_minutes')}:",
            with_hint(self.idle.widget, "without keyboard or mouse input (0 = never lock)."),
        )

        self.remember = BoolEditor(
            "remember_password_allowed",
            "Staff may let PHMS remember their password on their workstation",
        )
        form.addRow(f"{label_of('remember_password_allowed')}:", self.remember.widget)

        self.min_length = IntEditor(
            "password_min_length",
            preferences.PASSWORD_MIN_LENGTH_FLOOR,
            preferences.PASSWORD_MIN_LENGTH_CEILING,
            " characters",
        )
        form.addRow(
            f"{label_of('password_min_length')}:",
            with_hint(
                self.min_length.widget,
                "for new passwords (at least 8); passwords already set stay valid.",
            ),
        )

        self.error_sd = NumberEditor("error_check_sd", 1, 1000, " SD")
        form.addRow(
            f"{label_of('error_check_sd')}:",
            with_hint(
                self.error_sd.widget,
                "Tools > Error check lists values this many standard deviations from the "
                "trimmed mean.",
            ),
        )
        self._add_workstations(form)
        self.editors: tuple[Editor, ...] = (
            self.id_format,
            self.idle,
            self.remember,
            self.min_length,
            self.error_sd,
            self.min_client,
            self.download_hint,
        )
        give_keys(form, {editor.key: editor for editor in self.editors})

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(400)
        self._count_timer.timeout.connect(self._count_ids)

    def _add_workstations(self, form: QFormLayout) -> None:
        """The compatibility window: which PHMS may log in, and where to get it."""
        note = QLabel(WORKSTATIONS_NOTE)
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        note.setContentsMargins(0, 10, 0, 0)  # (apart from the settings above)
        form.addRow(note)
        version_edit = QLineEdit()
        version_edit.setMaxLength(30)
        version_edit.setValidator(QRegularExpressionValidator(r"[0-9.]*", version_edit))
        self.min_client = TextEditor(MIN_CLIENT_KEY, version_edit)
        form.addRow(
            f"{label_of(MIN_CLIENT_KEY)}:",
            with_hint(version_edit, f"this workstation runs PHMS {client_version()}"),
        )
        hint_edit = QLineEdit()
        hint_edit.setMaxLength(MAX_DOWNLOAD_HINT)
        hint_edit.setPlaceholderText(r"e.g. https://it.clinic.example/phms or \\server\phms")
        self.download_hint = TextEditor(DOWNLOAD_HINT_KEY, hint_edit)
        form.addRow(f"{label_of(DOWNLOAD_HINT_KEY)}:", hint_edit)

    def stop(self) -> None:
        """The window closes: no more counting."""
        self._ctx.tasks.cancel(self._count_key)
        self._count_timer.stop()

    def _id_format_changed(self, text: str) -> None:
        if text != text.upper():  # placeholders and literals are capitals
            edit = self.id_format.edit
            cursor = edit.cursorPosition()
            edit.setText(text.upper())  # (comes back here)
            edit.setCursorPosition(cursor)
            return
        fmt = text.strip()
        try:
            preferences.check_patient_id_format(fmt)
        except SettingValueError as exc:
            self.id_preview.setWordWrap(True)
            self.id_preview.setText(str(exc))
            self.id_preview.setStyleSheet("color: #b71c1c;")
            self.id_warning.setVisible(False)
            return
        self.id_preview.setStyleSheet("")
        # One line: the form gets a wrapped rich-text label's height wrong at its next
        # resize (a notice appearing), and every row below it would jump.
        self.id_preview.setWordWrap(False)
        self.id_preview.setText(
            f"Example: <b>{html.escape(preferences.id_format_example(fmt))}</b> "
            "(N = digit, A = capital letter, anything else as written)"
        )
        stored = self._stored("patient_id_format")
        if stored is not None and fmt != stored.value and not self._read_only:
            self._count_timer.start()
        else:
            self._count_timer.stop()
            self._ctx.tasks.cancel(self._count_key)
            self.id_warning.setVisible(False)

    def _count_ids(self) -> None:
        fmt = self.id_format.value()
        db = self._ctx.db

        def count() -> int:
            with db.session() as session:
                return preferences.count_ids_not_matching(session, fmt)

        self._ctx.tasks.run(
            count,
            on_success=lambda n: self._show_id_count(fmt, n),
            on_error=lambda _exc: None,  # only a hint; the save itself reports problems
            key=self._count_key,
        )

    def _show_id_count(self, fmt: str, n: int) -> None:
        if fmt != self.id_format.value():
            return
        if n == 0:
            self.id_warning.setText("Every existing patient ID matches this format.")
        else:
            patients = "patient has an ID" if n == 1 else "patients have IDs"
            self.id_warning.setText(
                f"{n} existing {patients} that do not match this format. IDs are not "
                "rewritten; such a patient's demographics can only be saved again with an "
                "ID that matches."
            )
        self.id_warning.setVisible(True)


def give_keys(form: QFormLayout, editors: dict[str, Editor]) -> None:
    """Alt+letter on each row's label, going to the setting's own input (some rows
    hold a box around it, with a hint or a preview)."""
    for row in range(form.rowCount()):
        item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        label = item.widget() if item is not None else None
        if not isinstance(label, QLabel):
            continue
        key = next((k for k, v in LABELS.items() if label.text() == f"{v}:"), None)
        if key in KEYED_LABELS and key in editors:
            label.setText(KEYED_LABELS[key])
            label.setBuddy(editors[key].widget)


def with_hint(widget: QWidget, hint: str) -> QWidget:
    """The widget with a grey hint on its right."""
    label = QLabel(hint)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    widget.setMinimumWidth(120)
    row.addWidget(widget)
    row.addWidget(label, 1)
    return box
