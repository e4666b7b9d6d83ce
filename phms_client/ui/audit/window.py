"""The auditor's window: review of the audit trail, not the clinic's main window.

No patient search, no day list, no chart: Activity, a patient's access report, a
staff member's activity and the flags. Every query goes through the recorded
``audit.review_*`` functions (:mod:`phms_client.services.audit_review`).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from phms_client.services.audit_review import ActivityFilter
from phms_client.ui.audit.access_report import AccessReportPanel
from phms_client.ui.audit.activity_tab import ActivityPanel
from phms_client.ui.audit.flags_tab import FlagsPanel
from phms_client.ui.shared.context import AppContext

__all__ = ["AuditWindow"]


class AuditWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(f"PHMS — Audit review — {ctx.login.user}")
        self.resize(1180, 760)
        self.activity = ActivityPanel(ctx)
        self.access = AccessReportPanel(ctx)
        self.staff = ActivityPanel(ctx, staff_mode=True)
        self.flags = FlagsPanel(ctx)
        self.flags.activity_wanted.connect(self.show_activity)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.activity, "Activity")
        self.tabs.addTab(self.access, "Patient access report")
        self.tabs.addTab(self.staff, "Staff activity")
        self.tabs.addTab(self.flags, "Flags")
        note = QLabel(
            "Every search here is itself recorded in the audit trail (who searched for what)."
        )
        note.setStyleSheet("color: #555555;")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(note)
        self.setCentralWidget(central)

    def show_activity(self, filters: ActivityFilter) -> None:
        self.tabs.setCurrentWidget(self.activity)
        self.activity.show_filter(filters)

    def hide_patient_data(self, hidden: bool) -> None:
        """For the idle lock: names and values are patient data too."""
        central = self.centralWidget()
        if central is not None:
            central.setVisible(not hidden)
        for panel in (self.activity, self.staff):
            if panel.dialog is not None:
                panel.dialog.setVisible(not hidden)
