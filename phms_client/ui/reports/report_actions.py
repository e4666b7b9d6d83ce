"""Menu entries for reports, Error Check and the registry export, and the export dialog.

The main window calls ``install_report_actions(self, ctx)`` once after building
its menus. It adds, for the logins that may use them:

- Patients > Patient report…  (Ctrl+R; clinicians, admins) for the selected patient;
- Tools > Statistical report… (clinicians, admins, auditors);
- Tools > Error Check…        (clinicians, admins); a hit opens the patient's chart;
- Tools > Registry export…    (admins);
- Tools > Report templates…   (admins): create, duplicate, rename, default, delete.

It needs from the window only ``patients_menu`` and ``tools_menu`` (QMenu),
``current_patient_id()`` and, for Error Check hits, ``open_chart(patient_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.environment import OnStaging
from phms_client.db.errors import classify
from phms_client.services import registry_export
from phms_client.ui.admin.template_manager import TemplateManager, may_manage_templates
from phms_client.ui.reports.error_check_window import ErrorCheckWindow, may_run_error_check
from phms_client.ui.reports.report_preview import ReportPreview, may_run_report
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice
from phms_schema.anonymity import DEFAULT_MIN_K, NotAnonymous

__all__ = ["RegistryExportDialog", "ReportActions", "install_report_actions"]


@dataclass
class ReportActions:
    patient_report: QAction
    statistical_report: QAction
    error_check: QAction
    registry_export: QAction
    templates: QAction
    window: QMainWindow
    ctx: AppContext
    error_check_window: ErrorCheckWindow | None = None
    template_manager: TemplateManager | None = None

    def open_template_manager(self) -> TemplateManager:
        manager = self.template_manager
        if manager is None or not shiboken6.isValid(manager):
            manager = TemplateManager(self.ctx, self.window)
            manager.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.template_manager = manager
        manager.show()
        manager.raise_()
        manager.activateWindow()
        return manager

    def open_patient_report(self) -> ReportPreview | None:
        pid = self.window.current_patient_id()  # type: ignore[attr-defined]
        if pid is None:
            self.window.statusBar().showMessage("Select a patient first.", 5000)
            return None
        preview = ReportPreview(self.ctx, "individual", pid, self.window)
        preview.show()
        return preview

    def open_statistical_report(self) -> ReportPreview:
        preview = ReportPreview(self.ctx, "statistical", None, self.window)
        preview.show()
        return preview

    def open_error_check(self) -> ErrorCheckWindow:
        window = self.error_check_window
        if window is None or not shiboken6.isValid(window):
            window = ErrorCheckWindow(self.ctx, self.window)
            open_record = getattr(self.window, "open_record", None)
            open_chart = getattr(self.window, "open_chart", None)
            if open_record is not None:
                window.open_record.connect(open_record)
            elif open_chart is not None:
                window.open_record.connect(lambda pid, _table, _rid: open_chart(pid))
            self.error_check_window = window
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def open_registry_export(self) -> RegistryExportDialog:
        dialog = RegistryExportDialog(self.ctx, self.window)
        dialog.show()
        return dialog


def _menu(window: QMainWindow, attribute: str, title: str) -> QMenu:
    menu = getattr(window, attribute, None)
    if isinstance(menu, QMenu):
        return menu
    return window.menuBar().addMenu(title)


def install_report_actions(window: QMainWindow, ctx: AppContext) -> ReportActions:
    """Add the report, Error Check and registry export entries to ``window``'s menus."""
    patient_report = QAction("Patient &report…", window)
    patient_report.setShortcut(QKeySequence("Ctrl+R"))
    patient_report.setStatusTip("Clinic letter or summary of the selected patient")
    statistical = QAction("&Statistical report…", window)
    statistical.setStatusTip("Cohort by PH group, WHO-FC, risk strata and walk distances")
    error_check = QAction("&Error Check…", window)
    error_check.setStatusTip("Find values far from the rest of their field (unit or typing errors)")
    export = QAction("Registry e&xport…", window)
    export.setStatusTip("Anonymised extract for the national PH registry")
    templates = QAction("Report &templates…", window)
    templates.setStatusTip("Create, duplicate, rename, delete report templates; choose the default")
    actions = ReportActions(
        patient_report, statistical, error_check, export, templates, window, ctx
    )
    templates.triggered.connect(actions.open_template_manager)
    templates.setVisible(may_manage_templates(ctx))
    patient_report.triggered.connect(actions.open_patient_report)
    statistical.triggered.connect(actions.open_statistical_report)
    error_check.triggered.connect(actions.open_error_check)
    export.triggered.connect(actions.open_registry_export)

    patient_report.setVisible(may_run_report(ctx, "individual"))
    statistical.setVisible(may_run_report(ctx, "statistical"))
    error_check.setVisible(may_run_error_check(ctx))
    export.setVisible(ctx.login.group == "admin")

    patients = _menu(window, "patients_menu", "&Patients")
    patients.addSeparator()
    patients.addAction(patient_report)
    tools = _menu(window, "tools_menu", "&Tools")
    tools.addAction(statistical)
    tools.addAction(error_check)
    tools.addAction(export)
    tools.addAction(templates)
    return actions


