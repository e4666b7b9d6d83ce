"""The main window: find a patient, open the chart, create or edit demographics.

Keyboard first: typing goes to the search box (Ctrl+F brings it back), Down moves
into the list, Enter opens the chart, Ctrl+N creates a patient, Ctrl+E edits the
selected one. Below the search, the day's appointments (:class:`DayListWidget`);
*Enter data* there opens the patient's chart. Patient data lives only in the central
widget and in the chart and form windows, so :meth:`MainWindow.hide_patient_data` can
hide all of it.
"""

from __future__ import annotations

from typing import Any, Final

import shiboken6
from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import DemographicsEntry, format_day, parse_day
from phms_client.services import chart as chart_service
from phms_client.services.input_rules import limits
from phms_client.services.patients import PatientDetails
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.chart.record_forms.launcher import RecordForms
from phms_client.ui.clinic_day.day_list import DayListWidget
from phms_client.ui.patients.patient_form import PatientForm, can_edit_patients
from phms_client.ui.patients.patient_model import (
    PATIENT_ID_ROLE,
    PatientTableModel,
    setup_patient_view,
)
from phms_client.ui.patients.patient_search import PatientSearch
from phms_client.ui.reports.report_actions import install_report_actions
from phms_client.ui.shared.context import AppContext

__all__ = ["MainWindow"]

SEARCH_HINT: Final = (
    "Type a name, a patient ID or a date of birth to find a patient — "
    "for example “Müller”, “1234567-8” or “17.05.1960”.\n\n"
    "Accents and small typing errors do not matter. "
    "Down arrow moves into the list, Enter opens the chart, Ctrl+N creates a new patient."
)


