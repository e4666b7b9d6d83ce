"""Saving the patient form: the checks, the questions before saving, the save itself.

*Save* checks the fields (``clinical/demographics.py`` and the text limits). A new
patient is then checked against the patient IDs in use and against people already
registered with the same name and date of birth (:class:`DuplicateDialog`: create
anyway, open the existing chart, or go back); an edit that changes name or date of
birth is checked for duplicates too. A save over a version someone else saved
meanwhile opens the conflict dialog (overwrite, or keep theirs and the entries here).
The database's own refusals are shown next to the field they concern.

:class:`PatientSaving` is mixed into :class:`~phms_client.ui.patients.patient_form.PatientForm`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QLabel, QPushButton

from phms_client.clinical.demographics import check_demographics, format_day
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
from phms_client.ui.patients.demographics_fields import DemographicsFields, entry_from_details
from phms_client.ui.patients.duplicate_dialog import DuplicateChoice, DuplicateDialog

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance
    from sqlalchemy.orm import Session

    from phms_client.clinical.demographics import DemographicsEntry
    from phms_client.ui.shared.context import AppContext
    from phms_client.ui.shared.guard import OwnedTasks

__all__ = ["PatientSaving"]

log = logging.getLogger(__name__)


class PatientSaving:
    """Save, with its checks and questions (a mixin of the patient form)."""

    if TYPE_CHECKING:  # provided by the form and its EditWindow base
        ctx: AppContext
        tasks: OwnedTasks
        fields: DemographicsFields
        patient_id: int | None
        details: PatientDetails | None
        conflict_dialog: ConflictDialog | None
        duplicate_dialog: DuplicateDialog | None
        change_banner: QLabel
        error_banner: QLabel
        reload_button: QPushButton
        saved: SignalInstance
        open_chart_requested: SignalInstance
        _version: int | None
        _baseline: DemographicsEntry
        _live_pending: bool
        _closing_ok: bool

        @property
        def can_save(self) -> bool: ...
        def entry(self) -> DemographicsEntry: ...
        def clear_errors(self) -> None: ...
        def show_errors(self, errors: Mapping[str, str]) -> None: ...
        def _show_banner(self, banner: QLabel, text: str) -> None: ...
        def _set_saving(self, saving: bool) -> None: ...
        def _save(
            self,
            call: Callable[[Session], Any],
            on_error: Callable[[BaseException], object] | None = None,
        ) -> None: ...
        def accept(self) -> None: ...
        def reject(self) -> None: ...

    def save(self) -> None:
        """Check, then save (new: after the ID and duplicate checks)."""
        if not self.can_save:
            return
        self.clear_errors()
        self.fields.show_format()  # the admins may have changed it since the form opened
        self.fields.normalise_code()
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
            self.fields.family_edit.setFocus()

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
