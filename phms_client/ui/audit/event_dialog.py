"""One audit event: who, when, from where; the old and new values side by side."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.services.audit_review import EventDetail
from phms_client.ui.audit.models import FieldsModel, when
from phms_client.ui.shared.table_view import setup_list_view

__all__ = ["EventDialog"]


class EventDialog(QDialog):
    def __init__(self, detail: EventDetail, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        r = detail.row
        self.detail = detail
        self.setWindowTitle(f"PHMS — {r.action} by {r.staff}")
        self.resize(760, 520)
        patient = f"{r.patient_name} ({r.patient_code})" if r.patient_name else "—"
        esc = html.escape
        self.summary = QLabel(
            f"<b>{esc(r.staff)}</b> {esc(r.action)} on {when(r)}<br>"
            f"Patient: {esc(patient)} &nbsp; Record: {esc(r.table_name)} {esc(r.row_key or '')}"
            f"<br>Workstation: {esc(r.client_addr or 'local')} &nbsp; Program: "
            f"{esc(r.application_name or '—')}"
            + (f" &nbsp; Transaction: {detail.txid}" if detail.txid is not None else "")
        )
        self.model = FieldsModel(detail.fields(), self)
        self.table = QTableView()
        setup_list_view(self.table, resize_mode=QHeaderView.ResizeMode.Interactive)
        self.table.setModel(self.model)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.resizeSection(0, 170)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        changed = sum(f.changed for f in self.model.rows())
        if r.kind == "chart":
            note = "A chart opening changes nothing: there are no values to compare."
        elif detail.old_values is None:
            note = "A new record: every value is new."
        elif detail.new_values is None:
            note = "The record was deleted: these were its last values."
        else:
            note = f"{changed} fields changed (highlighted)."
        self.note = QLabel(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.table.setVisible(r.kind != "chart")
