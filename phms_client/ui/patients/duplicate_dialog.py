"""The possible-duplicate warning of the patient form: is this person already registered?"""

from __future__ import annotations

import enum
import html
from collections.abc import Sequence

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import format_day
from phms_client.services.patients import PatientInput, PatientSummary
from phms_client.ui.patients.patient_model import PatientTableModel, setup_patient_view

__all__ = ["DuplicateChoice", "DuplicateDialog"]


class DuplicateChoice(enum.Enum):
    BACK = "back"
    OPEN_EXISTING = "open"
    CREATE_ANYWAY = "create"


class DuplicateDialog(QDialog):
    """Asks whether the patient is one of these, before creating (or, ``editing``, saving a
    changed name or date of birth that makes) a possible duplicate."""

    def __init__(
        self,
        data: PatientInput,
        duplicates: Sequence[PatientSummary],
        parent: QWidget | None,
        *,
        editing: bool = False,
    ):
        super().__init__(parent)
        self.editing = editing
        self.choice = DuplicateChoice.BACK
        self.setWindowTitle("PHMS — Possible duplicate")
        who = html.escape(
            f"{data.family_name}, {data.given_name} (born {format_day(data.birth_date)})"
        )
        similar = (
            "This patient has the same date of birth and a similar name, or the same name."
            if len(duplicates) == 1
            else "These patients have the same date of birth and a similar name, or the same name."
        )
        if editing:
            text = (
                f"<b>With this change, is {who} already registered as another patient?</b>"
                f"<br>{similar} Please check before saving: two charts for one person split "
                "their history."
            )
        else:
            text = (
                f"<b>Is {who} already registered?</b><br>{similar} Please check whether the "
                "new patient is one of them."
            )
        self.message = QLabel(text)
        self.message.setWordWrap(True)
        self.model = PatientTableModel(self)
        self.model.set_rows(duplicates)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        setup_patient_view(self.table)
        self.table.selectRow(0)
        self.table.activated.connect(lambda _: self._choose(DuplicateChoice.OPEN_EXISTING))
        rows = min(max(len(duplicates), 2), 8)
        self.table.setFixedHeight(
            self.table.horizontalHeader().sizeHint().height()
            + rows * self.table.verticalHeader().defaultSectionSize()
            + 2 * self.table.frameWidth()
        )

        self.open_button = QPushButton("&Open existing")
        self.create_button = QPushButton("Save &anyway" if editing else "Create &anyway")
        if editing:
            self.open_button.setToolTip(
                "Open the selected patient's chart; your changes stay in the form, unsaved."
            )
            self.create_button.setToolTip("It is a different person: save the changes.")
        else:
            self.open_button.setToolTip("Open the selected patient's chart; nothing is created.")
            self.create_button.setToolTip("It is a different person: create the new patient.")
        self.back_button = QPushButton("&Back")
        self.back_button.setToolTip("Return to the form to check what you typed.")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(lambda: self._choose(DuplicateChoice.OPEN_EXISTING))
        self.create_button.clicked.connect(lambda: self._choose(DuplicateChoice.CREATE_ANYWAY))
        self.back_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.resize(640, self.sizeHint().height())
        self.table.setFocus()

    @property
    def selected_id(self) -> int | None:
        index = self.table.currentIndex()
        return self.model.summary(index.row()).id if index.isValid() else None

    def _choose(self, choice: DuplicateChoice) -> None:
        if choice is DuplicateChoice.OPEN_EXISTING and self.selected_id is None:
            return
        self.choice = choice
        self.accept()

    def reject(self) -> None:
        self.choice = DuplicateChoice.BACK
        super().reject()
