"""Tools > Report templates… (admins): create, duplicate, rename, make default, delete.

The list shows every template with its kind and which one is the default (the
one a report of that kind opens with; for individual reports the site's
default letter). The selected template is previewed over the sample data of
its kind, and the same template check that guards every save (bounded in time
and memory, over a full and an empty sample) says whether it works. The text
itself is edited from the report window (**Edit template…**).

The default cannot be deleted: the button says so, and the database refuses
it for any login.
"""

from __future__ import annotations

import html
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.reports.bounded import render_bounded
from phms_client.reports.engine import TemplateProblem
from phms_client.services import reports
from phms_client.services.report_samples import sample_contexts
from phms_client.services.reports import TemplateInfo, TemplateInput
from phms_client.ui.shared.context import AppContext

__all__ = ["STARTERS", "TemplateManager", "may_manage_templates"]

KIND_LABELS: Final = {"individual": "Patient letter", "statistical": "Statistical report"}

#: The text a new template starts with: short, valid, and showing where data comes from.
STARTERS: Final = {
    "individual": (
        "<h1>{{ patient.name }}</h1>\n"
        "<p>Patient ID {{ patient.code }}, born {{ patient.birth_date }}.</p>\n"
    ),
    "statistical": "<h1>Cohort</h1>\n<p>{{ period }}</p>\n",
}


def may_manage_templates(ctx: AppContext) -> bool:
    return ctx.login.group == "admin"