class MainWindow(QMainWindow):
    """The window staff work from. Menus: Patients, Tools, Options, Help."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.charts: dict[int, ChartWindow] = {}
        self.edit_forms: dict[int, PatientForm] = {}
        self.new_forms: list[PatientForm] = []
        self._editable = ctx.connection.online
        self._may_edit = can_edit_patients(ctx)
        self._data_hidden = False
        self._keep_id: int | None = None
        self.setWindowTitle("PHMS")

        self.model = PatientTableModel(self)
        self.search = PatientSearch(ctx, self.model, self)
        #: Assessment, followup, challenge and walk forms, from the menu and from charts.
        self.record_forms = RecordForms(ctx, self)
        self.record_forms.patient_created.connect(lambda _: self.search.refresh())
        self._build_actions()
        self._build_menus()
        #: Patient report, statistical report, Error Check, registry export.
        self.report_actions = install_report_actions(self, ctx)
        self._build_central()
        self._build_status_bar()

        self.search.status_changed.connect(self._show_status)
        self.search.results_replaced.connect(self._results_replaced)
        self.model.modelAboutToBeReset.connect(self._remember_current)
        self.model.rowsInserted.connect(lambda *_: self._update_actions())
        ctx.tasks.busy_changed.connect(self._set_busy)
        ctx.connection.online_changed.connect(self.set_editable)
        self.set_editable(self._editable)
        self.resize(960, 640)
        self.search_box.setFocus()

    # ----------------------------------------------------------------- building

    def _build_actions(self) -> None:
        self.new_patient_action = QAction("&New patient…", self)
        self.new_patient_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_patient_action.setStatusTip("Register a new patient")
        self.new_patient_action.triggered.connect(lambda: self.open_new_patient())
        self.find_action = QAction("&Find patient", self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.setStatusTip("Search by name, patient ID or date of birth")
        self.find_action.triggered.connect(self.focus_search)
        self.open_chart_action = QAction("&Open chart", self)
        self.open_chart_action.setShortcut(QKeySequence("Ctrl+O"))
        self.open_chart_action.setStatusTip("Open the selected patient's chart (Enter)")
        self.open_chart_action.triggered.connect(self.open_current_chart)
        self.edit_patient_action = QAction("&Edit patient…", self)
        self.edit_patient_action.setShortcut(QKeySequence("Ctrl+E"))
        self.edit_patient_action.setStatusTip("Edit the selected patient's demographics")
        self.edit_patient_action.triggered.connect(self.edit_current_patient)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.patients_menu: QMenu = bar.addMenu("&Patients")
        self.patients_menu.addAction(self.new_patient_action)
        self.patients_menu.addAction(self.find_action)
        self.patients_menu.addSeparator()
        self.patients_menu.addAction(self.open_chart_action)
        self.patients_menu.addAction(self.edit_patient_action)
        self.patients_menu.addSeparator()
        for action in self.record_forms.actions.values():
            self.patients_menu.addAction(action)
        self.tools_menu: QMenu = bar.addMenu("&Tools")
        self.options_menu: QMenu = bar.addMenu("&Options")
        self.help_menu: QMenu = bar.addMenu("&Help")

    def _build_central(self) -> None:
        self.search_box = QLineEdit()
        self.search_box.setObjectName("patient_search")
        self.search_box.setPlaceholderText("Name, patient ID or date of birth")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMaxLength(limits.MAX_SEARCH)  # the search reads no more
        self.search_box.textChanged.connect(self.search.set_text)
        self.search_box.returnPressed.connect(lambda: self.search.search_now(force=True))
        self.search_box.installEventFilter(self)
        search_label = QLabel("F&ind patient:")  # (Alt+F is the File menu)
        search_label.setBuddy(self.search_box)
        self.new_button = QPushButton("&New patient…")
        self.new_button.setToolTip("Register a new patient (Ctrl+N)")
        self.new_button.clicked.connect(lambda: self.open_new_patient())
        self.new_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        top = QHBoxLayout()
        top.addWidget(search_label)
        top.addWidget(self.search_box, 1)
        top.addWidget(self.new_button)

        self.table = QTableView()
        self.table.setObjectName("patient_list")
        self.table.setModel(self.model)
        setup_patient_view(self.table)
        self.table.activated.connect(self._activated)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_actions())
        self.table.installEventFilter(self)

        self.hint_label = QLabel(SEARCH_HINT)
        self.hint_label.setWordWrap(True)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint_label.setStyleSheet("color: palette(placeholder-text);")
        self.hint_new_button = QPushButton()
        self.hint_new_button.clicked.connect(lambda: self.open_new_patient())
        self.hint_new_button.hide()
        hint_page = QWidget()
        hint_layout = QVBoxLayout(hint_page)
        hint_layout.addStretch(1)
        hint_layout.addWidget(self.hint_label)
        hint_layout.addWidget(self.hint_new_button, 0, Qt.AlignmentFlag.AlignHCenter)
        hint_layout.addStretch(2)
        self.stack = QStackedWidget()
        self.stack.addWidget(hint_page)
        self.stack.addWidget(self.table)

        patients = QWidget()
        layout = QVBoxLayout(patients)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self.day_list = DayListWidget(self.ctx)
        self.day_list.enter_data.connect(self.enter_data)
        self.day_list.chart_requested.connect(self.open_chart)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(patients)
        self.splitter.addWidget(self.day_list)
        self.splitter.setSizes([260, 340])

        central = QWidget()
        central.setObjectName("patient_area")
        central_layout = QVBoxLayout(central)
        central_layout.addWidget(self.splitter)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        self.count_label = QLabel()
        self.count_label.setObjectName("result_count")
        self.statusBar().addWidget(self.count_label, 1)
        self.busy_label = QLabel("Working…")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setTextVisible(False)
        self.statusBar().addPermanentWidget(self.busy_label)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self._set_busy(False)

    # ----------------------------------------------------------------- public API

    def set_editable(self, editable: bool) -> None:
        """Offline (or otherwise not allowed): no editing anywhere; contents are kept."""
        self._editable = editable
        self._update_actions()
        self.day_list.set_editable(editable)
        self.record_forms.set_editable(editable)
        for form in self.forms():
            form.set_editable(editable)
        for chart in self.open_charts():
            chart.set_editable(editable)

    def hide_patient_data(self, hidden: bool) -> None:
        """For the idle lock: hide every patient detail in this window and its children."""
        self._data_hidden = hidden
        central = self.centralWidget()
        if central is not None:
            central.setVisible(not hidden)
        windows: list[ChartWindow | PatientForm] = [*self.open_charts(), *self.forms()]
        for window in windows:
            window.hide_patient_data(hidden)
        self.record_forms.hide_patient_data(hidden)

    def apply_settings(self, settings: object) -> None:
        """Site settings changed (the shell calls this); the ID format is read live."""
        self.day_list.apply_settings(settings)

    def enter_data(self, patient_id: int) -> ChartWindow:
        """The day list's *Enter data*: the patient's chart, where records are entered."""
        return self.open_chart(patient_id)

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def current_patient_id(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return int(self.model.data(index, PATIENT_ID_ROLE))

    def open_current_chart(self) -> ChartWindow | None:
        pid = self.current_patient_id()
        return None if pid is None else self.open_chart(pid)

    def edit_current_patient(self) -> PatientForm | None:
        pid = self.current_patient_id()
        return None if pid is None else self.open_edit(pid)

    def open_chart(self, patient_id: int) -> ChartWindow:
        """Show the patient's chart (one window per patient)."""
        chart = self.charts.get(patient_id)
        if chart is not None and shiboken6.isValid(chart) and chart.isVisible():
            chart.raise_()
            chart.activateWindow()
            return chart
        chart = ChartWindow(self.ctx, patient_id, self, record_forms=self.record_forms)
        self.charts[patient_id] = chart
        chart.edit_requested.connect(self.open_edit)
        chart.destroyed.connect(lambda *_, pid=patient_id, c=chart: self._forget_chart(pid, c))
        chart.set_editable(self._editable)
        if self._data_hidden:
            chart.hide_patient_data(True)
        chart.show()
        return chart

    def open_record(self, patient_id: int, table: str, record_id: int) -> None:
        """Show the patient's chart and open one of its records (from the Error Check).

        An assessment row may be an assessment or a followup; which form fits is
        asked of the server first.
        """
        self.open_chart(patient_id)
        if table != "assessment":
            self.record_forms.open_record(table, record_id)
            return

        def kind() -> str:
            with self.ctx.db.session() as s:
                return chart_service.get_assessment(s, record_id).data.kind

        self.ctx.tasks.run(kind, on_success=lambda k: self.record_forms.open_record(k, record_id))

    def open_new_patient(self, prefill: DemographicsEntry | None = None) -> PatientForm | None:
        """Open an empty form (prefilled from the search box when it holds an ID, a date or a
        name)."""
        if not self.new_patient_action.isEnabled():
            return None
        form = PatientForm(self.ctx, prefill=prefill or self._prefill_from_search(), parent=self)
        self.new_forms.append(form)
        form.finished.connect(lambda *_, f=form: self._forget_form(f))
        self._wire_form(form, created=True)
        form.show()
        return form

    def open_edit(self, patient_id: int) -> PatientForm | None:
        """Open the edit form (one per patient)."""
        form = self.edit_forms.get(patient_id)
        if form is not None and shiboken6.isValid(form) and form.isVisible():
            form.raise_()
            form.activateWindow()
            return form
        if not (self._editable and self._may_edit):
            return None
        form = PatientForm(self.ctx, patient_id, parent=self)
        self.edit_forms[patient_id] = form
        form.finished.connect(lambda *_, f=form: self._forget_form(f))
        self._wire_form(form, created=False)
        form.show()
        return form

    def forms(self) -> list[PatientForm]:
        return [
            f
            for f in [*self.new_forms, *self.edit_forms.values()]
            if shiboken6.isValid(f) and f.isVisible()
        ]

    def open_charts(self) -> list[ChartWindow]:
        return [c for c in self.charts.values() if shiboken6.isValid(c) and c.isVisible()]

    def has_unsaved_changes(self) -> bool:
        return (
            any(form.is_dirty() for form in self.forms()) or self.record_forms.has_unsaved_changes()
        )

    # ----------------------------------------------------------------- internals

    def _wire_form(self, form: PatientForm, *, created: bool) -> None:
        form.saved.connect(lambda details: self._patient_saved(details, created=created))
        form.open_chart_requested.connect(self.open_chart)
        form.set_editable(self._editable)
        if self._data_hidden:
            form.hide_patient_data(True)

    def _forget_form(self, form: PatientForm) -> None:
        if form in self.new_forms:
            self.new_forms.remove(form)
        for pid, known in list(self.edit_forms.items()):
            if known is form:
                del self.edit_forms[pid]

    def _forget_chart(self, patient_id: int, chart: ChartWindow) -> None:
        if self.charts.get(patient_id) is chart:
            del self.charts[patient_id]

    def _patient_saved(self, details: PatientDetails, *, created: bool) -> None:
        self.statusBar().showMessage(
            f"{'Created' if created else 'Saved'} {details.family_name}, {details.given_name} "
            f"({details.patient_code}).",
            8000,
        )
        self.search.refresh()
        if created:
            self.open_chart(details.id)

    def _prefill_from_search(self) -> DemographicsEntry:
        text = self.search_box.text().strip()
        if not text:
            return DemographicsEntry()
        fmt = self.ctx.login.settings.patient_id_format
        code = self.search.server_text(text)
        if fmt.is_valid(code):
            return DemographicsEntry(patient_code=code)
        day = parse_day(text)
        if day is not None:
            return DemographicsEntry(birth_date=format_day(day))
        if not any(ch.isdigit() for ch in text):
            family, _, given = text.partition(",")
            return DemographicsEntry(family_name=family.strip(), given_name=given.strip())
        return DemographicsEntry()

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_chart(int(self.model.data(index, PATIENT_ID_ROLE)))

    def _remember_current(self) -> None:
        self._keep_id = self.current_patient_id()

    def _results_replaced(self) -> None:
        query = self.search.query
        has_rows = self.model.rowCount() > 0
        self.stack.setCurrentIndex(1 if has_rows else 0)
        if self._keep_id is not None:
            row = self.model.row_of(self._keep_id)
            if row is not None:
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
        self._keep_id = None
        self.hint_new_button.hide()
        if not query:
            self.hint_label.setText(SEARCH_HINT)
        elif not has_rows:
            fmt = self.ctx.login.settings.patient_id_format
            code = self.search.server_text(query)
            if fmt.is_valid(code):
                self.hint_label.setText(f"No patient has the ID {code}.")
                self.hint_new_button.setText(f"New patient with ID {code}…  (Ctrl+N)")
                self.hint_new_button.setVisible(self.new_patient_action.isEnabled())
            else:
                self.hint_label.setText(
                    f"No patient found for “{query}”.\n\n"
                    "Check the spelling, or search by patient ID or date of birth."
                )
        self._update_actions()

    def _show_status(self, text: str) -> None:
        self.count_label.setText(text)

    def _set_busy(self, busy: bool) -> None:
        self.busy_label.setVisible(busy)
        self.busy_bar.setVisible(busy)

    def _update_actions(self) -> None:
        has_current = self.table.currentIndex().isValid()
        self.new_patient_action.setEnabled(self._editable and self._may_edit)
        self.new_button.setEnabled(self.new_patient_action.isEnabled())
        self.hint_new_button.setEnabled(self.new_patient_action.isEnabled())
        self.open_chart_action.setEnabled(has_current)
        self.edit_patient_action.setEnabled(self._editable and self._may_edit and has_current)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if watched is self.search_box:
                return self._search_key(event)
            if watched is self.table:
                return self._table_key(event)
        return super().eventFilter(watched, event)

    def _search_key(self, event: QKeyEvent) -> bool:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) and self.model.rowCount():
            self.table.setFocus(Qt.FocusReason.TabFocusReason)
            if not self.table.currentIndex().isValid():
                self.table.selectRow(0)
            return True
        return False

    def _table_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key == Qt.Key.Key_Escape or (
            key == Qt.Key.Key_Up and self.table.currentIndex().row() <= 0
        ):
            self.focus_search()
            return True
        text = event.text()
        plain = event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier == (
            Qt.KeyboardModifier.NoModifier
        )
        if plain and text and text.isprintable() and not text.isspace():
            self.search_box.setFocus(Qt.FocusReason.OtherFocusReason)
            self.search_box.end(False)
            self.search_box.insert(text)  # typing in the list refines the search
            return True
        return False

    def closeEvent(self, event: Any) -> None:
        dirty = [form for form in [*self.forms(), *self.record_forms.windows()] if form.is_dirty()]
        if dirty:
            event.ignore()
            dirty[0].raise_()
            dirty[0].activateWindow()
            dirty[0].reject()  # asks whether to discard
            return
        self.search.stop()
        self.day_list.close()
        for chart in self.open_charts():
            chart.close()
        for form in self.forms():
            form.reject()
        self.record_forms.close_all()
        super().closeEvent(event)
