"""Options > Preferences…: the clinic's settings, shared by every workstation.

The values are the rows of ``phms.setting`` (:mod:`phms_client.services.preferences`).
Everyone may look; only admins may change them, which the database enforces (a
non-admin sees the window read-only with a note, and a save that bypassed the window
would still be refused with "not allowed").

Saving sends only what was changed, each with the version it was loaded at. When
another admin saved one of the same settings meanwhile, nothing is saved and the
dialog shows theirs against yours: *Keep mine* saves over theirs, *Use theirs* puts
their values in the form. Changes saved elsewhere while the window is open appear in
fields that were not touched. Every running PHMS applies a saved change within a
moment (:class:`~phms_client.ui.shell.site_settings.SiteSettingsWatch`).
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
from collections.abc import Callable
from typing import Any, Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import format_moment
from phms_client.db.errors import classify
from phms_client.services import preferences
from phms_client.services.preferences import SettingRow, SettingValueError, StaleSettings
from phms_client.ui.admin.registry_upload_panel import RegistryUploadPanel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice
from phms_client.version import client_version
from phms_schema.ddl_compat import DOWNLOAD_HINT_KEY, MAX_DOWNLOAD_HINT, MIN_CLIENT_KEY

__all__ = ["PreferencesDialog"]

log = logging.getLogger(__name__)

READ_ONLY_NOTE: Final = (
    "Only PHMS administrators can change the clinic's preferences. You can look at "
    "them here; ask an administrator if one should change."
)
ADMIN_NOTE: Final = (
    "These settings are shared by every workstation of the clinic. A saved change "
    "applies at once on every running PHMS, without logging in again."
)
OTHER_NOTE: Final = (
    "Other site settings. Lists with a structure of their own are shown here as they "
    "are stored; they are not edited in this window. Report templates are kept with "
    "the reports, not here."
)

WORKSTATIONS_NOTE: Final = (
    "A workstation whose PHMS is older than the version below cannot log in: it is told "
    "which version it needs and where to get it. “phms-admin db upgrade” raises the "
    "version when a change of the database needs newer workstations. You may raise it "
    "here, up to this workstation's own version; only IT can lower it."
)

#: Settings shown on a tab of their own; everything else goes to "Other".
GENERAL_KEYS: Final = (
    "patient_id_format",
    "idle_lock_minutes",
    "remember_password_allowed",
    "password_min_length",
    "error_check_sd",
    MIN_CLIENT_KEY,
    DOWNLOAD_HINT_KEY,
)
LABELS: Final = {
    "patient_id_format": "Patient ID format",
    "idle_lock_minutes": "Lock the screen after",
    "remember_password_allowed": "Remembered passwords",
    "password_min_length": "Minimum password length",
    "error_check_sd": "Error check threshold",
    "appointment_kinds": "Appointment kinds",
    "pah_medicines": "PAH medicines",
    "vasodilator_agents": "Vasodilator agents",
    "ph_groups": "PH groups",
    "clinic_hours": "Clinic hours",
    "min_client_version": "Oldest PHMS accepted",
    "client_download_hint": "Where to get PHMS",
}

#: Labels with their Alt+letters (Save is Alt+S).
KEYED_LABELS: Final = {
    "patient_id_format": "&Patient ID format:",
    "idle_lock_minutes": "&Lock the screen after:",
    "remember_password_allowed": "Remembered pass&words:",
    "password_min_length": "Minimum password le&ngth:",
    "error_check_sd": "Error check t&hreshold:",
    "ph_groups": "PH &groups:",  # (on the Other tab)
    "clinic_hours": "Clin&ic hours:",  # (on the Other tab)
    "min_client_version": "&Oldest PHMS accepted:",
    "client_download_hint": "Where to &get PHMS:",
}


def label_of(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def show_value(value: Any) -> str:
    """A setting's value in a line, for the conflict message."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return "; ".join(
            f"{v['name']} ({v.get('unit', '')}: {preferences.format_doses(v.get('doses', []))})"
            for v in value
        )
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- editors


