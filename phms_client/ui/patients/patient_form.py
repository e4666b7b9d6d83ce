"""New / edit patient: the demographics form.

What is typed stays in this window until it is saved, whatever happens meanwhile:
a failed save, a lost connection (Save is disabled until PHMS has reconnected),
a colleague saving the same patient (a note now; the conflict dialog on save).
Checks run in the form first (``clinical/demographics.py``); the database's own
refusals are shown next to the field they concern.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
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
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import input_rules, patients
from phms_client.services.patients import (
    NewPatientCheck,
    PatientDetails,
    PatientInput,
    PatientSummary,
    StaleRecord,
)
from phms_client.ui.patients.conflict_dialog import Choice, ConflictDialog, describe_change
from phms_client.ui.patients.duplicate_dialog import DuplicateChoice, DuplicateDialog
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.edit_window import EditWindow, lockable_layout
from phms_client.ui.shared.text_limits import limit_text

__all__ = [
    "DuplicateChoice",
    "DuplicateDialog",
    "PatientForm",
    "can_edit_patients",
    "entry_from_details",
]

log = logging.getLogger(__name__)

EDITING_GROUPS: Final = frozenset({"clerk", "clinician", "admin"})
FIELD_ORDER: Final = tuple(DemographicsEntry.__dataclass_fields__)

_ERROR_STYLE: Final = "color: #b3261e;"
_BANNER_STYLES: Final = {
    "error": "background: #fde7e9; color: #5f1412; border: 1px solid #e6a5a1;",
    "warning": "background: #fff4ce; color: #4d3b00; border: 1px solid #e6cf7d;",
    "info": "background: #e5f1fb; color: #0b3a5b; border: 1px solid #a7cbe8;",
}


def can_edit_patients(ctx: AppContext) -> bool:
    """Clerks, clinicians and admins keep demographics; auditors only read."""
    return ctx.login.group in EDITING_GROUPS


def entry_from_details(details: PatientInput) -> DemographicsEntry:
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


def _banner(kind: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(_BANNER_STYLES[kind] + " padding: 6px; border-radius: 3px;")
    label.hide()
    return label


# --------------------------------------------------------------------------- the form


class PatientForm(EditWindow):
    """Create a patient (``patient_id=None``) or edit one. Non-modal."""

    #: Saved on the server; carries the new :class:`PatientDetails`.
    saved = Signal(object)
    #: "Open existing" in the duplicate warning: show this patient's chart instead.
    open_chart_requested = Signal(int)
    #: The edit form has loaded (or reloaded) the record from the server.
    loaded = Signal(object)

    WHAT = "patient"

    def __init__(
        self,
        ctx: AppContext,
        patient_id: int | None = None,
        *,
        prefill: DemographicsEntry | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.details: PatientDetails | None = None
        self.conflict_dialog: ConflictDialog | None = None
        self.duplicate_dialog: DuplicateDialog | None = None
        self._may_edit = can_edit_patients(ctx)
        self._ready = patient_id is None

        self._build()
        if prefill is not None:
            self.fill(prefill)
        self._baseline = self.entry()  # a prefill is not a change of the user's
        if patient_id is None:
            self.setWindowTitle("PHMS — New patient")
            self.save_button.setText("&Create patient")
        else:
            self.setWindowTitle("PHMS — Edit patient")
            self.save_button.setText("&Save changes")
            self._set_status("Loading the patient…")
            self.fields_box.setEnabled(False)
            self._load()
        self._follow_connection()
        self._update_buttons()
        self.code_edit.setFocus()

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.code_edit = QLineEdit()
        self.code_edit.editingFinished.connect(self._normalise_code)
        self.code_hint = QLabel()
        self._show_format()
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
        labels = {
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
        self.errors: dict[str, QLabel] = {}
        self.fields_box = QWidget()
        form = QFormLayout(self.fields_box)
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
            caption = QLabel(labels[name])
            caption.setBuddy(self.inputs[name])
            self.inputs[name].setAccessibleName(labels[name].replace("&", ""))
            form.addRow(caption, cell)
        for widget in self.inputs.values():
            _on_change(widget, self._recheck_shown_errors)

        self.connection_banner = _banner("warning")
        self.change_banner = _banner("warning")
        self.error_banner = _banner("error")
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: palette(placeholder-text);")
        self.status_label.hide()
        self.reload_button = QPushButton("Discard mine and show the saved version")
        self.reload_button.setAutoDefault(False)
        self.reload_button.clicked.connect(self._discard_and_reload)
        self.reload_button.hide()
        change_row = QHBoxLayout()
        change_row.addWidget(self.change_banner, 1)
        change_row.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)

        self.save_button = QPushButton()
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self, self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addStretch(0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        self.content = QWidget()
        inner = QVBoxLayout(self.content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.error_banner)
        inner.addWidget(self.fields_box)
        inner.addLayout(buttons)
        inner.addWidget(self.connection_banner)
        inner.addLayout(change_row)
        inner.addStretch(1)
        self.locked_label = lockable_layout(self, self.content)
        self._keep_in_place(self.connection_banner, change_row)
        self.setMinimumWidth(520)
        self._group_changed()

    # ----------------------------------------------------------------- contents

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

    def is_dirty(self) -> bool:
        """True when something differs from what was loaded (or from empty, when new)."""
        return self.entry() != self._baseline

    @property
    def can_save(self) -> bool:
        return (
            self._online
            and self._ready
            and not self._saving
            and self._may_edit
            and not self._data_hidden
        )

    @property
    def saving(self) -> bool:
        return self._saving

    def field_error(self, name: str) -> str:
        """The message shown next to a field ("" when none)."""
        label = self.errors[name]
        return label.text() if not label.isHidden() else ""

    def _show_format(self) -> None:
        fmt = self.ctx.login.settings.patient_id_format
        self.code_edit.setPlaceholderText(fmt.pattern)
        self.code_hint.setText(describe_format(fmt))

    def _normalise_code(self) -> None:
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

    # ----------------------------------------------------------------- state

    def _open_dialogs(self) -> tuple[QDialog | None, ...]:
        return (self.conflict_dialog, self.duplicate_dialog)

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(self.can_save)
        if not self._may_edit:
            self.save_button.setToolTip("Your account may not change patients' details.")
        elif not self._online:
            self.save_button.setToolTip("Not connected to the server.")
        else:
            self.save_button.setToolTip("Save (Ctrl+S)")

    # ----------------------------------------------------------------- loading

    def _load(self) -> None:
        pid = self.patient_id
        assert pid is not None
        self.tasks.run_in_session(
            "load", lambda s: patients.get(s, pid), self._show_details, self._load_failed
        )

    def _show_details(self, details: PatientDetails) -> None:
        self.details = details
        self.patient_id = details.id
        self._version = details.version
        self._baseline = entry_from_details(details)
        self.fill(self._baseline)
        self.clear_errors()
        self._ready = True
        self.fields_box.setEnabled(True)
        self._set_status("")
        if not self._data_hidden:
            self.setWindowTitle(
                f"PHMS — Edit patient — {details.family_name}, {details.given_name} "
                f"({details.patient_code})"
            )
        self._update_buttons()
        self.loaded.emit(details)

    def _load_failed(self, exc: BaseException) -> None:
        if self.ctx.connection.handle_error(exc):
            self._set_status("Waiting for the connection to load the patient…")
            self._waiting_to_load = True
            return
        self._set_status("")
        error = classify(exc, address=self.ctx.db.address)
        if isinstance(exc, patients.NotFound):
            self._show_banner(self.error_banner, "This patient does not exist (any more).")
        else:
            self._show_banner(self.error_banner, f"Could not load the patient. {error.message}")

    # ----------------------------------------------------------------- saving

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()
        self.error_banner.hide()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        for name, text in errors.items():
            label = self.errors[name]
            label.setText(text)
            label.show()
        first = next((n for n in FIELD_ORDER if n in errors), None)
        if first is not None:
            self.inputs[first].setFocus()
        self._fit()

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

    def _fit(self) -> None:
        """Grow to show messages that just appeared (never shrink what the user sized)."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        wanted = self.sizeHint().height()
        if wanted > self.height():
            self.resize(self.width(), wanted)

    def _show_banner(self, banner: QLabel, text: str) -> None:
        banner.setText(text)
        banner.show()
        self._fit()

    def save(self) -> None:
        """Check, then save (new: after the ID and duplicate checks)."""
        if not self.can_save:
            return
        self.clear_errors()
        self._show_format()  # the admins may have changed it since the form opened
        self._normalise_code()
        checked = check_demographics(
            self.entry(), self.ctx.login.settings.patient_id_format, dt.date.today()
        )
        limits_broken = input_rules.field_problems("patient", checked.values)
        if not checked.ok or limits_broken:
            self.show_errors({**limits_broken, **checked.errors})
            return
        data = PatientInput(**checked.values)  # type: ignore[arg-type]
        if self.patient_id is None:
            self._check_new(data)
        elif self._identity_changed(data):
            self._check_edit(data)
        else:
            assert self._version is not None
            self._update(data, self._version)

    def _identity_changed(self, data: PatientInput) -> bool:
        """Name or date of birth differ from the record as loaded: look for duplicates."""
        was = self.details
        return was is None or (was.family_name, was.given_name, was.birth_date) != (
            data.family_name,
            data.given_name,
            data.birth_date,
        )

    def _check_edit(self, data: PatientInput) -> None:
        pid = self.patient_id
        assert pid is not None
        self._set_saving(True)
        self.tasks.run_in_session(
            "save",
            lambda s: patients.possible_duplicates(s, data, exclude_id=pid),
            lambda found: self._checked_edit(data, found),
            self._save_failed,
        )

    def _checked_edit(self, data: PatientInput, duplicates: Sequence[PatientSummary]) -> None:
        self._set_saving(False)
        if duplicates:
            self._ask_duplicates(data, duplicates)
        elif self.can_save and self._version is not None:
            self._update(data, self._version)

    def _check_new(self, data: PatientInput) -> None:
        self._set_saving(True)
        self.tasks.run_in_session(
            "save",
            lambda s: patients.check_new(s, data),
            lambda result: self._checked_new(data, result),
            self._save_failed,
        )

    def _checked_new(self, data: PatientInput, result: NewPatientCheck) -> None:
        self._set_saving(False)
        taken = result.code_taken_by
        if taken is not None:
            self.show_errors(
                {
                    "patient_code": f"Patient ID {taken.patient_code} is already used by "
                    f"{taken.display_name} (born {format_day(taken.birth_date)})."
                }
            )
            return
        if result.duplicates:
            self._ask_duplicates(data, result.duplicates)
            return
        self._create(data)

    def _ask_duplicates(self, data: PatientInput, duplicates: Sequence[PatientSummary]) -> None:
        dialog = DuplicateDialog(data, duplicates, self, editing=self.patient_id is not None)
        self.duplicate_dialog = dialog
        dialog.finished.connect(lambda _: self._duplicates_decided(dialog, data))
        dialog.open()

    def _duplicates_decided(self, dialog: DuplicateDialog, data: PatientInput) -> None:
        self.duplicate_dialog = None
        dialog.deleteLater()
        editing = self.patient_id is not None
        if dialog.choice is DuplicateChoice.CREATE_ANYWAY:
            if not self.can_save:
                return
            if editing and self._version is not None:
                self._update(data, self._version)
            elif not editing:
                self._create(data)
        elif dialog.choice is DuplicateChoice.OPEN_EXISTING and dialog.selected_id is not None:
            self.open_chart_requested.emit(dialog.selected_id)
            if editing:  # the edits stay here, unsaved, to compare with the other chart
                self._show_banner(
                    self.change_banner,
                    "Not saved: the other patient's chart was opened. Your changes are still "
                    "here; save again when you have checked.",
                )
                return
            self._closing_ok = True
            self.reject()
        else:
            self.family_edit.setFocus()

    def _create(self, data: PatientInput) -> None:
        self._save(lambda s: patients.create(s, data))

    def _update(self, data: PatientInput, version: int) -> None:
        pid = self.patient_id
        assert pid is not None
        self._save(
            lambda s: patients.update(s, pid, version, data),
            lambda exc: self._update_failed(data, exc),
        )

    def _saved(self, details: PatientDetails) -> None:
        self.details = details
        self.patient_id = details.id
        self._version = details.version
        self._baseline = entry_from_details(details)
        self._live_pending = False
        self._set_saving(False)
        self.saved.emit(details)
        self._closing_ok = True
        self.accept()

    def _update_failed(self, data: PatientInput, exc: BaseException) -> None:
        if isinstance(exc, StaleRecord):
            self._set_saving(False)
            self._ask_conflict(exc.theirs, data)
        else:
            self._save_failed(exc)

    def _save_failed(self, exc: BaseException) -> None:
        self._set_saving(False)
        if self.ctx.connection.handle_error(exc):
            self._show_banner(
                self.error_banner, "Not saved: the server could not be reached. Nothing is lost."
            )
            return
        error = classify(exc, address=self.ctx.db.address)
        if error.kind is ErrorKind.UNKNOWN:
            log.error("saving a patient failed: %s", error.detail, exc_info=exc)
        field = patients.rejected_field(exc)
        if field is not None:
            name, message = field
            self.show_errors({name: message})
            self._show_banner(
                self.error_banner,
                f"Not saved: {message} Please correct the field and save again; "
                "everything you typed is still here.",
            )
            return
        self._show_banner(self.error_banner, f"Not saved. {error.title}: {error.message}")

    # ----------------------------------------------------------------- conflicts

    def _ask_conflict(self, theirs: PatientDetails, mine: PatientInput) -> None:
        dialog = ConflictDialog(theirs, mine, self)
        self.conflict_dialog = dialog
        dialog.finished.connect(lambda _: self._conflict_decided(dialog))
        dialog.open()

    def _conflict_decided(self, dialog: ConflictDialog) -> None:
        self.conflict_dialog = None
        dialog.deleteLater()
        theirs = dialog.theirs
        if dialog.choice is Choice.OVERWRITE:
            if self.can_save:
                self._update(dialog.mine, theirs.version)
            return
        self._show_banner(
            self.change_banner,
            f"Not saved. {describe_change(theirs)}. Your entries are still here; "
            "save again to choose between the versions.",
        )
        self.reload_button.show()

    # ----------------------------------------------------------------- live changes

    def _on_live_change(self, payload: dict[str, Any]) -> None:
        if (
            self.patient_id is None
            or payload.get("table") != "patient"
            or payload.get("key") != str(self.patient_id)
        ):
            return
        if self._saving or not self._ready:
            self._live_pending = True  # our own save, probably: look once it is done
            return
        self._check_remote()

    def _check_remote(self) -> None:
        pid = self.patient_id
        if pid is None:
            return
        self.tasks.run_in_session(
            "live", lambda s: patients.get(s, pid), self._remote_state, self._remote_failed
        )

    def _remote_state(self, theirs: PatientDetails) -> None:
        if self._version is None or theirs.version <= self._version:
            return  # our own save, or nothing new
        if self.is_dirty():
            self._show_banner(
                self.change_banner,
                f"{describe_change(theirs)}. You can keep typing; when you save, you will "
                "be asked what to do with the two versions.",
            )
            self.reload_button.show()
        else:
            self._show_details(theirs)
            self._show_banner(self.change_banner, f"Updated: {describe_change(theirs)}.")
            self.reload_button.hide()

    def _remote_failed(self, exc: BaseException) -> None:
        self.ctx.connection.handle_error(exc)  # a note can wait; saving will tell

    def _discard_and_reload(self) -> None:
        self.change_banner.hide()
        self.reload_button.hide()
        self.fields_box.setEnabled(False)
        self._ready = False
        self._update_buttons()
        self._set_status("Loading the patient…")
        self._load()
