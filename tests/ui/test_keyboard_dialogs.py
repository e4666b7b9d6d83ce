"""Keyboard and screen reader in every form and dialog not tested with its own module.

For each: every input has an accessible name, every button and labelled field its
Alt+letter (:func:`tests.ui.keyboard.problems`), Tab walks in reading order (one column,
then the buttons from left to right), and Escape closes it. The patient form, the
login dialog and the 6-minute walk form are checked in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from phms_client.ui.admin.preferences_dialog import PreferencesDialog
from phms_client.ui.admin.staff_window import StaffWindow
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.chart.record_forms.assessment_form import AssessmentForm
from phms_client.ui.chart.record_forms.chart_items_panel import ChartItemsPanel
from phms_client.ui.chart.record_forms.vasodilator_form import VasodilatorForm
from phms_client.ui.clinic_day.appointment_dialog import AppointmentDialog
from phms_client.ui.patients.conflict_dialog import ConflictDialog
from phms_client.ui.reports.error_check_window import ErrorCheckWindow
from phms_client.ui.reports.report_actions import RegistryExportDialog
from phms_client.ui.reports.report_preview import ReportPreview
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.about_dialog import AboutDialog
from phms_client.ui.shell.change_password_dialog import ChangePasswordDialog
from phms_client.ui.shell.problem_dialog import ProblemDialog
from phms_client.ui.shell.settings_dialog import SettingsDialog
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import LOAD_MS, add_item, days_ago, enter_patient, new_patient
from tests.ui.keyboard import (
    clashes,
    fields_without_mnemonic,
    out_of_reading_order,
    problems,
    tab_order,
)
from tests.ui.patient_env import Session, app_context
from tests.ui.shell_support import server_settings, write_location
from tests.ui.test_conflict import details


@pytest.fixture
def admin(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_admin", live=False) as s:
        yield s


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


def shown(qtbot: QtBot, window: QWidget) -> QWidget:
    window.show()
    qtbot.waitExposed(window)
    return window


def check(window: QWidget) -> list[QWidget]:
    """The shared checks on what is shown now; returns the tab order."""
    assert problems(window) == []
    order = tab_order(window)
    assert out_of_reading_order(window, order) == []
    return order


def escape_closes(qtbot: QtBot, window: QWidget) -> None:
    target = window.focusWidget() or window
    qtbot.keyClick(target, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not shiboken6.isValid(window) or not window.isVisible(), timeout=2_000)


def texts(order: list[QWidget]) -> list[str]:
    return [w.text() for w in order if isinstance(w, QPushButton)]


# --------------------------------------------------------------------------- admin side

ADMIN_WINDOWS: dict[str, Callable[[Session], QWidget]] = {
    "appointment": lambda s: AppointmentDialog(s.ctx, parent=s.windows),
    "staff accounts": lambda s: StaffWindow(s.ctx, s.windows),
    "report a problem": lambda s: ProblemDialog(s.ctx, s.windows),
    "about": lambda s: AboutDialog(s.ctx, s.windows),
    "error check": lambda s: ErrorCheckWindow(s.ctx, s.windows),
    "report preview": lambda s: ReportPreview(s.ctx, "statistical", None, s.windows),
    "registry export": lambda s: RegistryExportDialog(s.ctx, s.windows),
    "change password": lambda s: ChangePasswordDialog(s.ctx.db, s.ctx.login, s.ctx.tasks),
}


@pytest.mark.parametrize("name", list(ADMIN_WINDOWS))
def test_window_keyboard_and_screen_reader(qtbot: QtBot, admin: Session, name: str) -> None:
    window = shown(qtbot, ADMIN_WINDOWS[name](admin))
    if window.parent() is None:
        qtbot.addWidget(window)
    qtbot.wait(300)  # what loads at opening is in
    order = check(window)
    assert order, "nothing to reach with Tab"
    assert clashes(window) == {}
    assert fields_without_mnemonic(window) == []
    escape_closes(qtbot, window)


def test_appointment_tab_order(qtbot: QtBot, admin: Session) -> None:
    dialog = shown(qtbot, AppointmentDialog(admin.ctx, parent=admin.windows))
    assert isinstance(dialog, AppointmentDialog)
    assert check(dialog) == [
        dialog.search_edit,
        dialog.date_edit,
        dialog.time_edit,
        dialog.kind_combo,
        dialog.duration_spin,
        dialog.note_edit,
        dialog.save_button,
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel),
    ]
    assert dialog.date_edit.accessibleName() == "Date"


def test_dialog_buttons_in_the_order_they_stand(qtbot: QtBot, admin: Session) -> None:
    problem = shown(qtbot, ProblemDialog(admin.ctx, admin.windows))
    assert texts(check(problem)) == ["&Send report", "Cancel"]
    about = shown(qtbot, AboutDialog(admin.ctx, admin.windows))
    assert texts(check(about)) == ["&Copy details", "Close"]
    export = shown(qtbot, RegistryExportDialog(admin.ctx, admin.windows))
    assert texts(check(export)) == ["&Browse…", "&Export", "Close"]


def test_preferences_every_tab(qtbot: QtBot, admin: Session) -> None:
    dialog = shown(qtbot, PreferencesDialog(admin.ctx, admin.windows))
    assert isinstance(dialog, PreferencesDialog)
    qtbot.waitUntil(dialog.tabs.isEnabled, timeout=LOAD_MS)
    tabs: QTabWidget = dialog.tabs
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        assert problems(dialog) == [], tabs.tabText(i)
        assert clashes(dialog) == {}, tabs.tabText(i)
        assert fields_without_mnemonic(dialog) == [], tabs.tabText(i)
        order = tab_order(dialog)
        assert out_of_reading_order(dialog, order) == [], tabs.tabText(i)
        assert tabs.isAncestorOf(order[0]), tabs.tabText(i)
        assert order[-1] is dialog.close_button, tabs.tabText(i)  # (Save: once changed)
    tabs.setCurrentIndex(0)
    assert tab_order(dialog)[0] is dialog.general.id_format.edit
    escape_closes(qtbot, dialog)


def test_staff_account_dialogs(qtbot: QtBot, admin: Session) -> None:
    window = shown(qtbot, StaffWindow(admin.ctx, admin.windows))
    assert isinstance(window, StaffWindow)
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=LOAD_MS)
    window.select("t_clerk")
    assert texts(check(window))[:2] == ["&New login…", "&Reset password…"]
    for open_dialog in (window.new_login, window.reset_password, window.change_group):
        open_dialog()
        dialog = window.dialog
        assert isinstance(dialog, QDialog) and dialog.isVisible()
        qtbot.waitExposed(dialog)
        assert check(dialog), dialog.windowTitle()
        assert clashes(dialog) == {}, dialog.windowTitle()
        assert fields_without_mnemonic(dialog) == [], dialog.windowTitle()
        escape_closes(qtbot, dialog)
    escape_closes(qtbot, window)


def test_settings_dialog(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> None:
    runner = TaskRunner(presenter=lambda error: pytest.fail(f"unexpected {error}"))
    try:
        dialog = SettingsDialog(write_location(tmp_path, user=server_settings(db)), runner)
        qtbot.addWidget(dialog)
        shown(qtbot, dialog)
        order = check(dialog)
        assert clashes(dialog) == {}
        assert fields_without_mnemonic(dialog) == []
        assert order[0] is dialog.editors["hosts"]
        escape_closes(qtbot, dialog)
    finally:
        assert runner.shutdown(10_000)


def test_conflict_dialog(qtbot: QtBot) -> None:
    theirs = details()
    mine = theirs.as_input().__class__(**{**theirs.as_input().__dict__, "phone": "222"})
    dialog = ConflictDialog(theirs, mine)
    qtbot.addWidget(dialog)
    shown(qtbot, dialog)
    assert check(dialog)
    escape_closes(qtbot, dialog)


# ------------------------------------------------------------------------ clinical side


def test_assessment_and_vasodilator_forms(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    for form in (
        AssessmentForm(clinician.ctx, parent=clinician.windows),
        AssessmentForm(clinician.ctx, kind="followup", parent=clinician.windows),
        VasodilatorForm(clinician.ctx, parent=clinician.windows),
    ):
        shown(qtbot, form)
        enter_patient(qtbot, form, p.patient_code)
        assert problems(form) == [], form.windowTitle()
        assert clashes(form) == {}, form.windowTitle()
        order = tab_order(form)
        assert order[:2] == [form.header.date_edit, form.header.code_edit]
        assert order[-2:] == [form.cancel_button, form.save_button]  # as they stand
        # Side-by-side groups: down each group, in the order the form lists its fields.
        edits = [field.edit for field in form.fields.values()]
        reached = [w for w in order if w in edits]
        assert reached == [e for e in edits if e in reached], form.windowTitle()
        assert len(reached) >= 5, form.windowTitle()
        form.discard()


def test_chart_item_dialogs(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    item = add_item(clinician.ctx.db, "medication", p.id, "sildenafil", days_ago(30))
    panel = ChartItemsPanel(clinician.ctx, p.id, parent=clinician.windows)
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        panel.show()
    assert problems(panel) == []
    add = panel.ask_add()
    assert add is not None
    qtbot.waitExposed(add)
    assert clashes(add) == {}
    assert fields_without_mnemonic(add) == []
    assert check(add)[:3] == [add.name_combo, add.details_edit, add.start_edit]
    escape_closes(qtbot, add)
    assert panel.select(item.id)
    for ask in (panel.ask_stop, panel.ask_delete):
        dialog = ask()
        assert dialog is not None
        qtbot.waitExposed(dialog)
        dialog.reason_combo.setEditText("entered in error")  # OK waits for a reason
        cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        assert check(dialog)[-2:] == [dialog.ok_button, cancel]
        escape_closes(qtbot, dialog)


def test_chart_window_keys_are_all_different(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    add_item(clinician.ctx.db, "medication", p.id, "sildenafil", days_ago(30))
    chart = ChartWindow(clinician.ctx, p.id, parent=clinician.windows)
    with qtbot.waitSignal(chart.loaded, timeout=LOAD_MS):
        chart.show()
    qtbot.waitUntil(lambda: chart.clinical is not None and chart.clinical.isVisible())
    qtbot.wait(300)
    assert problems(chart) == []
    assert clashes(chart) == {}


def test_template_editor(qtbot: QtBot, admin: Session) -> None:
    preview = shown(qtbot, ReportPreview(admin.ctx, "statistical", None, admin.windows))
    assert isinstance(preview, ReportPreview)
    qtbot.waitUntil(lambda: preview.current_template() is not None, timeout=LOAD_MS)
    editor = preview.edit_template()
    assert editor is not None
    qtbot.waitExposed(editor)
    order = check(editor)
    assert clashes(editor) == {}
    assert fields_without_mnemonic(editor) == []
    assert order[:3] == [editor.name, editor.description, editor.body]
    escape_closes(qtbot, editor)
