"""New / edit patient: the demographics form.

What is typed stays in this window until it is saved, whatever happens meanwhile:
a failed save, a lost connection (Save is disabled until PHMS has reconnected),
a colleague saving the same patient (a note now; the conflict dialog on save).
Checks run in the form first (``clinical/demographics.py``); the database's own
refusals are shown next to the field they concern.

The fields are :class:`~phms_client.ui.patients.demographics_fields.DemographicsFields`;
saving, with its checks and questions, is in :mod:`~phms_client.ui.patients.patient_saving`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from phms_client.clinical.demographics import DemographicsEntry
from phms_client.db.errors import classify
from phms_client.services import patients
from phms_client.services.patients import PatientDetails
from phms_client.ui.patients.conflict_dialog import ConflictDialog, describe_change
from phms_client.ui.patients.demographics_fields import DemographicsFields, entry_from_details
from phms_client.ui.patients.duplicate_dialog import DuplicateDialog
from phms_client.ui.patients.patient_saving import PatientSaving
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.edit_window import EditWindow, lockable_layout

__all__ = ["PatientForm", "can_edit_patients"]

EDITING_GROUPS: Final = frozenset({"clerk", "clinician", "admin"})
_BANNER_STYLES: Final = {
    "error": "background: #fde7e9; color: #5f1412; border: 1px solid #e6a5a1;",
    "warning": "background: #fff4ce; color: #4d3b00; border: 1px solid #e6cf7d;",
    "info": "background: #e5f1fb; color: #0b3a5b; border: 1px solid #a7cbe8;",
}


def can_edit_patients(ctx: AppContext) -> bool:
    """Clerks, clinicians and admins keep demographics; auditors only read."""
    return ctx.login.group in EDITING_GROUPS


def _banner(kind: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(_BANNER_STYLES[kind] + " padding: 6px; border-radius: 3px;")
    label.hide()
    return label


# --------------------------------------------------------------------------- the form


class PatientForm(PatientSaving, EditWindow):
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
            self.fields.setEnabled(False)
            self._load()
        self._follow_connection()
        self._update_buttons()
        self.fields.code_edit.setFocus()

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.fields = DemographicsFields(self.ctx)

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
        inner.addWidget(self.fields)
        inner.addLayout(buttons)
        inner.addWidget(self.connection_banner)
        inner.addLayout(change_row)
        inner.addStretch(1)
        self.locked_label = lockable_layout(self, self.content)
        self._keep_in_place(self.connection_banner, change_row)
        self.setMinimumWidth(520)

    # ----------------------------------------------------------------- contents

    def entry(self) -> DemographicsEntry:
        """What is on screen now, as typed."""
        return self.fields.entry()

    def fill(self, entry: DemographicsEntry) -> None:
        self.fields.fill(entry)

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
        return self.fields.field_error(name)

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
        self.fields.setEnabled(True)
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

    # ----------------------------------------------------------------- messages

    def clear_errors(self) -> None:
        self.fields.clear_errors()
        self.error_banner.hide()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.fields.show_errors(errors)
        self._fit()

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
        self.fields.setEnabled(False)
        self._ready = False
        self._update_buttons()
        self._set_status("Loading the patient…")
        self._load()
