"""Saving and deleting a record form: the checks, the save itself, the compare dialog
when someone saved the record meanwhile, and deleting as entered in error.

*Save* checks every field (ranges, then checks across fields and the prerequisites
from the chart's timeline) and shows each problem next to its field; the database's
own refusals are shown in words next to the field they concern
(``services.clinical_rules``). A save over a version someone else saved meanwhile opens
:class:`~phms_client.ui.shared.record_conflict.RecordConflictDialog`. *Delete*
asks for a reason first.

:class:`RecordSaving` is mixed into :class:`~phms_client.ui.chart.record_forms.base.RecordForm`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QWidget
from sqlalchemy.orm import Session

from phms_client.clinical.demographics import format_day
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart as chart_service
from phms_client.services import clinical_rules
from phms_client.services.chart import EntryNotFound, StaleEntry
from phms_client.ui.chart.record_forms.fields import DecimalField
from phms_client.ui.chart.record_forms.reason_dialog import ReasonDialog
from phms_client.ui.shared.record_conflict import Choice, RecordConflictDialog, changed_by

if TYPE_CHECKING:
    import datetime as dt

    from PySide6.QtCore import SignalInstance

    from phms_client.ui.chart.record_forms.study_header import PatientContext, StudyHeader
    from phms_client.ui.shared.context import AppContext
    from phms_client.ui.shared.guard import OwnedTasks

__all__ = ["RecordSaving"]

log = logging.getLogger(__name__)


class RecordSaving:
    """Save and delete, with their checks and questions (a mixin of the record form)."""

    if TYPE_CHECKING:  # provided by the form and its EditWindow base
        WHAT: str
        TABLE: str
        ctx: AppContext
        tasks: OwnedTasks
        header: StudyHeader
        body: QWidget
        fields: dict[str, DecimalField]
        record: Any
        record_id: int | None
        conflict_dialog: RecordConflictDialog | None
        reason_dialog: ReasonDialog | None
        error_banner: QLabel
        change_banner: QLabel
        reload_button: QPushButton
        saved: SignalInstance
        deleted: SignalInstance
        _version: int | None
        _baseline: tuple[object, ...]
        _live_pending: bool
        _closing_ok: bool

        @property
        def can_save(self) -> bool: ...
        @property
        def patient(self) -> PatientContext | None: ...
        def snapshot(self) -> tuple[object, ...]: ...
        def extra_problems(self) -> dict[str, str]: ...
        def problems_summary(self, problems: Mapping[str, str]) -> str: ...
        def prerequisite_problem(self) -> str | None: ...
        def collect(self, patient_id: int, study_date: dt.date) -> Any: ...
        def conflict_rows(self, theirs: Any, mine: Any) -> list[tuple[str, str, str]]: ...
        def service_create(self, session: Any, data: Any) -> Any: ...
        def service_update(self, session: Any, record_id: int, version: int, data: Any) -> Any: ...
        def _set_saving(self, saving: bool) -> None: ...
        def _save(
            self,
            call: Callable[[Session], Any],
            on_error: Callable[[BaseException], object] | None = None,
        ) -> None: ...
        def accept(self) -> None: ...
        def reject(self) -> None: ...

    # ----------------------------------------------------------------- saving

    def clear_errors(self) -> None:
        for field in self.fields.values():
            field.show_problem(None)
        self.error_banner.hide()

    def _show_error(self, text: str) -> None:
        self.error_banner.setText(text)
        self.error_banner.show()

    def check_fields(self) -> dict[str, str]:
        """Show every field's problem; returns field name -> message."""
        problems: dict[str, str] = {}
        for name, field in self.fields.items():
            if not field.isEnabledTo(self.body):
                field.show_problem(None)  # switched off (e.g. O2 flow on room air)
                continue
            problem = field.check()
            if problem:
                problems[name] = problem
        for name, problem in self.extra_problems().items():
            problems.setdefault(name, problem)
            if name in self.fields:
                self.fields[name].show_problem(problems[name])
        return problems

    def save(self) -> None:
        if not self.can_save:
            return
        self.clear_errors()
        problems = self.check_fields()
        if problems:
            self._show_error(self.problems_summary(problems))
            first = next(iter(problems))
            if first in self.fields:
                self.fields[first].edit.setFocus()
            return
        prerequisite = self.prerequisite_problem()
        if prerequisite:
            self._show_error(f"Not saved. {prerequisite}")
            return
        context = self.patient
        assert context is not None
        data = self.collect(context.patient_id, self.header.study_date())
        if self.record_id is None:
            self._create(data)
        else:
            assert self._version is not None
            self._update(data, self._version)

    def _create(self, data: Any) -> None:
        create = self.service_create
        self._save(lambda s: create(s, data))

    def _update(self, data: Any, version: int) -> None:
        rid, update = self.record_id, self.service_update
        assert rid is not None
        self._save(
            lambda s: update(s, rid, version, data), lambda exc: self._update_failed(data, exc)
        )

    def _saved(self, record: Any) -> None:
        self.record = record
        self.record_id = record.id
        self._version = record.stamp.version
        self._baseline = self.snapshot()
        self._live_pending = False
        self._set_saving(False)
        self.saved.emit(record)
        self._closing_ok = True
        self.accept()

    def _update_failed(self, data: Any, exc: BaseException) -> None:
        if isinstance(exc, StaleEntry):
            self._set_saving(False)
            self._ask_conflict(exc, data)
        else:
            self._save_failed(exc)

    def _save_failed(self, exc: BaseException) -> None:
        self._set_saving(False)
        if self.ctx.connection.handle_error(exc):
            self._show_error("Not saved: the server could not be reached. Nothing is lost.")
            return
        if isinstance(exc, EntryNotFound):
            self._show_error(
                f"Not saved: this {self.WHAT} was deleted as entered in error meanwhile."
            )
            return
        error = classify(exc, address=self.ctx.db.address)
        if error.kind is ErrorKind.UNKNOWN:
            log.error("saving a %s failed: %s", self.WHAT, error.detail, exc_info=exc)
        rejected = clinical_rules.rejected_field(exc)
        if rejected is not None:
            name, message = rejected
            if name in self.fields:
                self.fields[name].show_problem(message)
                self.fields[name].edit.setFocus()
            self._show_error(f"Not saved: {message} Everything you typed is still here.")
            return
        self._show_error(f"Not saved. {error.title}: {error.message}")

    # ----------------------------------------------------------------- conflicts

    def _ask_conflict(self, stale: StaleEntry, mine: Any) -> None:
        theirs = stale.theirs
        dialog = RecordConflictDialog(
            self._what_for_conflict(), theirs.stamp, self.conflict_rows(theirs, mine), self
        )
        self.conflict_dialog = dialog
        dialog.finished.connect(lambda _: self._conflict_decided(dialog, mine))
        dialog.open()

    def _what_for_conflict(self) -> str:
        context = self.patient
        who = (
            f" of {context.details.family_name}, {context.details.given_name}"
            if context is not None
            else ""
        )
        return f"this {self.WHAT}{who}"

    def _conflict_decided(self, dialog: RecordConflictDialog, mine: Any) -> None:
        self.conflict_dialog = None
        dialog.deleteLater()
        if dialog.choice is Choice.OVERWRITE:
            if self.can_save:
                self._update(mine, dialog.theirs.version)
            return
        self.change_banner.setText(
            f"Not saved. {changed_by(dialog.theirs)}. Your entries are still here; "
            "save again to choose between the versions."
        )
        self.change_banner.show()
        self.reload_button.show()

    # ----------------------------------------------------------------- deleting

    def ask_delete(self) -> None:
        if not self.can_save or self.record_id is None:
            return
        dialog = ReasonDialog(
            f"Delete {self.WHAT}",
            f"Delete this {self.WHAT} of {format_day(self.header.study_date())} as entered "
            "in error? It is hidden from the chart and kept, with your reason, in the audit "
            "trail. It cannot be restored; enter it again if needed.",
            ok_text="&Delete",
            suggestions=("wrong patient", "entered twice", "wrong date"),
            parent=self,
        )
        self.reason_dialog = dialog
        dialog.finished.connect(lambda result: self._delete_decided(dialog, result))
        dialog.open()

    def _delete_decided(self, dialog: ReasonDialog, result: int) -> None:
        self.reason_dialog = None
        reason = dialog.reason
        dialog.deleteLater()
        if result != QDialog.DialogCode.Accepted or not self.can_save:
            return
        rid, version, table = self.record_id, self._version, self.TABLE
        assert rid is not None and version is not None

        def work(s: Session) -> int:
            chart_service.delete_record(s, table, rid, version, reason)  # type: ignore[arg-type]
            return rid

        self._set_saving(True)
        self.tasks.run_in_session("delete", work, self._deleted, self._delete_failed)

    def _deleted(self, record_id: int) -> None:
        self._set_saving(False)
        self.deleted.emit(record_id)
        self._closing_ok = True
        self.reject()

    def _delete_failed(self, exc: BaseException) -> None:
        if isinstance(exc, StaleEntry):
            self._set_saving(False)
            self.change_banner.setText(
                f"Not deleted: {changed_by(exc.theirs.stamp)} since you opened it. "
                "Look at the saved version first."
            )
            self.change_banner.show()
            self.reload_button.show()
            return
        self._save_failed(exc)