class Editor:
    """One setting's widget: read and write its value, lock it, report edits."""

    def __init__(self, key: str, widget: QWidget) -> None:
        self.key = key
        self.widget = widget
        if not widget.accessibleName():  # its row's label is on a box around it
            widget.setAccessibleName(label_of(key))
        self.on_edit: Callable[[], None] = lambda: None

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_read_only(self, read_only: bool) -> None:
        self.widget.setEnabled(not read_only)

    def differs_from(self, stored: Any) -> bool:
        try:
            return bool(self.value() != stored)
        except (SettingValueError, ValueError):
            return True  # something unreadable was typed: that is a change


class TextEditor(Editor):
    def __init__(self, key: str, edit: QLineEdit | None = None) -> None:
        self.edit = edit or QLineEdit()
        super().__init__(key, self.edit)
        self.edit.textChanged.connect(lambda _t: self.on_edit())

    def value(self) -> Any:
        return self.edit.text().strip()

    def set_value(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)


class SpinEditor(Editor):
    """A number in a spin box; read-only shows no arrows."""

    spin: QSpinBox | QDoubleSpinBox

    def set_read_only(self, read_only: bool) -> None:
        self.spin.setReadOnly(read_only)
        self.spin.setButtonSymbols(
            QAbstractSpinBox.ButtonSymbols.NoButtons
            if read_only
            else QAbstractSpinBox.ButtonSymbols.UpDownArrows
        )


class IntEditor(SpinEditor):
    def __init__(self, key: str, low: int, high: int, suffix: str = "") -> None:
        self.spin = QSpinBox()
        self.spin.setRange(low, high)
        self.spin.setSuffix(suffix)
        self.spin.setAccelerated(True)
        super().__init__(key, self.spin)
        self.spin.valueChanged.connect(lambda _v: self.on_edit())

    def value(self) -> Any:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(int(value))
        self.spin.blockSignals(False)


class NumberEditor(SpinEditor):
    def __init__(self, key: str, low: float, high: float, suffix: str = "") -> None:
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(1)
        self.spin.setRange(low, high)
        self.spin.setSuffix(suffix)
        super().__init__(key, self.spin)
        self.spin.valueChanged.connect(lambda _v: self.on_edit())

    def value(self) -> Any:
        number = self.spin.value()
        return int(number) if float(number).is_integer() else number

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(float(value))
        self.spin.blockSignals(False)


class BoolEditor(Editor):
    def __init__(self, key: str, text: str) -> None:
        self.box = QCheckBox(text)
        super().__init__(key, self.box)
        self.box.toggled.connect(lambda _on: self.on_edit())

    def value(self) -> Any:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class LinesEditor(Editor):
    """A list of names, one per line."""

    def __init__(self, key: str) -> None:
        self.edit = QPlainTextEdit()
        self.edit.setTabChangesFocus(True)
        super().__init__(key, self.edit)
        self.edit.textChanged.connect(self._changed)
        self._setting = False

    def _changed(self) -> None:
        if not self._setting:
            self.on_edit()

    def value(self) -> Any:
        return [line.strip() for line in self.edit.toPlainText().splitlines() if line.strip()]

    def set_value(self, value: Any) -> None:
        self._setting = True
        self.edit.setPlainText("\n".join(str(v) for v in value or []))
        self._setting = False

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)