class RegistryExportDialog(QDialog):
    """Admins: write the anonymised registry extract to a file (CSV or JSON)."""

    #: Written: (path, number of patients, number of records, privacy summary).
    exported = Signal(object, int, int, str)
    failed = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("PHMS — Registry export")
        self.path = QLineEdit()
        self.path.setAccessibleName("File")
        self.path.setPlaceholderText("Where to save: …/registry.json or …/registry.csv")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.hospital_id = QLineEdit(ctx.config.hospital_id)
        self.ph_only = QCheckBox("Only patients with a PH diagnosis (a PH group)")
        self.shift_dates = QCheckBox("Shift each patient's dates by a fixed number of days")
        self.shift_dates.setChecked(True)
        self.exact_warning = QLabel(
            "<b>Exact dates:</b> the real date of every visit goes out; with the birth year "
            "it can identify a patient to anybody who knows when they were seen."
        )
        self.exact_warning.setWordWrap(True)
        self.exact_warning.setStyleSheet("color: #a40000;")
        self.exact_warning.setVisible(False)
        self.shift_dates.toggled.connect(lambda on: self.exact_warning.setVisible(not on))
        self.min_k = QSpinBox()
        self.min_k.setRange(1, 1000)
        self.min_k.setValue(DEFAULT_MIN_K)
        self.min_k.setToolTip(
            "Every patient must share birth year, sex, PH group and subtype with at least "
            "k−1 others; PHMS generalises (birth-year bands, group without subtype) until "
            "that holds, or writes nothing and says why."
        )
        note = QLabel(
            "No names, patient IDs, contact data or exact birth dates leave PHMS: patients "
            "are identified by a keyed hash of their ID, with the birth year only."
        )
        note.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        form = QFormLayout()
        file_label = QLabel("&File:")
        file_label.setBuddy(self.path)
        form.addRow(file_label, row)
        form.addRow("&Hospital ID:", self.hospital_id)
        form.addRow("", self.ph_only)
        form.addRow("", self.shift_dates)
        form.addRow("", self.exact_warning)
        form.addRow("&Anonymity (k):", self.min_k)
        self.buttons = QDialogButtonBox()  # made in the order they stand: Tab's order
        self.export_button = self.buttons.addButton(
            "&Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.connection_notice = add_connection_notice(ctx, self)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save registry export", "registry.json", "JSON (*.json);;CSV (*.csv)"
        )
        if name:
            self.path.setText(name)

    def start(self) -> None:
        text = self.path.text().strip()
        hospital_id = self.hospital_id.text().strip()
        if not text:
            self.status.setText("Choose a file first.")
            return
        if not hospital_id:
            self.status.setText("The registry needs the hospital ID.")
            return
        path = Path(text)
        fmt = "csv" if path.suffix.lower() == ".csv" else "json"
        db, ph_only, shift = self.ctx.db, self.ph_only.isChecked(), self.shift_dates.isChecked()
        min_k = self.min_k.value()

        def job() -> tuple[Path, int, int, str]:
            with db.session(long_running=True) as session:
                secret = registry_export.registry_secret(session)
                export = registry_export.build_export(
                    session,
                    secret=secret,
                    hospital_id=hospital_id,
                    ph_only=ph_only,
                    shift_dates=shift,
                    min_k=min_k,
                )
            data = (
                registry_export.export_csv(export)
                if fmt == "csv"
                else registry_export.export_json(export)
            )
            registry_export.write_export(path, data)
            records = sum(len(p.records) for p in export.patients)
            return path, len(export.patients), records, export.anonymity.summary()

        self.export_button.setEnabled(False)
        self.status.setText("Exporting…")
        self.ctx.tasks.run(job, on_success=self._done, on_error=self._failed)

    def _done(self, result: tuple[Path, int, int, str]) -> None:
        path, patients, records, privacy = result
        self.export_button.setEnabled(True)
        self.status.setText(
            f"Saved {patients} patients and {records} records to {path}.\nPrivacy: {privacy}."
        )
        self.exported.emit(path, patients, records, privacy)

    def _failed(self, exc: BaseException) -> None:
        self.export_button.setEnabled(True)
        if isinstance(exc, OSError):
            text = f"Could not write the file: {exc.strerror or exc}"
        elif isinstance(exc, NotAnonymous):
            text = f"Not anonymous enough, nothing written. {exc}"
        elif isinstance(exc, OnStaging):
            text = f"Nothing written. {exc}"
        else:
            error = classify(exc, address=self.ctx.db.address)
            text = f"{error.title}. {error.message}"
        self.status.setText(text)
        self.failed.emit(text)
