"""Someone else saved this record first: Cancel / Compare / Overwrite, never silently.

The same choice as the patient form's conflict dialog, for any clinical entry:
the rows are the entry's fields as the forms show them (the server's copy and
the unsaved one). The dialog only decides; the form saves. ``Overwrite`` means
"save mine on top of *their* version" (the form retries with their version).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
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

from phms_client.clinical.demographics import format_day
from phms_client.services.chart import Stamp

__all__ = [
    "Choice",
    "ConflictChoiceDialog",
    "ConflictRows",
    "RecordConflictDialog",
    "RecordConflictModel",
    "changed_by",
]

AnyIndex = QModelIndex | QPersistentModelIndex
#: (field label, the server's value, the unsaved value), as displayed.
ConflictRows = Sequence[tuple[str, str, str]]
_DIFF_BACKGROUND: Final = QColor(255, 236, 179)  # amber 100: readable in light and dark text


class Choice(enum.Enum):
    CANCEL = "cancel"
    OVERWRITE = "overwrite"


def changed_by(stamp: Stamp) -> str:
    """ "Changed by t_clinician on 24 Nov 2026 at 10:42"."""
    local = stamp.updated_at.astimezone()
    return f"Changed by {stamp.updated_by} on {format_day(local.date())} at {local:%H:%M}"


def _normal(text: str) -> str:
    return " ".join(text.split())


class RecordConflictModel(QAbstractTableModel):
    """Field | theirs (saved) | yours; differing rows highlighted.

    A row differs when its displayed values differ, unless ``differs`` (one flag a
    row) says otherwise: the patient form compares the values themselves.
    """

    def __init__(
        self,
        rows: ConflictRows,
        *,
        their_label: str,
        differs: Sequence[bool] | None = None,
        parent: Any = None,
    ):
        super().__init__(parent)
        self._headers = ("Field", their_label, "Yours (not saved)")
        flags = [_normal(b) != _normal(c) for _, b, c in rows] if differs is None else differs
        self._rows = [(a, b, c, flag) for (a, b, c), flag in zip(rows, flags, strict=True)]

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


class ConflictChoiceDialog(QDialog):
    """Cancel / Compare / Overwrite over a :class:`RecordConflictModel`.

    Read :attr:`choice` after it closes. Subclasses give the words and size the
    comparison table.
    """

    def __init__(
        self,
        model: RecordConflictModel,
        *,
        title: str,
        message: str,
        same_text: str,
        cancel_tip: str,
        compare_tip: str,
        saved_by: str | None,
        min_width: int,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.choice = Choice.CANCEL
        self.setWindowTitle(title)
        model.setParent(self)
        self.model = model
        self.message = QLabel(message)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        differing = self.model.differing
        self.summary = QLabel(
            ("Fields that differ: " + ", ".join(differing) + ".") if differing else same_text
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
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.hide()

        self.cancel_button = QPushButton("&Cancel — keep editing mine")
        self.cancel_button.setToolTip(cancel_tip)
        self.compare_button = QPushButton("Co&mpare")
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip(compare_tip)
        self.overwrite_button = QPushButton("&Overwrite with mine")
        self.overwrite_button.setToolTip(
            f"Save your entries on top of the version saved by {saved_by}. "
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
        self.setMinimumWidth(min_width)

    @property
    def comparing(self) -> bool:
        return self.table.isVisibleTo(self)

    def _table_shown(self) -> None:
        """Called when the comparison appears: subclasses may size the table then."""

    def set_comparing(self, on: bool) -> None:
        self.table.setVisible(on)
        if on:
            self._table_shown()
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


class RecordConflictDialog(ConflictChoiceDialog):
    """Ask what to do with a clinical entry whose save came too late."""

    def __init__(
        self,
        what: str,
        theirs: Stamp,
        rows: ConflictRows,
        parent: QWidget | None = None,
    ):
        super().__init__(
            RecordConflictModel(rows, their_label=f"Saved by {theirs.updated_by}"),
            title="PHMS — Someone else saved this entry",
            message=(
                f"<b>{changed_by(theirs)}</b>, while you were editing {what}.<br><br>"
                "Your changes are not saved yet. Nothing is lost: you decide what happens."
            ),
            same_text="Your entries and the saved entry are the same.",
            cancel_tip="Go back to your entries. Nothing is saved.",
            compare_tip="Show the saved entry and yours side by side.",
            saved_by=theirs.updated_by,
            min_width=600,
            parent=parent,
        )
        self.theirs = theirs
        shown = min(max(len(rows), 3), 14)
        self.table.setMinimumHeight(
            self.table.horizontalHeader().sizeHint().height()
            + shown * self.table.verticalHeader().defaultSectionSize()
            + 4
        )