class AgentsEditor(Editor):
    """Vasodilator agents: name, dose unit and dose steps, one agent per row."""

    COLUMNS: Final = ("Agent", "Dose unit", "Dose steps")

    def __init__(self, key: str) -> None:
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setAccessibleName(label_of(key))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.add_button = QPushButton("A&dd agent")
        self.remove_button = QPushButton("Re&move agent")
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_current)
        hint = QLabel(
            "Dose steps: the doses offered in a challenge, separated by commas, e.g. "
            "“10, 20, 40”. Challenges recorded earlier keep the agent and dose they were "
            "given."
        )
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        super().__init__(key, box)
        self._setting = False
        self.table.itemChanged.connect(self._changed)

    def _changed(self, _item: QTableWidgetItem) -> None:
        if not self._setting:
            self.on_edit()

    def add_row(self) -> None:
        row = self.table.rowCount()
        self._setting = True
        self.table.insertRow(row)
        for column in range(len(self.COLUMNS)):
            self.table.setItem(row, column, QTableWidgetItem(""))
        self._setting = False
        self.table.setCurrentCell(row, 0)
        self.table.editItem(self.table.item(row, 0))
        self.on_edit()

    def remove_current(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self.on_edit()

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text().strip() if item is not None else ""

    def value(self) -> Any:
        agents = []
        for row in range(self.table.rowCount()):
            name, unit, doses = (self._text(row, c) for c in range(3))
            if not (name or unit or doses):
                continue  # an empty row added by mistake
            try:
                steps = preferences.parse_doses(doses)
            except ValueError as exc:
                raise SettingValueError(
                    self.key, f"Dose steps of “{name or f'agent {row + 1}'}”: {exc}."
                ) from None
            agents.append({"name": name, "unit": unit, "doses": steps})
        return agents

    def set_value(self, value: Any) -> None:
        self._setting = True
        self.table.setRowCount(0)
        for agent in value or []:
            row = self.table.rowCount()
            self.table.insertRow(row)
            texts = (
                str(agent.get("name", "")),
                str(agent.get("unit", "")),
                preferences.format_doses(list(agent.get("doses", []))),
            )
            for column, text in enumerate(texts):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self._setting = False

    def set_read_only(self, read_only: bool) -> None:
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.NoEditTriggers
            if read_only
            else QAbstractItemView.EditTrigger.AllEditTriggers
        )
        self.add_button.setVisible(not read_only)
        self.remove_button.setVisible(not read_only)


class JsonViewer(Editor):
    """A structured setting shown as stored (not edited here)."""

    def __init__(self, key: str) -> None:
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMinimumHeight(120)
        self.view.setMaximumHeight(230)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        super().__init__(key, self.view)
        self._value: Any = None

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = value
        self.view.setPlainText(readable(value))

    def set_read_only(self, read_only: bool) -> None:
        self.view.setReadOnly(True)


def readable(value: Any) -> str:
    """A stored structure as people read it: groups and their subtypes, else JSON."""
    if isinstance(value, list) and all(
        isinstance(v, dict) and "name" in v and isinstance(v.get("subtypes", []), list)
        for v in value
    ):
        lines = []
        for item in value:
            number = f"{item['group']}  " if "group" in item else ""
            lines.append(f"{number}{item['name']}")
            lines += [f"      • {sub}" for sub in item.get("subtypes", [])]
        return "\n".join(lines)
    return json.dumps(value, ensure_ascii=False, indent=2)


def editor_for(row: SettingRow) -> Editor:
    """A widget for a setting the window knows nothing special about."""
    if row.value_type == "boolean":
        return BoolEditor(row.key, "On")
    if row.value_type == "integer":
        return IntEditor(row.key, -1_000_000_000, 1_000_000_000)
    if row.value_type == "number":
        return NumberEditor(row.key, -1e12, 1e12)
    if row.value_type == "text":
        return TextEditor(row.key)
    if row.value_type == "list" and all(isinstance(v, str) for v in row.value or []):
        return LinesEditor(row.key)
    return JsonViewer(row.key)


# --------------------------------------------------------------------------- dialog


