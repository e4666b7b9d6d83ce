"""The demographics fields of the patient form: one input per field of
:class:`~phms_client.clinical.demographics.DemographicsEntry`, each with the message of
what is wrong with it under it.

Checks run in the form first (``clinical/demographics.py``); a message follows its
field as it is corrected. The patient ID and the dates are written the usual way when
their field is left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import (
    DATE_EXAMPLE,
    PAH_SUBTYPES,
    PH_GROUPS,
    SEX_LABELS,
    STATUS_LABELS,
    DemographicsEntry,
    check_demographics,
    describe_format,
    format_day,
    parse_day,
)
from phms_client.services.patients import PatientInput
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.text_limits import limit_text

__all__ = ["FIELD_ORDER", "LABELS", "DemographicsFields", "entry_from_details"]

FIELD_ORDER: Final = tuple(DemographicsEntry.__dataclass_fields__)
_ERROR_STYLE: Final = "color: #b3261e;"
#: Each field's caption, with its Alt+letter.
LABELS: Final = {
    "patient_code": "&Patient ID",
    "family_name": "&Family name",
    "given_name": "&Given name",
    "sex": "Se&x",
    "birth_date": "Date of &birth",
    "phone": "P&hone",
    "email": "E&mail",
    "address": "A&ddress",
    "ph_group": "PH gr&oup",
    "ph_subtype": "PH s&ubtype",
    "status": "Stat&us",
    "deceased_date": "Date of dea&th",
}


def entry_from_details(details: PatientInput) -> DemographicsEntry:
    """A stored patient as the fields show it."""
    return DemographicsEntry(
        patient_code=details.patient_code,
        family_name=details.family_name,
        given_name=details.given_name,
        sex=details.sex,
        birth_date=format_day(details.birth_date),
        phone=details.phone or "",
        email=details.email or "",
        address=details.address or "",
        ph_group=details.ph_group,
        ph_subtype=details.ph_subtype or "",
        status=details.status,
        deceased_date=format_day(details.deceased_date),
    )


def _on_change(widget: QWidget, slot: Any) -> None:
    if isinstance(widget, (QLineEdit, QPlainTextEdit)):
        widget.textChanged.connect(slot)
    elif isinstance(widget, QComboBox):
        widget.currentIndexChanged.connect(slot)
        widget.editTextChanged.connect(slot)


class DemographicsFields(QWidget):
    """The fields in a form, read as typed (:meth:`entry`) and filled (:meth:`fill`)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.code_edit = QLineEdit()
        self.code_edit.editingFinished.connect(self.normalise_code)
        self.code_hint = QLabel()
        self.show_format()
        self.code_hint.setStyleSheet("color: palette(placeholder-text);")
        self.family_edit = QLineEdit()
        self.given_edit = QLineEdit()
        self.sex_combo = QComboBox()
        self.sex_combo.addItem("— choose —", "")
        for key, label in SEX_LABELS.items():
            self.sex_combo.addItem(label, key)
        self.birth_edit = QLineEdit()
        self.birth_edit.setPlaceholderText(f"day.month.year, e.g. {DATE_EXAMPLE}")
        self.birth_edit.editingFinished.connect(lambda: self._normalise_date(self.birth_edit))
        self.phone_edit = QLineEdit()
        self.email_edit = QLineEdit()
        self.address_edit = QPlainTextEdit()
        self.address_edit.setTabChangesFocus(True)
        self.address_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 14)
        self.group_combo = QComboBox()
        self.group_combo.addItem("Not diagnosed", None)
        for number, name in PH_GROUPS.items():
            self.group_combo.addItem(f"{number} — {name}", number)
        self.group_combo.currentIndexChanged.connect(self._group_changed)
        self.subtype_combo = QComboBox()
        self.subtype_combo.setEditable(True)
        self.subtype_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        subtype_line = self.subtype_combo.lineEdit()
        assert subtype_line is not None
        subtype_line.setPlaceholderText("choose or type")
        self.status_combo = QComboBox()
        for key, label in STATUS_LABELS.items():
            self.status_combo.addItem(label, key)
        self.deceased_edit = QLineEdit()
        self.deceased_edit.setPlaceholderText("only when the status is Deceased")
        self.deceased_edit.editingFinished.connect(lambda: self._normalise_date(self.deceased_edit))
        self.limit_hints = [
            limit_text(edit, "patient", column)
            for edit, column in (
                (self.code_edit, "patient_code"),
                (self.family_edit, "family_name"),
                (self.given_edit, "given_name"),
                (self.phone_edit, "phone"),
                (self.email_edit, "email"),
                (self.address_edit, "address"),
                (subtype_line, "ph_subtype"),
            )
        ]
        for date_edit in (self.birth_edit, self.deceased_edit):
            date_edit.setMaxLength(40)

        self.inputs: dict[str, QWidget] = {
            "patient_code": self.code_edit,
            "family_name": self.family_edit,
            "given_name": self.given_edit,
            "sex": self.sex_combo,
            "birth_date": self.birth_edit,
            "phone": self.phone_edit,
            "email": self.email_edit,
            "address": self.address_edit,
            "ph_group": self.group_combo,
            "ph_subtype": self.subtype_combo,
            "status": self.status_combo,
            "deceased_date": self.deceased_edit,
        }
        self.errors: dict[str, QLabel] = {}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setContentsMargins(0, 0, 0, 0)
        for name in FIELD_ORDER:
            cell = QWidget()
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(2)
            box.addWidget(self.inputs[name])
            if name == "patient_code":
                box.addWidget(self.code_hint)
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet(_ERROR_STYLE)
            error.setObjectName(f"error_{name}")
            error.hide()
            box.addWidget(error)
            self.errors[name] = error
            caption = QLabel(LABELS[name])
            caption.setBuddy(self.inputs[name])
            self.inputs[name].setAccessibleName(LABELS[name].replace("&", ""))
            form.addRow(caption, cell)
        for widget in self.inputs.values():
            _on_change(widget, self._recheck_shown_errors)

        self._group_changed()

    def entry(self) -> DemographicsEntry:
        """What is on screen now, as typed."""
        return DemographicsEntry(
            patient_code=self.code_edit.text(),
            family_name=self.family_edit.text(),
            given_name=self.given_edit.text(),
            sex=str(self.sex_combo.currentData() or ""),
            birth_date=self.birth_edit.text(),
            phone=self.phone_edit.text(),
            email=self.email_edit.text(),
            address=self.address_edit.toPlainText(),
            ph_group=self.group_combo.currentData(),
            ph_subtype=self.subtype_combo.currentText(),
            status=str(self.status_combo.currentData()),
            deceased_date=self.deceased_edit.text(),
        )

    def fill(self, entry: DemographicsEntry) -> None:
        self.code_edit.setText(entry.patient_code)
        self.family_edit.setText(entry.family_name)
        self.given_edit.setText(entry.given_name)
        self.sex_combo.setCurrentIndex(max(0, self.sex_combo.findData(entry.sex)))
        self.birth_edit.setText(entry.birth_date)
        self.phone_edit.setText(entry.phone)
        self.email_edit.setText(entry.email)
        self.address_edit.setPlainText(entry.address)
        group_index = self.group_combo.findData(entry.ph_group) if entry.ph_group else 0
        self.group_combo.setCurrentIndex(max(0, group_index))
        self.subtype_combo.setCurrentText(entry.ph_subtype)
        self.status_combo.setCurrentIndex(max(0, self.status_combo.findData(entry.status)))
        self.deceased_edit.setText(entry.deceased_date)

    def field_error(self, name: str) -> str:
        """The message shown next to a field ("" when none)."""
        label = self.errors[name]
        return label.text() if not label.isHidden() else ""

    def show_format(self) -> None:
        fmt = self.ctx.login.settings.patient_id_format
        self.code_edit.setPlaceholderText(fmt.pattern)
        self.code_hint.setText(describe_format(fmt))

    def normalise_code(self) -> None:
        fmt = self.ctx.login.settings.patient_id_format
        code = fmt.normalise(self.code_edit.text())
        if fmt.is_valid(code) and code != self.code_edit.text():
            self.code_edit.setText(code)

    def _normalise_date(self, edit: QLineEdit) -> None:
        day = parse_day(edit.text())
        if day is not None and format_day(day) != edit.text():
            edit.setText(format_day(day))

    def _group_changed(self) -> None:
        text = self.subtype_combo.currentText()
        self.subtype_combo.clear()
        if self.group_combo.currentData() == 1:
            self.subtype_combo.addItems(PAH_SUBTYPES)
        self.subtype_combo.setCurrentText(text)

    # ----------------------------------------------------------------- messages

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Each message under its field; the first field in order gets the focus."""
        for name, text in errors.items():
            label = self.errors[name]
            label.setText(text)
            label.show()
        first = next((n for n in FIELD_ORDER if n in errors), None)
        if first is not None:
            self.inputs[first].setFocus()

    def _recheck_shown_errors(self) -> None:
        """A message follows its field as it is corrected (or goes wrong differently);
        fields without a message get none until the next Save."""
        shown = [name for name, label in self.errors.items() if not label.isHidden()]
        if not shown:
            return
        checked = check_demographics(
            self.entry(), self.ctx.login.settings.patient_id_format, dt.date.today()
        )
        for name in shown:
            text = checked.errors.get(name)
            label = self.errors[name]
            if text:
                label.setText(text)
            else:
                label.clear()
                label.hide()
