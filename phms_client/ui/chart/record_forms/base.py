"""What every record form does: the workflow header, loading, live notes (saving,
conflicts and deleting are in :mod:`~phms_client.ui.chart.record_forms.record_saving`).

A record form is a non-modal window. New record: the study date and patient ID
come first (:class:`~phms_client.ui.chart.record_forms.study_header.StudyHeader`); the fields
open once the patient is loaded. Existing record: it is loaded by id, its
patient is fixed, and the form says who entered it and who changed it last.

What is typed stays in the window whatever happens: a refused save, a lost
connection (Save waits for the reconnect), a colleague's save (a note now, the
compare dialog on save). Checks run in the form first (ranges, prerequisites
from the chart's timeline); the database's own refusals are shown in words
next to the field they concern (``services.clinical_rules``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from phms_client.clinical.demographics import format_day
from phms_client.db.errors import classify
from phms_client.services import chart as chart_service
from phms_client.services import patients
from phms_client.services.chart import EntryNotFound, Stamp
from phms_client.ui.chart.record_forms.common import HINT_STYLE, banner, can_edit_clinical
from phms_client.ui.chart.record_forms.fields import DecimalField
from phms_client.ui.chart.record_forms.reason_dialog import ReasonDialog
from phms_client.ui.chart.record_forms.record_saving import RecordSaving
from phms_client.ui.chart.record_forms.study_header import PatientContext, StudyHeader
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.edit_window import EditWindow, lockable_layout
from phms_client.ui.shared.record_conflict import RecordConflictDialog, changed_by

__all__ = ["RecordForm", "describe_stamp"]


def describe_stamp(stamp: Stamp) -> str:
    """Who entered the record and who changed it last, with dates and times."""

    def when(moment: dt.datetime) -> str:
        local = moment.astimezone()
        return f"{format_day(local.date())} at {local:%H:%M}"

    text = f"Entered by {stamp.created_by} on {when(stamp.created_at)}"
    if stamp.version > 1:
        text += f" · last changed by {stamp.updated_by} on {when(stamp.updated_at)}"
    return text + "."


class RecordForm(RecordSaving, EditWindow):
    """Base of the assessment, vasodilator challenge and 6-minute walk forms."""

    #: Saved on the server; carries the record as stored (with derived values).
    saved = Signal(object)
    #: An existing record was loaded (or reloaded); carries the record.
    loaded = Signal(object)
    #: The record was deleted as entered in error; carries its id.
    deleted = Signal(int)
    #: The ID typed is unknown and the user asked to register that patient.
    new_patient_requested = Signal(str)

    #: ``phms.<TABLE>``: the table the form writes (for notifications and deletion).
    TABLE: ClassVar[str] = ""

    def __init__(
        self,
        ctx: AppContext,
        record_id: int | None = None,
        *,
        patient_code: str | None = None,
        study_date: dt.date | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        parent: QWidget | None = None,
    ):
        super().__init__(ctx, parent)
        self.record_id = record_id
        self.record: Any = None
        self.conflict_dialog: RecordConflictDialog | None = None
        self.reason_dialog: ReasonDialog | None = None
        self.fields: dict[str, DecimalField] = {}
        self._today = today
        self._may_edit = can_edit_clinical(ctx)

        self.header = StudyHeader(ctx, today=today)
        self.header.patient_loaded.connect(self._patient_loaded)
        self.header.patient_cleared.connect(self._patient_cleared)
        self.header.study_date_changed.connect(lambda _: self._context_changed())
        self.header.new_patient_requested.connect(self.new_patient_requested)
        self._build()
        self.body.setEnabled(False)
        if study_date is not None:
            self.header.set_study_date(study_date)
        self._baseline = self.snapshot()
        self._set_title()
        if record_id is not None:
            self.header.setEnabled(False)
            self._set_status(f"Loading the {self.WHAT}…")
            self._load()
        elif patient_code:
            self.header.set_patient_code(patient_code)
        self._follow_connection()
        self.set_editable(self._online)
        if record_id is None and not patient_code:
            self.header.date_edit.setFocus()

    # ----------------------------------------------------------------- for subclasses

    def build_body(self) -> QWidget:
        raise NotImplementedError

    def fill(self, record: Any) -> None:
        """Show a stored record's values in the fields."""
        raise NotImplementedError

    def collect(self, patient_id: int, study_date: dt.date) -> Any:
        """The service input from the fields (call only when :meth:`check_fields` is clean)."""
        raise NotImplementedError

    def snapshot(self) -> tuple[object, ...]:
        """What is on screen, for "unsaved changes?" (study date and every field)."""
        return (self.header.study_date(), *(f.text().strip() for f in self.fields.values()))

    def extra_problems(self) -> dict[str, str]:
        """Checks across fields (e.g. pressure order); field name -> message."""
        return {}

    def problems_summary(self, problems: Mapping[str, str]) -> str:
        """The banner over a form that was not saved because of these problems."""
        if len(problems) == 1:
            return f"Not saved: {next(iter(problems.values()))}"
        return f"Not saved: {len(problems)} values need correcting (marked in red)."

    def prerequisite_problem(self) -> str | None:
        """A missing earlier record, in words (from the chart's timeline)."""
        return None

    def update_derived(self) -> None:
        """Recompute the live derived values from the fields (never the database)."""

    def conflict_rows(self, theirs: Any, mine: Any) -> list[tuple[str, str, str]]:
        raise NotImplementedError

    def service_get(self, session: Any, record_id: int) -> Any:
        raise NotImplementedError

    def service_create(self, session: Any, data: Any) -> Any:
        raise NotImplementedError

    def service_update(self, session: Any, record_id: int, version: int, data: Any) -> Any:
        raise NotImplementedError

    def title_text(self) -> str:
        return self.WHAT.capitalize()

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.connection_banner = banner("warning")
        self.change_banner = banner("warning")
        self.change_banner.setObjectName("change_banner")
        self.error_banner = banner("error")
        self.error_banner.setObjectName("error_banner")
        self.prerequisite_banner = banner("warning")
        self.prerequisite_banner.setObjectName("prerequisite_banner")
        self.reload_button = QPushButton("Discard mine and show the saved version")
        self.reload_button.setAutoDefault(False)
        self.reload_button.clicked.connect(self._discard_and_reload)
        self.reload_button.hide()
        change_row = QHBoxLayout()
        change_row.addWidget(self.change_banner, 1)
        change_row.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)

        self.body = self.build_body()
        for field in self.fields.values():
            field.changed.connect(self.update_derived)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.body)
        self.scroll = scroll

        self.stamp_label = QLabel()
        self.stamp_label.setObjectName("record_stamp")
        self.stamp_label.setStyleSheet(HINT_STYLE)
        self.stamp_label.setWordWrap(True)
        self.stamp_label.hide()
        self.status_label = QLabel()
        self.status_label.setStyleSheet(HINT_STYLE)
        self.status_label.hide()
        self.delete_button = QPushButton("&Delete…")
        self.delete_button.setAutoDefault(False)
        self.delete_button.setToolTip(
            "Delete as entered in error: hidden from the chart, kept in the audit trail"
        )
        self.delete_button.clicked.connect(self.ask_delete)
        self.delete_button.setVisible(self.record_id is not None)
        self.save_button = QPushButton("&Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self, self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.status_label)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        self.content = QWidget()
        inner = QVBoxLayout(self.content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.header)
        inner.addWidget(self.prerequisite_banner)
        inner.addWidget(self.error_banner)
        inner.addWidget(scroll, 1)
        inner.addWidget(self.stamp_label)
        inner.addLayout(buttons)
        inner.addWidget(self.connection_banner)
        inner.addLayout(change_row)
        self.locked_label = lockable_layout(self, self.content)
        self._keep_in_place(self.connection_banner, change_row)

    # ----------------------------------------------------------------- state

    @property
    def patient(self) -> PatientContext | None:
        return self.header.patient

    @property
    def can_save(self) -> bool:
        return (
            self._online
            and self._may_edit
            and not self._saving
            and not self._data_hidden
            and self.patient is not None
            and (self.record_id is None or self._version is not None)
        )

    @property
    def saving(self) -> bool:
        return self._saving

    def is_dirty(self) -> bool:
        return self.snapshot() != self._baseline

    def _open_dialogs(self) -> tuple[QDialog | None, ...]:
        return (self.conflict_dialog, self.reason_dialog)

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(self.can_save)
        self.delete_button.setEnabled(self.can_save and self.record_id is not None)
        if not self._may_edit:
            tip = "Your account may not enter clinical records."
        elif not self._online:
            tip = "Not connected to the server."
        elif self.patient is None:
            tip = "Type the patient ID first."
        else:
            tip = "Save (Ctrl+S)"
        self.save_button.setToolTip(tip)

    def _set_title(self) -> None:
        title = f"PHMS — {self.title_text()}"
        context = self.patient
        if context is not None:
            d = context.details
            title += f" — {d.family_name}, {d.given_name} ({d.patient_code})"
        if self._data_hidden:
            self._title = title
        else:
            self.setWindowTitle(title)

    # ----------------------------------------------------------------- patient

    def _patient_loaded(self, context: PatientContext) -> None:
        self.body.setEnabled(True)
        self._set_title()
        self._context_changed()
        self._update_buttons()
        if self.record_id is None:
            self.focus_first_field()

    def _patient_cleared(self) -> None:
        self.body.setEnabled(False)
        self.prerequisite_banner.hide()
        self._set_title()
        self._update_buttons()

    def _context_changed(self) -> None:
        """The patient or the study date changed: prerequisites and derived values."""
        problem = self.prerequisite_problem() if self.patient is not None else None
        self.prerequisite_banner.setText(problem or "")
        self.prerequisite_banner.setVisible(bool(problem))
        self.update_derived()

    def focus_first_field(self) -> None:
        first = next(iter(self.fields.values()), None)
        if first is not None:
            first.edit.setFocus()

    # ----------------------------------------------------------------- loading

    def _load(self) -> None:
        rid, get = self.record_id, self.service_get
        assert rid is not None

        def work(s: Session) -> tuple[Any, PatientContext]:
            record = get(s, rid)
            details = patients.get(s, record.data.patient_id)
            day = record.data.study_date
            loaded = chart_service.load_chart(s, details.id, as_of=day)
            return record, PatientContext(details, loaded, loaded.medications, day)

        self.tasks.run_in_session("load", work, self._show_loaded, self._load_failed)

    def _show_loaded(self, result: tuple[Any, PatientContext]) -> None:
        record, context = result
        self.header.setEnabled(True)
        self.header.set_study_date(record.data.study_date)
        self.header.fix_patient(context)
        self._show_record(record)
        self._set_status("")

    def _show_record(self, record: Any) -> None:
        self.record = record
        self.record_id = record.id
        self._version = record.stamp.version
        if self.header.study_date() != record.data.study_date:
            self.header.set_study_date(record.data.study_date)
        self.fill(record)
        for field in self.fields.values():
            field.show_problem(None)
        self._baseline = self.snapshot()
        self.stamp_label.setText(describe_stamp(record.stamp))
        self.stamp_label.show()
        self.delete_button.show()
        self._context_changed()
        self._update_buttons()
        self.loaded.emit(record)

    def _load_failed(self, exc: BaseException) -> None:
        self._set_status("")
        if self.ctx.connection.handle_error(exc):
            self._set_status(f"Waiting for the connection to load the {self.WHAT}…")
            self._waiting_to_load = True
            return
        if isinstance(exc, EntryNotFound):
            self._show_error(
                f"This {self.WHAT} does not exist any more (it may have been "
                "deleted as entered in error)."
            )
            return
        error = classify(exc, address=self.ctx.db.address)
        self._show_error(f"Could not load the {self.WHAT}. {error.title}: {error.message}")

    # ----------------------------------------------------------------- live changes

    def _on_live_change(self, payload: Mapping[str, Any]) -> None:
        if (
            self.record_id is None
            or payload.get("table") != self.TABLE
            or payload.get("key") != str(self.record_id)
        ):
            return
        if self._saving or self._version is None:
            self._live_pending = True
            return
        self._check_remote()

    def _check_remote(self) -> None:
        self._fetch_record(self._remote_state)

    def _fetch_record(self, on_success: Callable[[Any], object]) -> None:
        """The record as the server has it now (task ``live``), to ``on_success``."""
        rid, get = self.record_id, self.service_get
        if rid is None:
            return
        self.tasks.run_in_session("live", lambda s: get(s, rid), on_success, self._remote_failed)

    def _remote_state(self, theirs: Any) -> None:
        if self._version is None or theirs.stamp.version <= self._version:
            return
        if self.is_dirty():
            self.change_banner.setText(
                f"{changed_by(theirs.stamp)}. You can keep typing; when you save, you will "
                "be asked what to do with the two versions."
            )
            self.change_banner.show()
            self.reload_button.show()
        else:
            self._show_record(theirs)
            self.change_banner.setText(f"Updated: {changed_by(theirs.stamp)}.")
            self.change_banner.show()
            self.reload_button.hide()

    def _remote_failed(self, exc: BaseException) -> None:
        if isinstance(exc, EntryNotFound):
            self.change_banner.setText(
                f"This {self.WHAT} was deleted as entered in error by someone else."
            )
            self.change_banner.show()
            self._version = None
            self._update_buttons()
            return
        self.ctx.connection.handle_error(exc)

    def _discard_and_reload(self) -> None:
        self.change_banner.hide()
        self.reload_button.hide()
        self._set_status(f"Loading the {self.WHAT}…")
        self._check_remote_discarding()

    def _check_remote_discarding(self) -> None:
        def show(record: Any) -> None:
            self._set_status("")
            self._show_record(record)

        self._fetch_record(show)

    # ----------------------------------------------------------------- closing

    def _cancel_tasks(self) -> None:
        super()._cancel_tasks()
        self.header.cancel()
