"""Someone else saved first: Cancel / Compare / Overwrite. Never overwrite silently.

The dialog only decides; the form that opened it does the saving. ``Overwrite``
means "save mine on top of *their* version" (the form retries with
``theirs.version``); if yet another change slipped in, the form asks again.
The choice itself is the general one of :mod:`phms_client.ui.shared.record_conflict`;
this module gives it the patient's fields and words.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from phms_client.clinical.demographics import (
    SEX_LABELS,
    STATUS_LABELS,
    format_day,
    ph_group_label,
)
from phms_client.services.patients import PatientDetails, PatientInput
from phms_client.ui.shared.record_conflict import (
    Choice,
    ConflictChoiceDialog,
    RecordConflictModel,
)

__all__ = ["FIELD_LABELS", "Choice", "ConflictDialog", "ConflictModel", "display_value"]

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


class ConflictModel(RecordConflictModel):
    """Field | theirs (saved) | yours; rows whose values differ are highlighted."""

    def __init__(
        self, theirs: PatientInput, mine: PatientInput, *, their_label: str, parent: Any = None
    ):
        rows: list[tuple[str, str, str]] = []
        differs: list[bool] = []
        for f in fields(PatientInput):
            a, b = getattr(theirs, f.name), getattr(mine, f.name)
            rows.append(
                (
                    FIELD_LABELS.get(f.name, f.name),
                    display_value(f.name, a),
                    display_value(f.name, b),
                )
            )
            differs.append(_normal(a) != _normal(b))
        super().__init__(rows, their_label=their_label, differs=differs, parent=parent)


def _normal(value: object) -> object:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    return value


class ConflictDialog(ConflictChoiceDialog):
    """Ask what to do with a save that came too late. Read :attr:`choice` after it closes."""

    def __init__(self, theirs: PatientDetails, mine: PatientInput, parent: QWidget | None = None):
        super().__init__(
            ConflictModel(
                theirs.as_input(), mine, their_label=f"Saved by {theirs.updated_by or 'someone'}"
            ),
            title="PHMS — Someone else saved this patient",
            message=(
                f"<b>{describe_change(theirs)}</b>, while you were editing "
                f"{theirs.family_name}, {theirs.given_name} ({theirs.patient_code}).<br><br>"
                "Your changes are not saved yet. Nothing is lost: you decide what happens."
            ),
            same_text="Your entries and the saved record are the same.",
            cancel_tip="Close this message and go back to your entries. Nothing is saved.",
            compare_tip="Show the saved record and your entries side by side.",
            saved_by=theirs.updated_by,
            min_width=560,
            parent=parent,
        )
        self.theirs = theirs
        self.mine = mine
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.sectionResized.connect(lambda *_: self._fit_rows())

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

    def _table_shown(self) -> None:
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self._fit_rows()
