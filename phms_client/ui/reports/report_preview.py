"""Report preview: pick a template, see the report, print it, save it as PDF (or CSV/XLSX).

An *individual* report is for one patient (clinicians and admins); a
*statistical* one is for the cohort over a period (clinicians, admins, auditors).
Rendering runs on the task runner: one short session loads the data and the
sandboxed template engine turns it into HTML, which the preview, the printer
and the PDF all lay out the same way (``phms_client.reports.pdf``).

Admins also get **Edit template…**: the template text in a plain editor with
**Try** (render it here without saving) and **Save** (versioned: a template
changed by someone else meanwhile is not overwritten; a template that does not
render over sample data within the time and memory limits is not saved).

Every render, saved or draft, runs in the report process of
:mod:`phms_client.reports.bounded` (at most 2 s and 256 MB), from the task
runner's thread: the window never waits for it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.reports.bounded import ReportProcessFailed, render_bounded
from phms_client.reports.engine import TemplateProblem
from phms_client.reports.pdf import REPORT_CSS, html_to_pdf, print_html
from phms_client.reports.tables import to_csv, to_xlsx
from phms_client.services import reports
from phms_client.services.reports import RenderedReport, TemplateInfo, TemplateInput
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.dates import style_date_edit
from phms_client.ui.shared.notices import add_connection_notice
from phms_client.ui.shared.text_limits import limit_text

__all__ = ["ReportPreview", "TemplateEditor", "may_run_report"]

KIND_TITLES: Final = {"individual": "Patient report", "statistical": "Statistical report"}


def may_run_report(ctx: AppContext, kind: str) -> bool:
    """Individual reports read charts (clinicians, admins); statistical ones are
    aggregates (clinicians, admins, auditors)."""
    allowed = ("clinician", "admin") if kind == "individual" else ("clinician", "admin", "auditor")
    return ctx.login.group in allowed


class ReportPreview(QWidget):
    """A report window; ``patient_id`` is needed for individual reports."""

    #: A report was rendered: the :class:`RenderedReport`.
    rendered = Signal(object)
    #: Rendering failed: the message shown.
    failed = Signal(str)
    #: The template list arrived.
    templates_loaded = Signal()

    def __init__(
        self,
        ctx: AppContext,
        kind: str = "individual",
        patient_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        if kind not in KIND_TITLES:
            raise ValueError(f"Unknown report kind {kind!r}")
        if kind == "individual" and patient_id is None:
            raise ValueError("An individual report needs a patient")
        self.ctx = ctx
        self.kind = kind
        self.patient_id = patient_id
        self.templates: list[TemplateInfo] = []
        self.report: RenderedReport | None = None
        self.setWindowTitle(f"PHMS — {KIND_TITLES[kind]}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        self.template_box = QComboBox()
        self.template_box.setMinimumContentsLength(24)
        self.template_box.currentIndexChanged.connect(lambda *_: self.refresh())
        top = QHBoxLayout()
        label = QLabel("&Template:")
        label.setBuddy(self.template_box)
        top.addWidget(label)
        top.addWidget(self.template_box)
        self.from_check = QCheckBox("&From")
        self.from_date = QDateEdit(QDate.currentDate().addYears(-1))
        self.to_check = QCheckBox("t&o")
        self.to_date = QDateEdit(QDate.currentDate())
        self.from_date.setAccessibleName("From date")
        self.to_date.setAccessibleName("To date")
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            style_date_edit(edit)
            edit.setEnabled(False)
        self.from_check.toggled.connect(self.from_date.setEnabled)
        self.to_check.toggled.connect(self.to_date.setEnabled)
        if kind == "statistical":
            for w in (self.from_check, self.from_date, self.to_check, self.to_date):
                top.addWidget(w)
        self.refresh_button = QPushButton("&Show")
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        top.addStretch(1)
        self.edit_button = QPushButton("&Edit template…")
        self.edit_button.clicked.connect(self.edit_template)
        self.edit_button.setVisible(ctx.login.group == "admin")
        top.addWidget(self.edit_button)

        self.browser = QTextBrowser()
        self.browser.setAccessibleName("Report")
        self.browser.setOpenLinks(False)
        self.browser.document().setDefaultStyleSheet(REPORT_CSS)
        self.browser.document().setDocumentMargin(18)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        self.print_button = QPushButton("&Print…")
        self.print_button.clicked.connect(self.print_report)
        self.pdf_button = QPushButton("Save as P&DF…")
        self.pdf_button.clicked.connect(self.ask_save_pdf)
        self.csv_button = QPushButton("Export &CSV…")
        self.csv_button.clicked.connect(lambda: self.ask_export("csv"))
        self.xlsx_button = QPushButton("Export &XLSX…")
        self.xlsx_button.clicked.connect(lambda: self.ask_export("xlsx"))
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.print_button)
        bottom.addWidget(self.pdf_button)
        if kind == "statistical":
            bottom.addWidget(self.csv_button)
            bottom.addWidget(self.xlsx_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.browser, 1)
        layout.addLayout(bottom)
        self.connection_notice = add_connection_notice(ctx, self)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Print), self, self.print_report)
        self._set_report(None)
        self.resize(820, 900)
        self.load_templates()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:  # as in any dialog
            self.close()
            return
        super().keyPressEvent(event)

    # ----------------------------------------------------------------- public

    def load_templates(self) -> None:
        db, kind = self.ctx.db, self.kind

        def job() -> list[TemplateInfo]:
            with db.session() as session:
                return reports.list_templates(session, kind)

        self.ctx.tasks.run(job, on_success=self._templates, on_error=self._failed)

    def current_template(self) -> TemplateInfo | None:
        i = self.template_box.currentIndex()
        return self.templates[i] if 0 <= i < len(self.templates) else None

    def period(self) -> tuple[dt.date | None, dt.date | None]:
        start = self.from_date.date().toPython() if self.from_check.isChecked() else None
        end = self.to_date.date().toPython() if self.to_check.isChecked() else None
        return start, end  # type: ignore[return-value]

    def refresh(self, body: str | None = None) -> None:
        """Render the current template (or ``body``, an unsaved edit) in the background."""
        template = self.current_template()
        if template is None:
            return
        db, kind, pid = self.ctx.db, self.kind, self.patient_id
        hospital_id = self.ctx.config.hospital_id
        start, end = self.period()
        name = template.name

        def job() -> RenderedReport:
            with db.session(long_running=True) as session:
                if body is None:
                    if kind == "individual":
                        assert pid is not None
                        return reports.render_individual(
                            session, template.id, pid, hospital_id=hospital_id
                        )
                    return reports.render_statistical(
                        session, template.id, date_from=start, date_to=end, hospital_id=hospital_id
                    )
                if kind == "individual":
                    assert pid is not None
                    context = reports.individual_context(session, pid, hospital_id=hospital_id)
                    html = render_bounded(body, context, template=f"{name} (draft)")
                    return RenderedReport(f"{name} (draft)", kind, html)
                context, stats = reports.statistical_context(
                    session, date_from=start, date_to=end, hospital_id=hospital_id
                )
                html = render_bounded(body, context, template=f"{name} (draft)")
                return RenderedReport(f"{name} (draft)", kind, html, stats)

        self.status.setText("Preparing the report…")
        self.ctx.tasks.run(
            job, on_success=self._set_report, on_error=self._failed, key=("report", id(self))
        )

    def save_pdf(self, path: Path) -> None:
        if self.report is None:
            raise RuntimeError("No report to save")
        html_to_pdf(self.report.html, path, title=self.report.title)
        self.status.setText(f"Saved {path.name}.")

    def export_table(self, path: Path, fmt: str) -> None:
        if self.report is None or self.report.statistics is None:
            raise RuntimeError("No statistics to export")
        tables = self.report.statistics.tables()
        path.write_bytes(to_csv(tables) if fmt == "csv" else to_xlsx(tables))
        self.status.setText(f"Saved {path.name}.")

    def print_report(self) -> None:
        if self.report is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(self.report.title)
        dialog = QPrintDialog(printer, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            print_html(self.report.html, printer, self.report.title)

    def ask_save_pdf(self) -> None:
        if self.report is None:
            return
        suggested = self.report.title.split(" — ")[0].replace(" ", "-").lower() + ".pdf"
        name, _ = QFileDialog.getSaveFileName(self, "Save report as PDF", suggested, "PDF (*.pdf)")
        if name:
            self.save_pdf(Path(name))

    def ask_export(self, fmt: str) -> None:
        if self.report is None or self.report.statistics is None:
            return
        pattern = "CSV (*.csv)" if fmt == "csv" else "Excel workbook (*.xlsx)"
        name, _ = QFileDialog.getSaveFileName(self, "Export results", f"cohort.{fmt}", pattern)
        if name:
            self.export_table(Path(name), fmt)

    def edit_template(self) -> TemplateEditor | None:
        template = self.current_template()
        if template is None:
            return None
        editor = TemplateEditor(self, template)
        editor.show()
        return editor

    # -------------------------------------------------------------- internals

    def _templates(self, templates: list[TemplateInfo]) -> None:
        current = self.current_template()
        self.templates = templates
        self.template_box.blockSignals(True)
        self.template_box.clear()
        for t in templates:
            self.template_box.addItem(t.name)
            self.template_box.setItemData(
                self.template_box.count() - 1, t.description, Qt.ItemDataRole.ToolTipRole
            )
        ids = [t.id for t in templates]
        if current is not None and current.id in ids:
            self.template_box.setCurrentIndex(ids.index(current.id))
        else:  # a new window opens with the site's default (letter) of its kind
            defaults = [i for i, t in enumerate(templates) if t.is_default]
            if defaults:
                self.template_box.setCurrentIndex(defaults[0])
        self.template_box.blockSignals(False)
        if not templates:
            self.status.setText("There is no template for this kind of report yet.")
        self.templates_loaded.emit()
        self.refresh()

    def _set_report(self, report: RenderedReport | None) -> None:
        self.report = report
        ready = report is not None
        for button in (self.print_button, self.pdf_button):
            button.setEnabled(ready)
        has_stats = report is not None and report.statistics is not None
        self.csv_button.setEnabled(has_stats)
        self.xlsx_button.setEnabled(has_stats)
        if report is not None:
            self.browser.setHtml(report.html)
            self.setWindowTitle(f"PHMS — {report.title}")
            self.status.setText("")
            self.rendered.emit(report)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, TemplateProblem):
            message = f"The report cannot be made. {exc}"
        elif isinstance(exc, ReportProcessFailed):
            message = f"The report cannot be made: {exc}. Try again; if it persists, restart PHMS."
        else:
            error = classify(exc, address=self.ctx.db.address)
            message = f"{error.title}. {error.message}"
        self._set_report(None)
        self.browser.clear()
        self.status.setText(message)
        self.failed.emit(message)


class TemplateEditor(QDialog):
    """Admins: change a template's name, description and text; try it; save it."""

    saved = Signal(object)

    def __init__(self, preview: ReportPreview, template: TemplateInfo) -> None:
        super().__init__(preview)
        self.preview = preview
        self.template = template
        self.setWindowTitle(f"Edit template — {template.name}")
        self.name = QLineEdit(template.name)
        self.name.setMaxLength(reports.MAX_NAME)
        self.description = QLineEdit(template.description)
        self.description.setMaxLength(reports.MAX_DESCRIPTION)
        self.body = QPlainTextEdit(template.body)
        self.body.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.body.setAccessibleName("Template text")
        font = self.body.font()
        font.setFamily("DejaVu Sans Mono")
        font.setStyleHint(font.StyleHint.Monospace)
        self.body.setFont(font)
        self.limit_hints = [
            limit_text(self.name, "report_template", "name"),
            limit_text(self.description, "report_template", "description"),
            limit_text(self.body, "report_template", "body"),
        ]
        self.message = QLabel(
            "Placeholders like {{ patient.name }}, conditions like {% if … %}…{% endif %}; "
            "see the user guide for every field."
        )
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&Name:", self.name)
        form.addRow("&Description:", self.description)
        buttons = QDialogButtonBox()  # made in the order they stand: Tab's order
        self.save_button = buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.try_button = buttons.addButton("&Try", QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.try_button.clicked.connect(self.try_it)
        self.save_button.clicked.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.connection_notice = add_connection_notice(preview.ctx, self)
        self.resize(760, 640)

    def data(self) -> TemplateInput:
        return TemplateInput(
            self.name.text(), self.template.kind, self.body.toPlainText(), self.description.text()
        )

    def try_it(self) -> None:
        self.preview.refresh(self.body.toPlainText())

    def save(self) -> None:
        db, template, data = self.preview.ctx.db, self.template, self.data()
        if len(data.body) > reports.MAX_BODY:
            self.message.setText(
                f"Not saved: the text is {len(data.body):,} characters long; "
                f"a template may have at most {reports.MAX_BODY:,}."
            )
            return

        def job() -> TemplateInfo:
            with db.session() as session:
                return reports.update_template(session, template.id, template.version, data)

        self.save_button.setEnabled(False)
        self.preview.ctx.tasks.run(job, on_success=self._saved, on_error=self._failed)

    def _saved(self, info: TemplateInfo) -> None:
        self.template = info
        self.save_button.setEnabled(True)
        self.saved.emit(info)
        self.preview.load_templates()
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        if isinstance(exc, TemplateProblem):
            text = f"Not saved. {exc}"
        elif isinstance(exc, reports.StaleTemplate):
            text = (
                f"Not saved: {exc.theirs.updated_by} changed this template meanwhile. "
                "Copy your text, close this editor and open the template again."
            )
        else:
            error = classify(exc)
            text = f"Not saved: {error.title}. {error.message}"
        self.message.setText(text)
