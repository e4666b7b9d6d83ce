"""Activity: writes and chart openings filtered by staff, patient, period, table and
operation; newest first; the next page is loaded when the list is scrolled to its end.
The same panel, with the staff login required, is a staff member's activity."""

from __future__ import annotations

import datetime as dt
from typing import Final

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.services import audit_review as review
from phms_client.ui.audit.common import PeriodEdit, explain
from phms_client.ui.audit.event_dialog import EventDialog
from phms_client.ui.audit.models import ActivityModel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["TABLES", "ActivityPanel"]

#: What may be filtered by (the audited tables, and chart openings).
TABLES: Final = (
    ("Any record", ""),
    ("Chart openings", "chart_access"),
    ("Patients", "patient"),
    ("Appointments", "appointment"),
    ("Assessments", "assessment"),
    ("Vasodilator challenges", "vasodilator_challenge"),
    ("Vasodilator steps", "vasodilator_step"),
    ("Six-minute walks", "six_minute_walk"),
    ("Medications", "medication"),
    ("Allergies", "allergy"),
    ("Comorbidities", "comorbidity"),
    ("Settings", "setting"),
    ("Report templates", "report_template"),
    ("Staff accounts", "staff"),
)
OPERATIONS: Final = (
    ("Any action", ""),
    ("Opened the chart", "OPEN"),
    ("Added", "INSERT"),
    ("Changed", "UPDATE"),
    ("Deleted", "DELETE"),
)
MAX_TEXT: Final = 200


class ActivityPanel(QWidget):
    """``staff_mode``: one login's activity over a period (the login is required)."""

    loaded = Signal()

    def __init__(self, ctx: AppContext, *, staff_mode: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.staff_mode = staff_mode
        self.filters = review.ActivityFilter()
        self.staff_edit = QLineEdit()
        self.staff_edit.setPlaceholderText("login, e.g. anna_meier")
        self.patient_edit = QLineEdit()
        self.patient_edit.setPlaceholderText("family name, patient ID or internal number")
        self.table_combo = QComboBox()
        for text, value in TABLES:
            self.table_combo.addItem(text, value)
        self.operation_combo = QComboBox()
        for text, value in OPERATIONS:
            self.operation_combo.addItem(text, value)
        for edit in (self.staff_edit, self.patient_edit):
            edit.setMaxLength(MAX_TEXT)
            edit.returnPressed.connect(self.search)
        self.period = PeriodEdit(30)
        self.period_check = QCheckBox("Only in the period")
        self.period_check.setChecked(True)
        self.period_check.toggled.connect(self.period.setEnabled)
        self.search_button = QPushButton("Show")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #a40000;")
        self.message_label.hide()
        self.status_label = QLabel("Choose filters and press Show.")

        form = QFormLayout()
        form.addRow("Staff login:", self.staff_edit)
        if not staff_mode:
            form.addRow("Patient:", self.patient_edit)
            kinds = QHBoxLayout()
            kinds.addWidget(self.table_combo)
            kinds.addWidget(self.operation_combo)
            kinds.addStretch(1)
            form.addRow("Record, action:", kinds)
        period_row = QHBoxLayout()
        if not staff_mode:
            period_row.addWidget(self.period_check)
        period_row.addWidget(self.period)
        period_row.addWidget(self.search_button)
        form.addRow("When:", period_row)

        self.model = ActivityModel(self)
        self.model.more_wanted.connect(self.load_more)
        self.view = QTableView()
        setup_list_view(self.view, resize_mode=QHeaderView.ResizeMode.Interactive)
        self.view.setModel(self.model)
        header = self.view.horizontalHeader()
        for column, width in enumerate((150, 110, 190, 230, 80)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.view.doubleClicked.connect(self._open)
        self.details_button = QPushButton("Details…")
        self.details_button.clicked.connect(lambda: self._open(self.view.currentIndex()))

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.view, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.details_button)
        layout.addLayout(bottom)
        self.dialog: EventDialog | None = None

    # ----------------------------------------------------------------- queries

    def current_filter(self) -> review.ActivityFilter:
        start, end = self.period.bounds()
        timed = self.staff_mode or self.period_check.isChecked()
        return review.ActivityFilter(
            staff=self.staff_edit.text().strip() or None,
            patient=None if self.staff_mode else self.patient_edit.text().strip() or None,
            start=start if timed else None,
            end=end if timed else None,
            table=None if self.staff_mode else self.table_combo.currentData() or None,
            operation=None if self.staff_mode else self.operation_combo.currentData() or None,
        )

    def set_filter(self, filters: review.ActivityFilter) -> None:
        self.staff_edit.setText(filters.staff or "")
        self.patient_edit.setText(filters.patient or "")
        if filters.start and filters.end:
            last = filters.end.astimezone() - dt.timedelta(microseconds=1)
            self.period.set_days(filters.start.astimezone().date(), last.date())
        self.period_check.setChecked(filters.start is not None)

    def search(self) -> None:
        problem = self.period.problem()
        if self.staff_mode and not self.staff_edit.text().strip():
            problem = "Type the staff member's login."
        if problem:
            self._say(problem)
            return
        self.filters = self.current_filter()
        self.status_label.setText("Loading…")
        self._run(self.filters, None, replace=True)

    def load_more(self) -> None:
        rows = self.model.rows()
        if rows:
            self.status_label.setText(f"{len(rows)} shown, loading more…")
            self._run(self.filters, rows[-1].cursor, replace=False)

    def _run(
        self, filters: review.ActivityFilter, after: review.Cursor | None, *, replace: bool
    ) -> None:
        db = self.ctx.db
        size = review.PAGE_SIZE

        def fetch() -> list[review.ActivityRow]:
            with db.session() as s:
                return review.activity(s, filters, after, size + 1)

        def done(rows: list[review.ActivityRow]) -> None:
            more = len(rows) > size
            rows = rows[:size]
            self.message_label.hide()
            if replace:
                self.model.set_rows(rows, more=more)
            else:
                self.model.append_page(rows, more=more)
            self._status()
            self.loaded.emit()

        self.ctx.tasks.run(
            fetch, on_success=done, on_error=self._failed, key=("audit-activity", id(self))
        )

    def _status(self) -> None:
        rows = self.model.rows()
        opened = sum(r.kind == "chart" for r in rows)
        words = f"{len(rows)} shown ({opened} chart openings, {len(rows) - opened} writes)"
        if self.model.more:
            words += "; scroll down for more"
        elif not rows:
            words = "Nothing matches these filters."
        self.status_label.setText(words)

    def _failed(self, exc: BaseException) -> None:
        self._say(explain(exc, self.ctx.db.address))
        self.status_label.setText("")

    def _say(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.show()

    # ----------------------------------------------------------------- details

    def _open(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        row = self.model.row_at(index.row())
        db = self.ctx.db

        def fetch() -> review.EventDetail | None:
            with db.session() as s:
                return review.event_detail(s, row.kind, row.id)

        def done(detail: review.EventDetail | None) -> None:
            if detail is None:
                self._say("This entry is no longer in the audit trail.")
                return
            self.dialog = EventDialog(detail, self)
            self.dialog.show()

        self.ctx.tasks.run(fetch, on_success=done, on_error=self._failed)

    def show_filter(self, filters: review.ActivityFilter) -> None:
        """Show the activity for these filters (from a flag)."""
        self.set_filter(filters)
        self.search()