class PreferencesDialog(QDialog):
    """Emits ``saved()`` after a successful save (then closes)."""

    saved = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Preferences")
        self._ctx = ctx
        self._load_key = ("preferences-load", id(self))
        self._save_key = ("preferences-save", id(self))
        self._count_key = ("preferences-ids", id(self))
        self.read_only = ctx.login.group != "admin"
        self.rows: dict[str, SettingRow] = {}
        self.editors: dict[str, Editor] = {}
        self._tab_of: dict[str, int] = {}
        self._saving = False
        #: Settings saved elsewhere while changed here (the save will ask): key → theirs.
        self.changed_elsewhere: dict[str, SettingRow] = {}
        self.conflict_box: QMessageBox | None = None

        self.note_frame = QFrame()
        self.note_frame.setObjectName("prefsNote")
        self.note_frame.setStyleSheet(
            "#prefsNote { background: #fff8e1; border: 1px solid #e6c66a; border-radius: 4px; }"
            if self.read_only
            else "#prefsNote { background: #eef4fb; border: 1px solid #b7cde6; "
            "border-radius: 4px; }"
        )
        self.note_label = QLabel(READ_ONLY_NOTE if self.read_only else ADMIN_NOTE)
        self.note_label.setWordWrap(True)
        note_layout = QVBoxLayout(self.note_frame)
        note_layout.setContentsMargins(10, 8, 10, 8)
        note_layout.addWidget(self.note_label)

        self.tabs = QTabWidget()
        self._build_general()
        self._build_list_tab("appointment_kinds", "Appointments", self._kinds_hint())
        self._build_agents()
        self._build_list_tab(
            "pah_medicines",
            "Medicines",
            "PAH medicines offered in the medication pick list, one per line. Other "
            "medicines can still be typed in.",
        )
        self.other_tab = QWidget()
        self.other_form = QFormLayout()
        self._build_other()
        if not self.read_only:  # the upload state is for admins only
            self.tabs.addTab(RegistryUploadPanel(ctx), "Registry upload")

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)
        self.status_label = QLabel("Loading the clinic's preferences…")
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.status_label.setWordWrap(True)

        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(
            "Close" if self.read_only else "Cancel", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.save_button.setDefault(True)
        self.save_button.setVisible(not self.read_only)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.note_frame)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.connection_notice = add_connection_notice(ctx, self)
        self.tabs.setEnabled(False)
        self.resize(700, 500)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(400)
        self._count_timer.timeout.connect(self._count_ids)

        ctx.live.changed.connect(self._live_change)
        self._listening = True
        self.load()

    # ----------------------------------------------------------------- building

    def _add(self, editor: Editor, tab: int) -> Editor:
        self.editors[editor.key] = editor
        self._tab_of[editor.key] = tab
        editor.on_edit = lambda key=editor.key: self._edited(key)
        return editor

    def _build_general(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        tab = self.tabs.addTab(page, "General")

        id_edit = QLineEdit()
        id_edit.setMaxLength(preferences.ID_FORMAT_MAX_LENGTH)
        id_edit.setValidator(QRegularExpressionValidator(r"[A-Za-z0-9./\-]*", id_edit))
        self.id_format = TextEditor("patient_id_format", id_edit)
        self._add(self.id_format, tab)
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
        id_edit.textChanged.connect(self._id_format_changed)

        self.idle = IntEditor("idle_lock_minutes", 0, preferences.IDLE_LOCK_MAX_MINUTES, " min")
        self.idle.spin.setSpecialValueText("never")
        self._add(self.idle, tab)
        form.addRow(
            f"{label_of('idle_lock_minutes')}:",
            self._with_hint(self.idle.widget, "without keyboard or mouse input (0 = never lock)."),
        )

        self.remember = BoolEditor(
            "remember_password_allowed",
            "Staff may let PHMS remember their password on their workstation",
        )
        self._add(self.remember, tab)
        form.addRow(f"{label_of('remember_password_allowed')}:", self.remember.widget)

        self.min_length = IntEditor(
            "password_min_length",
            preferences.PASSWORD_MIN_LENGTH_FLOOR,
            preferences.PASSWORD_MIN_LENGTH_CEILING,
            " characters",
        )
        self._add(self.min_length, tab)
        form.addRow(
            f"{label_of('password_min_length')}:",
            self._with_hint(
                self.min_length.widget,
                "for new passwords (at least 8); passwords already set stay valid.",
            ),
        )

        self.error_sd = NumberEditor("error_check_sd", 1, 1000, " SD")
        self._add(self.error_sd, tab)
        form.addRow(
            f"{label_of('error_check_sd')}:",
            self._with_hint(
                self.error_sd.widget,
                "Tools > Error check lists values this many standard deviations from the "
                "trimmed mean.",
            ),
        )
        self._add_workstations(form, tab)
        self._give_keys(form)

    def _add_workstations(self, form: QFormLayout, tab: int) -> None:
        """The compatibility window: which PHMS may log in, and where to get it."""
        note = QLabel(WORKSTATIONS_NOTE)
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        note.setContentsMargins(0, 10, 0, 0)  # (apart from the settings above)
        form.addRow(note)
        version_edit = QLineEdit()
        version_edit.setMaxLength(30)
        version_edit.setValidator(QRegularExpressionValidator(r"[0-9.]*", version_edit))
        self.min_client = self._add(TextEditor(MIN_CLIENT_KEY, version_edit), tab)
        form.addRow(
            f"{label_of(MIN_CLIENT_KEY)}:",
            self._with_hint(version_edit, f"this workstation runs PHMS {client_version()}"),
        )
        hint_edit = QLineEdit()
        hint_edit.setMaxLength(MAX_DOWNLOAD_HINT)
        hint_edit.setPlaceholderText(r"e.g. https://it.clinic.example/phms or \\server\phms")
        self.download_hint = self._add(TextEditor(DOWNLOAD_HINT_KEY, hint_edit), tab)
        form.addRow(f"{label_of(DOWNLOAD_HINT_KEY)}:", hint_edit)

    def _give_keys(self, form: QFormLayout) -> None:
        """Alt+letter on each row's label, going to the setting's own input (some rows
        hold a box around it, with a hint or a preview)."""
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label = item.widget() if item is not None else None
            if not isinstance(label, QLabel):
                continue
            key = next((k for k, v in LABELS.items() if label.text() == f"{v}:"), None)
            if key in KEYED_LABELS and key in self.editors:
                label.setText(KEYED_LABELS[key])
                label.setBuddy(self.editors[key].widget)

    @staticmethod
    def _with_hint(widget: QWidget, hint: str) -> QWidget:
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

    @staticmethod
    def _kinds_hint() -> str:
        return (
            "The kinds of appointment offered when booking, one per line. Appointments "
            "booked earlier keep their kind."
        )

    def _build_list_tab(self, key: str, title: str, hint: str) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        label = QLabel(hint)
        label.setWordWrap(True)
        editor = LinesEditor(key)
        layout.addWidget(label)
        layout.addWidget(editor.widget, 1)
        self._add(editor, self.tabs.addTab(page, title))

    def _build_agents(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        label = QLabel("Agents offered in a vasodilator challenge, with the unit of their dose.")
        label.setWordWrap(True)
        self.agents = AgentsEditor("vasodilator_agents")
        layout.addWidget(label)
        layout.addWidget(self.agents.widget, 1)
        self._add(self.agents, self.tabs.addTab(page, "Vasodilator agents"))

    def _build_other(self) -> None:
        note = QLabel(OTHER_NOTE)
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addWidget(note)
        inner_layout.addLayout(self.other_form)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        page_layout = QVBoxLayout(self.other_tab)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(scroll)
        self._other_index = self.tabs.addTab(self.other_tab, "Other")

    def _add_other(self, row: SettingRow) -> None:
        editor = self._add(editor_for(row), self._other_index)
        editor.widget.setToolTip(row.description)
        caption = QLabel(KEYED_LABELS.get(row.key, f"{label_of(row.key)}:"))
        caption.setBuddy(editor.widget)
        self.other_form.addRow(caption, editor.widget)
        if row.description:
            hint = QLabel(row.description)
            hint.setWordWrap(True)
            hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self.other_form.addRow("", hint)
        # Made after the buttons: Tab would reach it after them. Put it before.
        QWidget.setTabOrder(editor.widget, self.save_button)
        QWidget.setTabOrder(self.save_button, self.close_button)

    # ----------------------------------------------------------------- loading

    def load(self) -> None:
        db = self._ctx.db

        def fetch() -> dict[str, SettingRow]:
            with db.session() as session:
                return preferences.load(session)

        self._ctx.tasks.run(
            fetch, on_success=self._loaded, on_error=self._load_failed, key=self._load_key
        )

    def _loaded(self, rows: dict[str, SettingRow]) -> None:
        first = not self.rows
        for key, row in rows.items():
            editor = self.editors.get(key)
            if editor is None:
                self._add_other(row)
                editor = self.editors[key]
            old = self.rows.get(key)
            if old is None or not editor.differs_from(old.value):
                editor.set_value(row.value)  # untouched here: show the server's value
                self.rows[key] = row
            elif old.version != row.version:
                self.changed_elsewhere[key] = row
        for key, editor in self.editors.items():
            editor.set_read_only(self.read_only or key not in self.rows)
            editor.widget.setToolTip(self._tooltip(key))
        self.tabs.setEnabled(True)
        self._update_state()
        if first:
            self.id_format.edit.setFocus()

    def _load_failed(self, exc: BaseException) -> None:
        if self._ctx.connection.handle_error(exc):
            self.status_label.setText(
                "The server cannot be reached; the preferences are not shown."
            )
            return
        self.show_message(self._error_text(exc))

    def _tooltip(self, key: str) -> str:
        row = self.rows.get(key)
        if row is None:
            return "Not stored in the database yet."
        when = format_moment(row.updated_at)
        if row.version == 1:  # as installed: the installer's database login is no one here
            return f"{row.description}\nAs installed on {when}; not changed since."
        return f"{row.description}\nLast changed by {row.updated_by}, {when}."

    def _live_change(self, payload: dict[str, Any]) -> None:
        if payload.get("table") == "setting" and not self._saving and self.isVisible():
            self.load()

    def _elsewhere_text(self) -> str | None:
        pending = [
            row
            for key, row in self.changed_elsewhere.items()
            if self.editors[key].differs_from(self.rows[key].value)
        ]
        if not pending:
            return None
        names = ", ".join(label_of(r.key) for r in pending)
        who = ", ".join(sorted({r.updated_by for r in pending}))
        return (
            f"{names} was just changed by {who}. Your change is kept on screen; saving "
            "will ask which one to keep."
        )

    # ----------------------------------------------------------------- editing

    def changes(self) -> dict[str, tuple[Any, int]]:
        """What was changed here: ``{key: (value, version it was loaded at)}``.

        Raises :class:`SettingValueError` for a value that cannot be read.
        """
        result: dict[str, tuple[Any, int]] = {}
        for key, row in self.rows.items():
            editor = self.editors[key]
            if isinstance(editor, JsonViewer):
                continue
            if editor.differs_from(row.value):
                result[key] = (editor.value(), row.version)
        return result

    def is_dirty(self) -> bool:
        return any(
            not isinstance(self.editors[k], JsonViewer) and self.editors[k].differs_from(r.value)
            for k, r in self.rows.items()
        )

    def _edited(self, _key: str) -> None:
        self.message_label.setVisible(False)
        self._update_state()

    def _update_state(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty and not self._saving and self._ctx.can_edit)
        if not self.rows:
            return
        if self.read_only:
            self.status_label.setText(self._last_change_text())
        elif dirty:
            self.status_label.setText(self._elsewhere_text() or "Changes not saved yet.")
        else:
            self.status_label.setText(self._last_change_text())

    def _last_change_text(self) -> str:
        changed = [r for r in self.rows.values() if r.version > 1]
        if not changed:
            installed = max(r.updated_at for r in self.rows.values())
            return f"All settings as installed on {format_moment(installed)}; none changed since."
        latest = max(changed, key=lambda r: r.updated_at)
        when = format_moment(latest.updated_at)
        return f"Last change: {label_of(latest.key).lower()}, by {latest.updated_by} on {when}."

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
        stored = self.rows.get("patient_id_format")
        if stored is not None and fmt != stored.value and not self.read_only:
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

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    # ----------------------------------------------------------------- saving

    def save(self) -> None:
        """Save what changed (no check of the user's group here: the database decides)."""
        if self._saving:
            return
        try:
            changes = self.changes()
            for key, (value, _version) in changes.items():
                preferences.validate(key, value)
        except SettingValueError as exc:
            self._show_invalid(exc)
            return
        if not changes:
            self.accept()
            return
        self._submit(changes)

    def _submit(self, changes: dict[str, tuple[Any, int]]) -> None:
        db = self._ctx.db

        def write() -> dict[str, SettingRow]:
            with db.session() as session:
                return preferences.save(session, changes)

        self._saving = True
        self._update_state()
        self.status_label.setText("Saving…")
        self._ctx.tasks.run(
            write, on_success=self._saved, on_error=self._save_failed, key=self._save_key
        )

    def _show_invalid(self, exc: SettingValueError) -> None:
        self.show_message(str(exc))
        tab = self._tab_of.get(exc.key)
        if tab is not None:
            self.tabs.setCurrentIndex(tab)
        editor = self.editors.get(exc.key)
        if editor is not None:
            editor.widget.setFocus()

    def _saved(self, rows: dict[str, SettingRow]) -> None:
        self._saving = False
        self.rows.update(rows)
        log.info("preferences saved: %s", ", ".join(sorted(rows)))
        self.saved.emit()
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self._saving = False
        self._update_state()
        if isinstance(exc, StaleSettings):
            self._conflict(exc)
            return
        if isinstance(exc, SettingValueError):
            self._show_invalid(exc)
            return
        if self._ctx.connection.handle_error(exc):
            self.show_message(
                "The connection to the server was lost; nothing was saved. Your changes are "
                "still here; save again when the connection is back."
            )
            return
        self.show_message(self._error_text(exc))

    def _error_text(self, exc: BaseException) -> str:
        error = classify(exc, address=self._ctx.config.display_address())
        return f"{error.title}: {error.message}"

    def _conflict(self, stale: StaleSettings) -> None:
        """Someone saved some of the same settings first: show theirs against ours."""
        lines = []
        for key, theirs in sorted(stale.theirs.items()):
            when = theirs.updated_at.astimezone().strftime("%H:%M")
            yours = self.editors[key].value()
            lines.append(
                f"• {label_of(key)}: {theirs.updated_by} saved “{show_value(theirs.value)}” "
                f"at {when}; yours is “{show_value(yours)}”."
            )
        box = QMessageBox(
            QMessageBox.Icon.Warning, "PHMS — Changed by someone else", "", parent=self
        )
        box.setText("Someone else changed the same preferences while you were editing.")
        box.setInformativeText(
            "\n".join(lines) + "\n\nNothing has been saved yet. Keep your values (and save "
            "over theirs), or use theirs?"
        )
        self.keep_mine_button = box.addButton("Keep mine", QMessageBox.ButtonRole.AcceptRole)
        self.use_theirs_button = box.addButton("Use theirs", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(self.use_theirs_button)
        box.finished.connect(lambda _r, b=box, s=stale: self._conflict_answered(b, s))
        self.conflict_box = box
        box.open()

    def _conflict_answered(self, box: QMessageBox, stale: StaleSettings) -> None:
        self.conflict_box = None
        clicked = box.clickedButton()
        box.deleteLater()
        self.rows.update(stale.theirs)  # we have now seen their versions
        for key in stale.theirs:
            self.changed_elsewhere.pop(key, None)
        if clicked is self.keep_mine_button:
            self.save()
            return
        for key, row in stale.theirs.items():
            self.editors[key].set_value(row.value)
            self.editors[key].widget.setToolTip(self._tooltip(key))
        self._update_state()
        if self.is_dirty():
            self.status_label.setText(
                "Their values are shown now. Your other changes are not saved yet."
            )

    # ----------------------------------------------------------------- closing

    def done(self, result: int) -> None:
        if self._saving and result != QDialog.DialogCode.Accepted:
            return  # wait for the answer of the save on its way
        for key in (self._load_key, self._count_key):
            self._ctx.tasks.cancel(key)
        self._count_timer.stop()
        if self._listening:
            self._listening = False
            with contextlib.suppress(RuntimeError, TypeError):  # the session is gone
                self._ctx.live.changed.disconnect(self._live_change)
        super().done(result)
