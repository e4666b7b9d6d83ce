"""Flags worth a look, each explained in plain words; a flag leads to the activity."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.services import audit_review as review
from phms_client.ui.audit.common import PeriodEdit, explain
from phms_client.ui.audit.models import FlagsModel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["EXPLANATION", "FlagsPanel"]

EXPLANATION = (
    "A flag is not an accusation, only something worth a look: a chart opened with no "
    "appointment for the patient and nothing written by that person within 30 days either "
    "side; 20 or more different charts opened by one person within one hour; a chart opened "
    "outside the clinic's hours (Preferences: clinic_hours); a chart whose family name is "
    "part of the staff member's own login. Double-click a flag to see that person's activity "
    "on that day."
)


class FlagsPanel(QWidget):
    #: The activity behind a flag (the window shows it in the Activity tab).
    activity_wanted = Signal(object)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.period = PeriodEdit(7)
        self.find_button = QPushButton("Find flags")
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self.search)
        intro = QLabel(EXPLANATION)
        intro.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #a40000;")
        self.message_label.hide()
        self.status_label = QLabel("Choose a period of at most 92 days.")
        self.model = FlagsModel(self)
        self.view = QTableView()
        setup_list_view(self.view, resize_mode=QHeaderView.ResizeMode.Interactive)
        self.view.setModel(self.model)
        for column, width in enumerate((190, 150, 110, 230)):
            self.view.horizontalHeader().resizeSection(column, width)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.doubleClicked.connect(self._open)
        row = QHBoxLayout()
        row.addWidget(self.period)
        row.addWidget(self.find_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.message_label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status_label)

    def search(self) -> None:
        problem = self.period.problem()
        if problem:
            self.message_label.setText(problem)
            self.message_label.show()
            return
        start, end = self.period.bounds()
        db = self.ctx.db

        def fetch() -> list[review.Flag]:
            with db.session(long_running=True) as s:
                return review.flags(s, start, end)

        def done(rows: list[review.Flag]) -> None:
            self.message_label.hide()
            self.model.set_rows(rows)
            if len(rows) >= review.FLAGS_PAGE:
                words = (
                    f"The newest {len(rows)} flags of the period; choose a shorter "
                    "period to see older ones."
                )
            else:
                words = f"{len(rows)} flags in the period." if rows else "No flags in the period."
            self.status_label.setText(words)

        def failed(exc: BaseException) -> None:
            self.message_label.setText(explain(exc, db.address))
            self.message_label.show()

        self.status_label.setText("Looking…")
        self.ctx.tasks.run(fetch, on_success=done, on_error=failed, key="audit-flags")

    def _open(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        f = self.model.row_at(index.row())
        day = f.at.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        self.activity_wanted.emit(
            review.ActivityFilter(
                staff=f.staff,
                patient=None if f.patient_id is None else str(f.patient_id),
                start=day,
                end=day + dt.timedelta(days=1),
            )
        )
