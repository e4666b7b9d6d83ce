"""Opening record forms from the main window and the chart, and keeping track of them.

One :class:`RecordForms` per window that opens forms: it makes the menu actions
(New assessment / Followup / Vasodilator challenge / 6-minute walk), opens a
form for a new record (optionally for a known patient and date) or for an
entry of the timeline (one window per record), answers “New patient?” with
the demographics form prefilled with the ID typed, and passes on the lost
connection and the idle lock to every open form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from phms_client.services.chart import TimelineEntry
from phms_client.ui.chart.record_forms.assessment_form import AssessmentForm
from phms_client.ui.chart.record_forms.base import RecordForm
from phms_client.ui.chart.record_forms.common import can_edit_clinical
from phms_client.ui.chart.record_forms.vasodilator_form import VasodilatorForm
from phms_client.ui.chart.record_forms.walk_form import WalkForm
from phms_client.ui.shared.context import AppContext

__all__ = ["RECORD_KINDS", "RecordForms", "form_for"]

#: kind -> (menu text, status tip)
RECORD_KINDS: Final = {
    "assessment": ("New &assessment…", "Enter an assessment (study date, then patient ID)"),
    "followup": ("New &followup…", "Enter a followup; needs an earlier assessment"),
    "vasodilator_challenge": (
        "New &vasodilator challenge…",
        "Enter a vasodilator challenge; needs an assessment on or before its date",
    ),
    "six_minute_walk": ("New 6-minute &walk…", "Enter a 6-minute walk test"),
}


def form_for(ctx: AppContext, kind: str, record_id: int | None = None, **kw: Any) -> RecordForm:
    if kind in ("assessment", "followup"):
        return AssessmentForm(ctx, record_id, kind=kind, **kw)
    if kind == "vasodilator_challenge":
        return VasodilatorForm(ctx, record_id, **kw)
    if kind == "six_minute_walk":
        return WalkForm(ctx, record_id, **kw)
    raise ValueError(f"unknown record kind {kind!r}")


class RecordForms(QObject):
    """The record forms opened from one window (the main window or a chart)."""

    #: A record was saved (carries the record).
    saved = Signal(object)
    #: A record was deleted as entered in error (carries the record's table and id).
    deleted = Signal(str, int)
    #: A patient was registered from “New patient?” (carries PatientDetails).
    patient_created = Signal(object)

    def __init__(self, ctx: AppContext, window: QWidget):
        super().__init__(window)
        self.ctx = ctx
        self.window = window
        self._forms: list[RecordForm] = []
        self._by_record: dict[tuple[str, int], RecordForm] = {}
        self._patient_forms: list[QWidget] = []
        self._editable = ctx.connection.online
        self._data_hidden = False
        self.actions: dict[str, QAction] = {}
        for kind, (text, tip) in RECORD_KINDS.items():
            action = QAction(text, window)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _=False, k=kind: self.open_new(k))
            self.actions[kind] = action
        self._update_actions()

    @property
    def may_enter(self) -> bool:
        return can_edit_clinical(self.ctx)

    # ----------------------------------------------------------------- opening

    def open_new(
        self,
        kind: str,
        *,
        patient_code: str | None = None,
        study_date: dt.date | None = None,
    ) -> RecordForm | None:
        if not (self.may_enter and self._editable):
            return None
        form = form_for(
            self.ctx, kind, patient_code=patient_code, study_date=study_date, parent=self.window
        )
        self._keep(form)
        form.show()
        return form

    def open_entry(self, entry: TimelineEntry) -> RecordForm | None:
        """Open a timeline entry (one window per record; raised if already open)."""
        return self.open_record(entry.kind, entry.record_id)

    def open_record(self, kind: str, record_id: int) -> RecordForm | None:
        """Open an existing record of ``kind`` (assessment, followup, vasodilator_challenge,
        six_minute_walk); one window per record, raised if already open."""
        table = "assessment" if kind in ("assessment", "followup") else kind
        key = (table, record_id)
        form = self._by_record.get(key)
        if form is not None and shiboken6.isValid(form) and form.isVisible():
            form.raise_()
            form.activateWindow()
            return form
        if not self.may_enter:
            return None
        form = form_for(self.ctx, kind, record_id, parent=self.window)
        self._by_record[key] = form
        self._keep(form)
        form.show()
        return form

    def _keep(self, form: RecordForm) -> None:
        self._forms.append(form)
        form.saved.connect(self.saved)
        form.deleted.connect(lambda rid, f=form: self.deleted.emit(f.TABLE, rid))
        form.new_patient_requested.connect(lambda code, f=form: self._new_patient(f, code))
        form.finished.connect(lambda *_, f=form: self._forget(f))
        form.set_editable(self._editable)
        if self._data_hidden:
            form.hide_patient_data(True)

    def _forget(self, form: RecordForm) -> None:
        if form in self._forms:
            self._forms.remove(form)
        for key, known in list(self._by_record.items()):
            if known is form:
                del self._by_record[key]

    def _new_patient(self, form: RecordForm, code: str) -> QWidget | None:
        """“New patient?”: the demographics form, prefilled with the ID typed."""
        from phms_client.clinical.demographics import DemographicsEntry
        from phms_client.ui.patients.patient_form import PatientForm

        if not self._editable:
            return None
        patient_form = PatientForm(
            self.ctx, prefill=DemographicsEntry(patient_code=code), parent=self.window
        )
        self._patient_forms.append(patient_form)

        def created(details: Any) -> None:
            self.patient_created.emit(details)
            if shiboken6.isValid(form) and form.isVisible():
                form.header.set_patient_code(details.patient_code)
                form.raise_()
                form.activateWindow()

        patient_form.saved.connect(created)
        patient_form.finished.connect(lambda *_: self._patient_forms.remove(patient_form))
        patient_form.set_editable(self._editable)
        if self._data_hidden:
            patient_form.hide_patient_data(True)
        patient_form.show()
        return patient_form

    # ----------------------------------------------------------------- state

    def forms(self) -> list[RecordForm]:
        return [f for f in self._forms if shiboken6.isValid(f) and f.isVisible()]

    def windows(self) -> list[Any]:
        """Every open form (records and patients registered from here)."""
        patient_forms = [f for f in self._patient_forms if shiboken6.isValid(f) and f.isVisible()]
        return [*self.forms(), *patient_forms]

    def has_unsaved_changes(self) -> bool:
        return any(w.is_dirty() for w in self.windows())

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        self._update_actions()
        for window in self.windows():
            window.set_editable(editable)

    def hide_patient_data(self, hidden: bool) -> None:
        self._data_hidden = hidden
        for window in self.windows():
            window.hide_patient_data(hidden)

    def close_all(self) -> None:
        for window in self.windows():
            window.reject()

    def _update_actions(self) -> None:
        for action in self.actions.values():
            action.setEnabled(self._editable and self.may_enter)
            if not self.may_enter:
                action.setStatusTip("Your account may not enter clinical records.")
