"""Dialogs that ask why: OK only once a reason is typed (stopping an entry, deleting
one as entered in error)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.ui.shared.text_limits import limit_text

__all__ = ["ReasonDialog", "ReasonRequired"]


class ReasonRequired(QDialog):
    """A dialog whose OK needs a reason typed in ``reason_combo`` (spaces collapsed).
    Subclasses build ``reason_combo`` and ``ok_button`` and call ``_update`` on edits."""

    reason_combo: QComboBox
    ok_button: QPushButton

    @property
    def reason(self) -> str:
        return " ".join(self.reason_combo.currentText().split())

    def _update(self, *_: Any) -> None:
        self.ok_button.setEnabled(bool(self.reason))

    def accept(self) -> None:
        if self.reason:
            super().accept()


class ReasonDialog(ReasonRequired):
    """Ask for a reason (deleting as entered in error); OK only with a reason typed."""

    def __init__(
        self,
        title: str,
        text: str,
        *,
        ok_text: str,
        suggestions: Sequence[str] = (),
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle(f"PHMS — {title}")
        self.text_label = QLabel(text)
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reason_combo = QComboBox()
        self.reason_combo.setEditable(True)
        self.reason_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.reason_combo.addItems(list(suggestions))
        self.reason_combo.setCurrentText("")
        line = self.reason_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("reason (required)")
        line.textChanged.connect(self._update)
        self.reason_hint = limit_text(line, "assessment", "error_reason")
        caption = QLabel("&Reason:")
        caption.setBuddy(self.reason_combo)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text if "&" in ok_text else f"&{ok_text}")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(caption)
        row.addWidget(self.reason_combo, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_label)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._update()
