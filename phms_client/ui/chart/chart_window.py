"""A patient's chart: demographics, and for clinicians the clinical records.

Opening the chart loads the patient and writes the chart-access audit record in one
short session (``services.patients.open_chart``). For clinicians one statement
loads the demographics and the clinical chart's first screen
(``services.chart.load_chart_with_details``, which also writes the access record):
one round trip, whatever the number of records (two when the pooled connection
was idle, ``db.database.PING_AFTER_IDLE``). Live changes to this patient
reload the demographics (without another access record: it is the same viewing);
the clinical part (:class:`~phms_client.ui.chart.chart_clinical.ClinicalChartView`)
reloads itself when this patient's records change. Record forms open from the chart through
:class:`~phms_client.ui.chart.record_forms.launcher.RecordForms`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import (
    SEX_LABELS,
    STATUS_LABELS,
    age_on,
    format_day,
    ph_group_label,
)
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart as chart_service
from phms_client.services import patients
from phms_client.services.chart import Chart, TimelineEntry
from phms_client.services.patients import PatientDetails
from phms_client.ui.chart.chart_clinical import ClinicalChartView
from phms_client.ui.chart.record_forms.common import can_edit_clinical
from phms_client.ui.chart.record_forms.launcher import RecordForms
from phms_client.ui.patients.conflict_dialog import describe_change
from phms_client.ui.patients.patient_form import can_edit_patients
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.edit_window import LOCKED_TITLE, lockable_layout
from phms_client.ui.shared.guard import while_alive
from phms_client.ui.shared.notices import add_connection_notice

__all__ = ["CLINICAL_PLACEHOLDER", "ChartWindow"]

log = logging.getLogger(__name__)

CLINICAL_PLACEHOLDER: Final = (
    "Assessments, follow-ups, vasodilator challenges, 6-minute walks, medications, "
    "allergies and secondary diseases are shown to clinicians only; your account may "
    "not read them."
)


def _value_label() -> QLabel:
    label = QLabel()
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class _Rows(QGridLayout):
    """Label / value rows; labels stay at the top of values that take several lines."""

    def add(self, label: str, value: QWidget) -> None:
        row = self.rowCount()
        caption = QLabel(label + ":")
        self.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.addWidget(value, row, 1, Qt.AlignmentFlag.AlignTop)
        self.setColumnStretch(1, 1)


class ChartWindow(QWidget):
    """One patient's chart, in a window of its own."""

    #: The user asked to edit this patient's demographics.
    edit_requested = Signal(int)
    #: The demographics were (re)loaded; carries :class:`PatientDetails`.
    loaded = Signal(object)

    def __init__(
        self,
        ctx: AppContext,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        record_forms: RecordForms | None = None,
    ):
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.patient_id = patient_id
        self.details: PatientDetails | None = None
        #: The clinical part, for staff who may read clinical records (else None).
        self.clinical: ClinicalChartView | None = None
        #: The main window's record forms (they outlive the chart), or the chart's own.
        self.record_forms = record_forms or RecordForms(ctx, self)
        self._own_forms = record_forms is None
        self._today = today
        self._editable = ctx.connection.online
        self._may_edit = can_edit_patients(ctx)
        self._data_hidden = False
        self._title = "PHMS — Chart"
        self._waiting_to_load = False
        self._opening = False
        self._reload_after_open = False
        self._listening = True
        self._key = ("chart", id(self))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle("PHMS — Chart")
        self._build()
        ctx.live.changed.connect(self._on_live_change)
        ctx.connection.online_changed.connect(self.set_editable)
        self._update_buttons()
        self._load(first=True)

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.name_label = QLabel("Loading…")
        font = QFont(self.name_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts_label = _value_label()
        self.status_badge = QLabel()
        self.status_badge.hide()

        self.values: dict[str, QLabel] = {}
        demographics = QGroupBox("Demographics")
        # Two columns: who the patient is, and how to reach them (the chart needs the height).
        columns = QHBoxLayout(demographics)
        identity, contact = _Rows(), _Rows()
        columns.addLayout(identity, 1)
        columns.addLayout(contact, 1)
        for name, label in (
            ("patient_code", "Patient ID"),
            ("sex", "Sex"),
            ("birth_date", "Date of birth"),
            ("phone", "Phone"),
            ("email", "Email"),
            ("address", "Address"),
            ("status", "Status"),
            ("deceased_date", "Date of death"),
        ):
            self.values[name] = _value_label()
            rows = contact if name in ("phone", "email", "address") else identity
            rows.add(label, self.values[name])
        diagnosis = QGroupBox("PH diagnosis")
        diag_form = _Rows(diagnosis)
        for name, label in (("ph_group", "Group"), ("ph_subtype", "Subtype")):
            self.values[name] = _value_label()
            diag_form.add(label, self.values[name])

        self.clinical_box = QGroupBox("Clinical records")
        self.clinical_box.setObjectName("clinical_records")
        clinical = QVBoxLayout(self.clinical_box)
        self.clinical_note = QLabel(CLINICAL_PLACEHOLDER)
        self.clinical_note.setWordWrap(True)
        self.clinical_note.setStyleSheet("color: palette(placeholder-text);")
        if can_edit_clinical(self.ctx):
            self.clinical = ClinicalChartView(self.ctx, self.patient_id)
            self.clinical.new_requested.connect(self.new_record)
            self.clinical.open_requested.connect(self.open_record)
            self.clinical_note.hide()
            clinical.addWidget(self.clinical, 1)
        else:
            clinical.addWidget(self.clinical_note)
            clinical.addStretch(1)

        self.changed_label = QLabel()
        self.changed_label.setStyleSheet("color: palette(placeholder-text);")
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        self.edit_button = QPushButton("&Edit demographics…")
        self.edit_button.setToolTip("Edit this patient's details (Ctrl+E)")
        self.edit_button.clicked.connect(self.request_edit)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        QShortcut(QKeySequence("Ctrl+E"), self, self.request_edit)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close)

        header = QHBoxLayout()
        header.addWidget(self.name_label, 1)
        header.addWidget(self.status_badge, 0, Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.addWidget(demographics, 2)
        top.addWidget(diagnosis, 1)
        top.setAlignment(diagnosis, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.changed_label, 1)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.close_button)

        body = QWidget()
        inner = QVBoxLayout(body)
        inner.addLayout(header)
        inner.addWidget(self.facts_label)
        inner.addWidget(self.message_label)
        inner.addLayout(top)
        inner.addWidget(self.clinical_box, 1)
        if self.clinical is not None:
            self.clinical_box.setMinimumHeight(560)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)

        self.content = QWidget()
        content = QVBoxLayout(self.content)
        content.setContentsMargins(0, 0, 0, 0)
        content.addWidget(scroll, 1)
        content.addLayout(buttons)
        # Every window says it when the server is lost, not only the main window
        # behind it: below the buttons, the window growing for it (nothing moves).
        self.connection_banner = add_connection_notice(
            self.ctx,
            self,
            container=self.content,
            text="The connection to the server is lost. This chart cannot change or show "
            "new records until PHMS has reconnected; PHMS keeps trying by itself.",
        )
        self.locked_label = lockable_layout(self, self.content)
        if self.clinical is None:
            self.resize(760, 560)
        else:
            self.resize(1240, 900)

    # ----------------------------------------------------------------- loading

    def reload(self) -> None:
        """Show the current demographics again (the opening's access record suffices)."""
        if self._opening:
            self._reload_after_open = True  # never supersede the audited first load
            return
        self._load(first=self.details is None)

    def _load(self, *, first: bool) -> None:
        db, pid = self.ctx.db, self.patient_id
        self._opening = first

        def work() -> PatientDetails:
            with db.session() as s:
                return patients.open_chart(s, pid) if first else patients.get(s, pid)

        if first and self.clinical is not None:
            self.ctx.tasks.run(
                self._load_with_chart,
                on_success=while_alive(self, self._show_with_chart),
                on_error=while_alive(self, lambda exc: self._failed(exc, first=True)),
                key=self._key,
            )
            return
        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, self._show),
            on_error=while_alive(self, lambda exc: self._failed(exc, first=first)),
            key=self._key,
        )

    def _load_with_chart(self) -> tuple[PatientDetails, Chart]:
        """Demographics and the clinical chart's first screen from one statement (which
        also logs the access): one round trip on any network, instead of five."""
        with self.ctx.db.session() as s:
            return chart_service.load_chart_with_details(
                s, self.patient_id, newest=chart_service.FIRST_SCREEN_RECORDS
            )

    def _show_with_chart(self, result: tuple[PatientDetails, Chart]) -> None:
        details, loaded = result
        assert self.clinical is not None
        self.clinical.set_chart(loaded)
        self._show(details)

    def _show(self, p: PatientDetails) -> None:
        self.details = p
        self._waiting_to_load = False
        self._opening = False
        if self._reload_after_open:
            self._reload_after_open = False
            self._load(first=False)
        name = f"{p.family_name}, {p.given_name}"
        self.name_label.setText(name)
        facts = [p.patient_code, SEX_LABELS.get(p.sex, p.sex), f"born {format_day(p.birth_date)}"]
        if p.status == "deceased":
            died = p.deceased_date
            facts.append(f"died {format_day(died)}" if died else "deceased")
            if died:
                facts.append(f"aged {age_on(p.birth_date, died)}")
        else:
            facts.append(f"{age_on(p.birth_date, self._today())} years")
        self.facts_label.setText("  ·  ".join(facts))
        if p.status != "active":
            self.status_badge.setText(STATUS_LABELS.get(p.status, p.status))
            self.status_badge.setStyleSheet(
                "background: #5f6368; color: white; padding: 3px 8px; border-radius: 3px;"
            )
            self.status_badge.show()
        else:
            self.status_badge.hide()
        shown = {
            "patient_code": p.patient_code,
            "sex": SEX_LABELS.get(p.sex, p.sex),
            "birth_date": format_day(p.birth_date),
            "phone": p.phone or "—",
            "email": p.email or "—",
            "address": p.address or "—",
            "status": STATUS_LABELS.get(p.status, p.status),
            "deceased_date": format_day(p.deceased_date) or "—",
            "ph_group": ph_group_label(p.ph_group),
            "ph_subtype": p.ph_subtype or "—",
        }
        for key, text in shown.items():
            self.values[key].setText(text)
        self.changed_label.setText(describe_change(p) if p.version > 1 else "")
        self.message_label.hide()
        self._title = f"PHMS — Chart — {name} ({p.patient_code})"
        if not self._data_hidden:
            self.setWindowTitle(self._title)
        self._update_buttons()
        self.loaded.emit(p)

    def _failed(self, exc: BaseException, *, first: bool) -> None:
        self._opening = False
        if self.ctx.connection.handle_error(exc):
            self._waiting_to_load = first or self._waiting_to_load
            self._message(
                "The connection to the server is lost; the chart reloads once PHMS has reconnected."
            )
            return
        error = classify(exc, address=self.ctx.db.address)
        if isinstance(exc, patients.NotFound):
            self._message("This patient does not exist (any more).")
        else:
            if error.kind is ErrorKind.UNKNOWN:
                log.error("loading a chart failed: %s", error.detail, exc_info=exc)
            self._message(f"Could not load the chart. {error.title}: {error.message}")

    def _message(self, text: str) -> None:
        if self.details is None:
            self.name_label.setText("Chart not loaded")
        self.message_label.setText(text)
        self.message_label.show()

    # ----------------------------------------------------------------- state

    def new_record(self, kind: str) -> Any:
        """Enter a new record of ``kind`` for this patient (the form starts with the ID)."""
        if self.details is None:
            return None
        return self.record_forms.open_new(kind, patient_code=self.details.patient_code)

    def open_record(self, entry: TimelineEntry) -> Any:
        """Open a record of the timeline (it says who entered and changed it)."""
        return self.record_forms.open_entry(entry)

    def request_edit(self) -> None:
        if self.edit_button.isEnabled():
            self.edit_requested.emit(self.patient_id)

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        self._update_buttons()
        if self.clinical is not None:
            self.clinical.set_editable(editable)
        if self._own_forms:
            self.record_forms.set_editable(editable)
        if editable and (self._waiting_to_load or self.message_label.isVisible()):
            self._load(first=self.details is None)

    def hide_patient_data(self, hidden: bool) -> None:
        self._data_hidden = hidden
        self.content.setVisible(not hidden)
        self.locked_label.setVisible(hidden)
        self.setWindowTitle(LOCKED_TITLE if hidden else self._title)
        if self._own_forms:
            self.record_forms.hide_patient_data(hidden)

    def _update_buttons(self) -> None:
        self.edit_button.setEnabled(self._editable and self._may_edit and self.details is not None)

    def _on_live_change(self, payload: dict[str, Any]) -> None:
        if payload.get("table") == "patient" and payload.get("key") == str(self.patient_id):
            self.reload()

    def closeEvent(self, event: Any) -> None:
        self.ctx.tasks.cancel(self._key)
        if self.clinical is not None:
            self.clinical.cancel()
        if self._listening:
            self._listening = False
            self.ctx.live.changed.disconnect(self._on_live_change)
            self.ctx.connection.online_changed.disconnect(self.set_editable)
        super().closeEvent(event)
