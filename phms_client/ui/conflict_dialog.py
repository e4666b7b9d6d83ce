"""Someone else saved first: Cancel / Compare / Overwrite. Never overwrite silently.

The dialog only decides; the form that opened it does the saving. ``Overwrite``
means "save mine on top of *their* version" (the form retries with
``theirs.version``); if yet another change slipped in, the form asks again.
"""

from __future__ import annotations

import enum
from dataclasses import fields
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import (
    SEX_LABELS,
    STATUS_LABELS,
    format_day,
    ph_group_label,
)
from phms_client.services.patients import PatientDetails, PatientInput

__all__ = ["FIELD_LABELS", "Choice", "ConflictDialog", "ConflictModel", "display_value"]

AnyIndex = QModelIndex | QPersistentModelIndex

FIELD_LABELS: Final = {
    "patient_code": "Patient ID",
    "family_name": "Family name",
    "given_name": "Given name",
    "sex": "Sex",
    "birth_date": "Date of birth",
    "phone": "Phone",
    "email": "Email",
    "address": "Address",
    "ph_group": "PH group",
    "ph_subtype": "PH subtype",
    "status": "Status",
    "deceased_date": "Date of death",
}
_DIFF_BACKGROUND: Final = QColor(255, 236, 179)  # amber 100: readable in light and dark text


def display_value(name: str, value: object) -> str:
    """A field's value as the forms show it."""
    if value is None or value == "":
        return "—"
    if name in ("birth_date", "deceased_date"):
        return format_day(value)  # type: ignore[arg-type]
    if name == "sex":
        return SEX_LABELS.get(str(value), str(value))
    if name == "status":
        return STATUS_LABELS.get(str(value), str(value))
    if name == "ph_group":
        return ph_group_label(value)  # type: ignore[arg-type]
    return " ".join(str(value).split())


def describe_change(theirs: PatientDetails) -> str:
    """ "Changed by t_clinician on 24 Nov 2026 at 10:42"."""
    who = theirs.updated_by or "someone"
    if theirs.updated_at is None:
        return f"Changed by {who}"
    local = theirs.updated_at.astimezone()
    return f"Changed by {who} on {format_day(local.date())} at {local:%H:%M}"


class Choice(enum.Enum):
    CANCEL = "cancel"
    OVERWRITE = "overwrite"


class ConflictModel(QAbstractTableModel):
    """Field | theirs (saved) | yours; rows that differ are highlighted."""

    def __init__(
        self, theirs: PatientInput, mine: PatientInput, *, their_label: str, parent: Any = None
    ):
        super().__init__(parent)
        self._headers = ("Field", their_label, "Yours (not saved)")
        self._rows: list[tuple[str, str, str, bool]] = []
        for f in fields(PatientInput):
            a, b = getattr(theirs, f.name), getattr(mine, f.name)
            differs = _normal(a) != _normal(b)
            self._rows.append(
                (
                    FIELD_LABELS.get(f.name, f.name),
                    display_value(f.name, a),
                    display_value(f.name, b),
                    differs,
                )
            )

    @property
    def differing(self) -> list[str]:
        return [label for label, _, _, differs in self._rows if differs]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < 3
        ):
            return self._headers[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        differs = row[3]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[index.column()]
        if role == Qt.ItemDataRole.BackgroundRole and differs:
            return QBrush(_DIFF_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole and differs:
            return QBrush(QColor(0, 0, 0))  # dark text on the amber background
        if role == Qt.ItemDataRole.FontRole and differs:
            font = QFont()
            font.setBold(True)
            return font
        return None


def _normal(value: object) -> object:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    return value


class ConflictDialog(QDialog):
    """Ask what to do with a save that came too late. Read :attr:`choice` after it closes."""

    def __init__(self, theirs: PatientDetails, mine: PatientInput, parent: QWidget | None = None):
        super().__init__(parent)
        self.theirs = theirs
        self.mine = mine
        self.choice = Choice.CANCEL
        self.setWindowTitle("PHMS — Someone else saved this patient")
        self.model = ConflictModel(
            theirs.as_input(),
            mine,
            their_label=f"Saved by {theirs.updated_by or 'someone'}",
            parent=self,
        )

        self.message = QLabel(
            f"<b>{describe_change(theirs)}</b>, while you were editing "
            f"{theirs.family_name}, {theirs.given_name} ({theirs.patient_code}).<br><br>"
            "Your changes are not saved yet. Nothing is lost: you decide what happens."
        )
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        differing = self.model.differing
        self.summary = QLabel(
            ("Fields that differ: " + ", ".join(differing) + ".")
            if differing
            else "Your entries and the saved record are the same."
        )
        self.summary.setWordWrap(True)

        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.sectionResized.connect(lambda *_: self._fit_rows())
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.hide()

        self.cancel_button = QPushButton("&Cancel — keep editing mine")
        self.cancel_button.setToolTip(
            "Close this message and go back to your entries. Nothing is saved."
        )
        self.compare_button = QPushButton("Co&mpare")
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip("Show the saved record and your entries side by side.")
        self.overwrite_button = QPushButton("&Overwrite with mine")
        self.overwrite_button.setToolTip(
            f"Save your entries on top of the version saved by {theirs.updated_by}. "
            "Their changes to the fields that differ are replaced (kept in the audit trail)."
        )
        self.cancel_button.setDefault(True)
        self.cancel_button.setAutoDefault(True)
        self.compare_button.setAutoDefault(False)
        self.overwrite_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.compare_button.toggled.connect(self.set_comparing)
        self.overwrite_button.clicked.connect(self._overwrite)

        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.overwrite_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.setMinimumWidth(560)

    @property
    def comparing(self) -> bool:
        return self.table.isVisibleTo(self)

    def _fit_rows(self) -> None:
        """Rows as tall as their (wrapped) text, the table as tall as its rows."""
        if not self.table.isVisibleTo(self):
            return
        self.table.resizeRowsToContents()
        for row in range(self.model.rowCount()):
            self.table.setRowHeight(row, self.table.rowHeight(row) + 6)
        self.table.setMinimumHeight(
            self.table.horizontalHeader().sizeHint().height()
            + self.table.verticalHeader().length()
            + 2 * self.table.frameWidth()
        )

    def set_comparing(self, on: bool) -> None:
        self.table.setVisible(on)
        if on:
            layout = self.layout()
            if layout is not None:
                layout.activate()
            self._fit_rows()
        if self.compare_button.isChecked() != on:
            self.compare_button.setChecked(on)
        self.compare_button.setText("Hide co&mparison" if on else "Co&mpare")
        self.adjustSize()

    def _overwrite(self) -> None:
        self.choice = Choice.OVERWRITE
        self.accept()

    def reject(self) -> None:
        self.choice = Choice.CANCEL
        super().reject()
