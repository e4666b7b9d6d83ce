"""The chart items panel's dialogs: Add an entry, Stop one (with a reason), Delete one
as entered in error, and the compare dialog for a Stop that met someone else's change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical import therapy
from phms_client.clinical.demographics import format_day
from phms_client.services.chart import ChartItem, ItemInput
from phms_client.ui.chart.record_forms.chart_items_lists import KIND_LABELS
from phms_client.ui.chart.record_forms.common import from_qdate, to_qdate
from phms_client.ui.chart.record_forms.reason_dialog import ReasonDialog, ReasonRequired
from phms_client.ui.shared.dates import item_date_range, style_date_edit
from phms_client.ui.shared.record_conflict import RecordConflictDialog
from phms_client.ui.shared.text_limits import limit_text

__all__ = ["ItemDialog", "StopDialog", "delete_dialog", "stop_conflict_dialog"]

DETAILS_HINTS: Final = {
    "medication": "dose and frequency, e.g. 62.5 mg twice daily",
    "allergy": "reaction, e.g. rash",
    "comorbidity": "note",
}
STOP_REASONS: Final = {
    "medication": ("stopped", "side effects", "not effective", "changed to another medicine"),
    "allergy": ("no longer present", "ruled out"),
    "comorbidity": ("cured", "resolved", "ruled out"),
}


class ItemDialog(QDialog):
    """Add an entry: name (pick list + free text), details, start date.

    A medication picked from the list (or typed as a list entry, in any case) is
    stored as that entry with its PAH therapy class. A name not on the list is
    possible, but saying so takes one confirmation: the first *Add* explains (and
    suggests the entry it may have meant, "Bosen" → bosentan), the second saves it
    as free text, marked "not in list" and not counted as PAH therapy.
    """

    def __init__(
        self,
        kind: str,
        *,
        start: dt.date,
        names: Sequence[str] = (),
        today: dt.date,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.kind = kind
        what = KIND_LABELS[kind][1]
        self.setWindowTitle(f"PHMS — Add {what}")
        self.name_combo = QComboBox()
        self.name_combo.setObjectName("item_name")
        self.name_combo.setEditable(True)
        self.name_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_combo.addItems(list(names))
        self.name_combo.setCurrentText("")
        completer = QCompleter(list(names), self.name_combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name_combo.setCompleter(completer)
        line = self.name_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("choose from the list or type")
        line.textChanged.connect(self._update)
        self.details_edit = QLineEdit()
        self.details_edit.setObjectName("item_details")
        self.details_edit.setPlaceholderText(DETAILS_HINTS[kind])
        self.limit_hints = [
            limit_text(line, kind, "name"),
            limit_text(self.details_edit, kind, "details"),
        ]
        self.start_edit = QDateEdit()
        self.start_edit.setObjectName("item_started_on")
        self.start_edit.setCalendarPopup(True)
        style_date_edit(self.start_edit)
        self.start_edit.setMinimumDate(item_date_range(today)[0])
        self.start_edit.setMaximumDate(to_qdate(max(today, start)))
        self.start_edit.setDate(to_qdate(start))
        self.listed = list(names) if kind == "medication" else []
        self._confirmed_free_text: str | None = None
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        form = QFormLayout()
        name_caption = QLabel("&Name:")
        name_caption.setBuddy(self.name_combo)
        form.addRow(name_caption, self.name_combo)
        details_caption = QLabel("&Details:")
        details_caption.setBuddy(self.details_edit)
        form.addRow(details_caption, self.details_edit)
        start_caption = QLabel("&Started on:")
        start_caption.setBuddy(self.start_edit)
        form.addRow(start_caption, self.start_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Add")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self._update()

    def name(self) -> str:
        return " ".join(self.name_combo.currentText().split())

    def list_entry(self) -> str | None:
        """The list entry the name stands for (medications only), or None."""
        return therapy.list_entry(self.name(), self.listed) if self.listed else None

    def values(self, patient_id: int) -> ItemInput:
        entry = self.list_entry()
        return ItemInput(
            patient_id=patient_id,
            name=entry or self.name(),
            started_on=from_qdate(self.start_edit.date()),
            details=" ".join(self.details_edit.text().split()) or None,
            therapy_class=None if entry is None else therapy.class_of_listed(entry),
        )

    def _update(self, *_: Any) -> None:
        self.ok_button.setEnabled(bool(self.name()))
        if self._confirmed_free_text is not None and self._confirmed_free_text != self.name():
            self._confirmed_free_text = None  # a new name: ask again
            self.ok_button.setText("&Add")
            self.error_label.hide()

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def accept(self) -> None:
        name = self.name()
        if not name:
            return
        if self.listed and self.list_entry() is None and self._confirmed_free_text != name:
            self._confirmed_free_text = name
            guess = therapy.suggestion(name, self.listed)
            meant = f" Did you mean {guess}? Pick it from the list." if guess else ""
            self.show_error(
                f"“{name}” is not in the list of PAH medicines.{meant} Press “Add as not in "
                "list” to keep it as typed: it is marked “not in list” and not counted as "
                "PAH therapy."
            )
            self.ok_button.setText("Add as &not in list")
            return
        super().accept()


class StopDialog(ReasonRequired):
    """Stop an entry as of a date (the study date by default), with a reason."""

    def __init__(
        self, item: ChartItem, *, stop: dt.date, today: dt.date, parent: QWidget | None = None
    ):
        super().__init__(parent)
        what = KIND_LABELS[item.kind][1]
        self.item = item
        self.setWindowTitle(f"PHMS — Stop {what}")
        since = format_day(item.data.started_on)
        details = f" {item.data.details}" if item.data.details else ""
        self.text_label = QLabel(
            f"Stop {item.data.name}{details} (since {since}). It stays in the history."
        )
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("item_stopped_on")
        self.date_edit.setCalendarPopup(True)
        style_date_edit(self.date_edit)
        self.date_edit.setMinimumDate(to_qdate(item.data.started_on))
        self.date_edit.setMaximumDate(to_qdate(max(today, stop, item.data.started_on)))
        self.date_edit.setDate(to_qdate(max(stop, item.data.started_on)))
        self.reason_combo = QComboBox()
        self.reason_combo.setObjectName("item_stop_reason")
        self.reason_combo.setEditable(True)
        self.reason_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.reason_combo.addItems(list(STOP_REASONS[item.kind]))
        line = self.reason_combo.lineEdit()
        assert line is not None
        line.textChanged.connect(self._update)
        self.reason_hint = limit_text(line, item.kind, "stop_reason")
        form = QFormLayout()
        date_caption = QLabel("Stopped &as of:")
        date_caption.setBuddy(self.date_edit)
        form.addRow(date_caption, self.date_edit)
        reason_caption = QLabel("&Reason:")
        reason_caption.setBuddy(self.reason_combo)
        form.addRow(reason_caption, self.reason_combo)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Stop")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_label)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)
        self._update()

    @property
    def stopped_on(self) -> dt.date:
        return from_qdate(self.date_edit.date())


def delete_dialog(item: ChartItem, parent: QWidget | None = None) -> ReasonDialog:
    """Delete an entry as entered in error: asks first, with a reason."""
    what = KIND_LABELS[item.kind][1]
    return ReasonDialog(
        f"Delete {what}",
        f"Delete {item.data.name} (since {format_day(item.data.started_on)}) as entered in "
        "error? It is hidden from the chart and its history, and kept with your reason in "
        f"the audit trail. To end a {what} that was right, use Stop instead.",
        ok_text="&Delete",
        suggestions=("wrong patient", "entered twice", "typing error"),
        parent=parent,
    )


def stop_conflict_dialog(
    mine: ChartItem, theirs: ChartItem, day: dt.date, reason: str, parent: QWidget | None = None
) -> RecordConflictDialog:
    """A Stop met someone else's change of the entry: theirs against the stop asked for."""

    def stop_text(i: ChartItem) -> str:
        return "—" if i.stopped_on is None else f"{format_day(i.stopped_on)} ({i.stop_reason})"

    rows = [
        ("Name", theirs.data.name, mine.data.name),
        ("Details", theirs.data.details or "—", mine.data.details or "—"),
        ("Started on", format_day(theirs.data.started_on), format_day(mine.data.started_on)),
        ("Stopped", stop_text(theirs), f"{format_day(day)} ({reason})"),
    ]
    what = KIND_LABELS[mine.kind][1]
    return RecordConflictDialog(f"the {what} {mine.data.name}", theirs.stamp, rows, parent)
