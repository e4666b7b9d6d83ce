"""The Preferences window's editors: one widget per kind of setting value.

Each :class:`Editor` reads and writes one setting's value, can be locked read-only and
reports edits; :func:`editor_for` picks one for a setting the window knows nothing
special about (those go to the *Other* tab). Also the settings' labels as people read
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from phms_client.services import preferences
from phms_client.services.preferences import SettingRow, SettingValueError

__all__ = [
    "KEYED_LABELS",
    "LABELS",
    "AgentsEditor",
    "BoolEditor",
    "Editor",
    "IntEditor",
    "JsonViewer",
    "LinesEditor",
    "NumberEditor",
    "TextEditor",
    "editor_for",
    "label_of",
    "readable",
    "show_value",
]

#: Settings shown on a tab of their own; everything else goes to "Other".
GENERAL_KEYS: Final = (
    "patient_id_format",
    "idle_lock_minutes",
    "remember_password_allowed",
    "password_min_length",
    "error_check_sd",
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