class TemplateManager(QWidget):
    """One window per main window; every change goes through the database's rights."""

    #: The list was (re)loaded.
    loaded = Signal()
    #: A change was saved; carries a sentence saying what.
    changed = Signal(str)
    #: A change was refused; carries the reason in words.
    failed = Signal(str)
    #: The preview and the template check of the selected template are shown.
    previewed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.templates: list[TemplateInfo] = []
        self._select_id: int | None = None
        self.setWindowTitle("PHMS — Report templates")

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Kind", "Default", "Description"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.new_button = QPushButton("&New…")
        self.duplicate_button = QPushButton("D&uplicate…")
        self.rename_button = QPushButton("&Rename…")
        self.default_button = QPushButton("Make &default")
        self.delete_button = QPushButton("De&lete…")
        self.new_button.clicked.connect(lambda: self.new_template())
        self.duplicate_button.clicked.connect(lambda: self.duplicate_selected())
        self.rename_button.clicked.connect(lambda: self.rename_selected())
        self.default_button.clicked.connect(lambda: self.make_selected_default())
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        buttons = QHBoxLayout()
        for b in (
            self.new_button,
            self.duplicate_button,
            self.rename_button,
            self.default_button,
            self.delete_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.check_label = QLabel()
        self.check_label.setWordWrap(True)
        self.check_label.setTextFormat(Qt.TextFormat.PlainText)
        self.preview = QTextBrowser()
        self.preview.setOpenLinks(False)
        preview_box = QWidget()
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(QLabel("Preview over sample data (nobody real):"))
        preview_layout.addWidget(self.preview, 1)
        preview_layout.addWidget(self.check_label)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(preview_box)
        splitter.setSizes([200, 320])

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self.resize(760, 600)
        self._update_buttons()
        self.reload()

    # ----------------------------------------------------------------- list

    def reload(self, select_id: int | None = None) -> None:
        current = self.selected()
        self._select_id = select_id if select_id is not None else (current.id if current else None)
        db = self.ctx.db

        def job() -> list[TemplateInfo]:
            with db.session() as session:
                return reports.list_templates(session)

        self.ctx.tasks.run(job, on_success=self._show, on_error=self._failed)

    def _show(self, templates: list[TemplateInfo]) -> None:
        self.templates = templates
        self.table.setRowCount(len(templates))
        row_to_select = 0
        for row, t in enumerate(templates):
            cells = (
                t.name,
                KIND_LABELS.get(t.kind, t.kind),
                "✓" if t.is_default else "",
                t.description,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    if t.is_default:
                        item.setToolTip("Reports of this kind open with this template")
                self.table.setItem(row, column, item)
            if t.id == self._select_id:
                row_to_select = row
        if templates:
            self.table.selectRow(row_to_select)
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> TemplateInfo | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.templates):
            return None
        return self.templates[rows[0].row()]

    def _update_buttons(self) -> None:
        t = self.selected()
        for b in (self.duplicate_button, self.rename_button, self.delete_button):
            b.setEnabled(t is not None)
        self.default_button.setEnabled(t is not None and not t.is_default)
        if t is not None and t.is_default:
            self.delete_button.setToolTip(
                "The default template cannot be deleted: make another one the default first."
            )
        else:
            self.delete_button.setToolTip("Delete the selected template (its text stays in the "
                                           "audit trail).")  # fmt: skip

    def _selection_changed(self) -> None:
        self._update_buttons()
        if self.status.text() != "Saving…":
            self.status.clear()
        t = self.selected()
        if t is None:
            self.preview.clear()
            self.check_label.clear()
            return
        self._preview(t)

    # ----------------------------------------------------------------- preview

    def _preview(self, template: TemplateInfo) -> None:
        def job() -> tuple[str, str]:
            full, _empty = sample_contexts(template.kind)
            try:
                reports.check_template(template.kind, template.body, template.name)
                verdict = "Template check: it works over a full and an empty sample."
            except TemplateProblem as exc:
                verdict = f"Template check: {exc}"
            try:
                page = render_bounded(template.body, full, template=template.name)
            except TemplateProblem as exc:
                page = f"<p><b>Cannot show it:</b> {html.escape(str(exc))}</p>"
            return page, verdict

        def shown(result: tuple[str, str]) -> None:
            if self.selected() is not template:
                return  # another template was selected meanwhile
            page, verdict = result
            self.preview.setHtml(page)
            self.check_label.setText(verdict)
            self.previewed.emit()

        self.check_label.setText("Checking the template…")
        self.ctx.tasks.run(
            job, on_success=shown, on_error=self._failed, key=("tpl-preview", id(self))
        )

    # ----------------------------------------------------------------- changes

    def _ask_name(self, title: str, label: str, text: str = "") -> str | None:
        name, ok = QInputDialog.getText(self, title, label, text=text)
        return name.strip() if ok and name.strip() else None

    def new_template(self, name: str | None = None, kind: str | None = None) -> None:
        if kind is None:
            labels = list(KIND_LABELS.values())
            chosen, ok = QInputDialog.getItem(
                self, "New template", "Kind of report:", labels, 0, False
            )
            if not ok:
                return
            kind = next(k for k, v in KIND_LABELS.items() if v == chosen)
        if name is None:
            name = self._ask_name("New template", "Name of the new template:")
            if name is None:
                return
        data = TemplateInput(name, kind, STARTERS[kind], "")
        self._run(lambda s: reports.create_template(s, data), f"Created “{name}”.")

    def duplicate_selected(self, name: str | None = None) -> None:
        t = self.selected()
        if t is None:
            return
        if name is None:
            name = self._ask_name("Duplicate template", "Name of the copy:", f"{t.name} (copy)")
            if name is None:
                return
        new_name = name
        self._run(lambda s: reports.duplicate_template(s, t.id, new_name), f"Created “{name}”.")

    def rename_selected(self, name: str | None = None) -> None:
        t = self.selected()
        if t is None:
            return
        if name is None:
            name = self._ask_name("Rename template", "New name:", t.name)
            if name is None:
                return
        new_name = name
        self._run(
            lambda s: reports.rename_template(s, t.id, t.version, new_name),
            f"Renamed “{t.name}” to “{name}”.",
        )

    def make_selected_default(self) -> None:
        t = self.selected()
        if t is None or t.is_default:
            return
        self._run(
            lambda s: reports.set_default_template(s, t.id),
            f"“{t.name}” is now the default {KIND_LABELS.get(t.kind, t.kind).lower()} template.",
        )

    def delete_selected(self, *, confirm: bool = True) -> None:
        t = self.selected()
        if t is None:
            return
        if t.is_default:
            self._refused(str(reports.TemplateIsDefault(t.name)))
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                "Delete template",
                f"Delete the template “{t.name}”? Its text stays in the audit trail.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._run(lambda s: reports.delete_template(s, t.id, t.version), f"Deleted “{t.name}”.")

    def _run(self, change, done: str) -> None:  # type: ignore[no-untyped-def]
        db = self.ctx.db

        def job() -> int | None:
            with db.session() as session:
                result = change(session)
            return result.id if isinstance(result, TemplateInfo) else None

        def saved(new_id: int | None) -> None:
            self.status.setText(done)
            self.reload(select_id=new_id)
            self.changed.emit(done)

        self.status.setText("Saving…")
        self.ctx.tasks.run(job, on_success=saved, on_error=self._failed)

    def _refused(self, text: str) -> None:
        self.status.setText(text)
        self.failed.emit(text)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, reports.TemplateIsDefault | TemplateProblem):
            text = str(exc)
        elif isinstance(exc, reports.StaleTemplate):
            text = (
                f"Not saved: {exc.theirs.updated_by} changed “{exc.theirs.name}” meanwhile. "
                "The list is reloaded; try again."
            )
            self.reload()
        elif isinstance(exc, reports.TemplateNotFound):
            text = "That template is gone (someone deleted it). The list is reloaded."
            self.reload()
        else:
            error = classify(exc, address=self.ctx.db.address)
            text = f"Not saved. {error.title}: {error.message}"
        self._refused(text)
