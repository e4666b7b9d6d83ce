"""A patient's access report: everyone who opened or changed one patient's chart in a
period, when and from which workstation; saved as PDF or CSV for the patient."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
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

from phms_client.reports.pdf import html_to_pdf
from phms_client.services import audit_review as review
from phms_client.ui.audit.common import PeriodEdit, explain
from phms_client.ui.audit.models import ActivityModel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["AccessReportPanel"]


class AccessReportPanel(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.patient_edit = QLineEdit()
        self.patient_edit.setMaxLength(200)
        self.patient_edit.setPlaceholderText("family name or patient ID")
        self.patient_edit.returnPressed.connect(self.find)
        self.find_button = QPushButton("Find")
        self.find_button.clicked.connect(self.find)
        self.match_combo = QComboBox()
        self.match_combo.setMinimumContentsLength(40)
        self.period = PeriodEdit(365)
        self.report_button = QPushButton("Make report")
        self.report_button.setDefault(True)
        self.report_button.clicked.connect(self.make_report)
        self.pdf_button = QPushButton("Save PDF…")
        self.pdf_button.clicked.connect(self._ask_pdf)
        self.csv_button = QPushButton("Save CSV…")
        self.csv_button.clicked.connect(self._ask_csv)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #a40000;")
        self.message_label.hide()
        self.summary_label = QLabel("Find the patient, choose the period, make the report.")
        self.summary_label.setWordWrap(True)
        self.model = ActivityModel(self)
        self.view = QTableView()
        setup_list_view(self.view, resize_mode=QHeaderView.ResizeMode.Interactive)
        self.view.setModel(self.model)
        for column, width in enumerate((150, 110, 190, 230, 80)):
            self.view.horizontalHeader().resizeSection(column, width)
        self.view.horizontalHeader().setStretchLastSection(True)

        find_row = QHBoxLayout()
        find_row.addWidget(self.patient_edit, 1)
        find_row.addWidget(self.find_button)
        period_row = QHBoxLayout()
        period_row.addWidget(self.period)
        period_row.addWidget(self.report_button)
        form = QFormLayout()
        form.addRow("Patient:", find_row)
        form.addRow("", self.match_combo)
        form.addRow("Period:", period_row)
        save_row = QHBoxLayout()
        save_row.addWidget(self.summary_label, 1)
        save_row.addWidget(self.pdf_button)
        save_row.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.view, 1)
        layout.addLayout(save_row)
        self.patient: review.PatientMatch | None = None
        self.start: dt.datetime | None = None
        self.end: dt.datetime | None = None
        self.made_at: dt.datetime | None = None
        self._set_saveable(False)

    def _set_saveable(self, ok: bool) -> None:
        self.pdf_button.setEnabled(ok)
        self.csv_button.setEnabled(ok)

    def _say(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def _failed(self, exc: BaseException) -> None:
        self._say(explain(exc, self.ctx.db.address))

    # ----------------------------------------------------------------- steps

    def find(self) -> None:
        text = self.patient_edit.text().strip()
        if not text:
            self._say("Type the patient's family name or patient ID.")
            return
        db = self.ctx.db

        def fetch() -> list[review.PatientMatch]:
            with db.session() as s:
                return review.find_patients(s, text)

        def done(matches: list[review.PatientMatch]) -> None:
            self.match_combo.clear()
            for m in matches:
                self.match_combo.addItem(m.label, m)
            self._say("" if matches else f"No patient matches “{text}”.")

        self.ctx.tasks.run(fetch, on_success=done, on_error=self._failed, key="audit-find")

    def make_report(self) -> None:
        patient = self.match_combo.currentData()
        if not isinstance(patient, review.PatientMatch):
            self._say("Find the patient first, then choose them in the list.")
            return
        problem = self.period.problem()
        if problem:
            self._say(problem)
            return
        start, end = self.period.bounds()
        db = self.ctx.db

        def fetch() -> list[review.ActivityRow]:
            with db.session() as s:
                return review.access_report(s, patient.id, start, end)

        def done(rows: list[review.ActivityRow]) -> None:
            self.patient, self.start, self.end = patient, start, end
            self.made_at = dt.datetime.now().astimezone()
            self.model.set_rows(rows, more=False)
            people = sorted({r.staff for r in rows})
            self.summary_label.setText(
                f"{patient.family_name}, {patient.given_name}: {len(rows)} accesses by "
                f"{len(people)} staff members in the period."
                + (
                    " Only the newest are listed: choose a shorter period."
                    if len(rows) >= review.REPORT_ROWS
                    else ""
                )
            )
            self._say("")
            self._set_saveable(True)

        self.ctx.tasks.run(fetch, on_success=done, on_error=self._failed, key="audit-report")

    # ----------------------------------------------------------------- saving

    def report_html(self) -> str:
        assert self.patient and self.start and self.end and self.made_at
        return review.access_report_html(
            self.patient,
            self.start,
            self.end,
            self.model.rows(),
            made_by=self.ctx.login.user,
            made_at=self.made_at,
        )

    def _file_stem(self) -> str:
        assert self.patient is not None
        return re.sub(r"[^A-Za-z0-9-]+", "_", f"access_{self.patient.patient_code}")

    def save_pdf(self, path: Path) -> None:
        try:
            html_to_pdf(self.report_html(), path, title="Access report")
        except OSError as exc:
            self._say(f"The PDF could not be saved: {exc.strerror or exc}.")
            return
        self.summary_label.setText(f"Saved {path.name}.")

    def save_csv(self, path: Path) -> None:
        try:
            path.write_text(review.access_report_csv(self.model.rows()), encoding="utf-8-sig")
        except OSError as exc:
            self._say(f"The CSV file could not be saved: {exc.strerror or exc}.")
            return
        self.summary_label.setText(f"Saved {path.name}.")

    def _ask_pdf(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save the access report", f"{self._file_stem()}.pdf", "PDF (*.pdf)"
        )
        if name:
            self.save_pdf(Path(name))

    def _ask_csv(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save the access report", f"{self._file_stem()}.csv", "CSV (*.csv)"
        )
        if name:
            self.save_csv(Path(name))
