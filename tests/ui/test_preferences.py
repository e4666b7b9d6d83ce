"""Options > Preferences: admins edit the shared settings, others read; changes go live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from phms_client.db.site_settings import SiteSettings
from phms_client.ui.admin.preferences_dialog import READ_ONLY_NOTE, PreferencesDialog
from tests.harness import PgDatabase, settings_restored
from tests.ui.clinic_support import Workstation, clinic_context, setting
from tests.ui.shell_support import logged_in_shell, server_settings, write_location


@pytest.fixture
def restore(admin_engine: sa.Engine) -> Iterator[None]:
    with settings_restored(admin_engine):
        yield


def open_dialog(qtbot: QtBot, station: Workstation) -> PreferencesDialog:
    dialog = PreferencesDialog(station.ctx, station.windows)
    dialog.show()
    qtbot.waitUntil(dialog.tabs.isEnabled, timeout=10_000)
    return dialog


def save(qtbot: QtBot, dialog: PreferencesDialog) -> None:
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


@pytest.mark.usefixtures("restore")
def test_admin_edits_with_a_preview_and_saves(
    qtbot: QtBot, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    with clinic_context(qtbot, db, "t_admin") as station:
        dialog = open_dialog(qtbot, station)
        assert dialog.general.id_format.edit.text() == "NNNNNNN-N"
        assert dialog.general.idle.spin.value() == 15
        assert "inhaled nitric oxide" in dialog.agents.table.item(0, 0).text()
        assert not dialog.save_button.isEnabled()  # nothing changed yet

        dialog.general.id_format.edit.selectAll()
        qtbot.keyClicks(dialog.general.id_format.edit, "ab-nnnnn")  # upper-cased as typed
        assert dialog.general.id_format.edit.text() == "AB-NNNNN"
        assert "Example: <b>" in dialog.general.id_preview.text()
        # Existing patients keep their IDs: the window says how many would not match.
        qtbot.waitUntil(dialog.general.id_warning.isVisible, timeout=5_000)
        warning = dialog.general.id_warning.text()
        assert "do not match" in warning or "matches" in warning
        dialog.general.idle.spin.setValue(9)
        dialog.agents.table.item(0, 2).setText("5, 10, 20, 40")
        assert dialog.save_button.isEnabled()
        assert dialog.status_label.text() == "Changes not saved yet."
        save(qtbot, dialog)
    assert setting(admin_engine, "patient_id_format") == "AB-NNNNN"
    assert setting(admin_engine, "idle_lock_minutes") == 9
    agents = setting(admin_engine, "vasodilator_agents")
    assert isinstance(agents, list) and agents[0]["doses"] == [5, 10, 20, 40]


@pytest.mark.usefixtures("restore")
def test_invalid_values_are_named_in_the_form(qtbot: QtBot, db: PgDatabase) -> None:
    with clinic_context(qtbot, db, "t_admin") as station:
        dialog = open_dialog(qtbot, station)
        dialog.agents.table.item(1, 2).setText("2, four")
        dialog.tabs.setCurrentIndex(0)
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert dialog.message_label.isVisible()
        assert "“four” is not a number" in dialog.message_label.text()
        assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Vasodilator agents"
        assert dialog.isVisible()  # nothing sent, nothing closed

        dialog.agents.table.item(1, 2).setText("2, 4")
        dialog.general.id_format.edit.setText("AAA")
        assert "at least one N" in dialog.general.id_preview.text()
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert "at least one N" in dialog.message_label.text()
        assert dialog.tabs.currentIndex() == 0
        dialog.reject()


@pytest.mark.usefixtures("restore")
def test_clinician_sees_read_only_and_a_bypassed_save_is_refused(
    qtbot: QtBot, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    with clinic_context(qtbot, db, "t_clinician") as station:
        dialog = open_dialog(qtbot, station)
        assert dialog.read_only and dialog.note_label.text() == READ_ONLY_NOTE
        assert dialog.save_button.isHidden()
        assert dialog.general.id_format.edit.isReadOnly() and dialog.general.idle.spin.isReadOnly()
        assert dialog.agents.add_button.isHidden()
        # Bypass the window: force a value in and save anyway. The database refuses.
        dialog.general.idle.spin.setValue(1)
        dialog.save()
        qtbot.waitUntil(dialog.message_label.isVisible, timeout=10_000)
        assert dialog.message_label.text().startswith("Not allowed:")
        assert "administrator" in dialog.message_label.text()
        assert dialog.isVisible()
        dialog.reject()
    assert setting(admin_engine, "idle_lock_minutes") == 15


@pytest.mark.usefixtures("restore")
def test_conflict_shows_theirs_and_lets_the_admin_choose(
    qtbot: QtBot, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    other = db.engine_for("t_admin")
    update = sa.text("UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = :k")
    with clinic_context(qtbot, db, "t_admin") as station:
        dialog = open_dialog(qtbot, station)
        dialog.general.idle.spin.setValue(11)
        # Another admin saves the same setting, and one this window did not touch.
        with other.begin() as conn:
            conn.execute(update, {"k": "idle_lock_minutes", "v": "22"})
            conn.execute(update, {"k": "password_min_length", "v": "13"})
        qtbot.waitUntil(lambda: dialog.general.min_length.spin.value() == 13, timeout=5_000)
        assert dialog.general.idle.spin.value() == 11  # what was typed here stays
        assert "was just changed by t_admin" in dialog.status_label.text()

        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.conflict_box is not None, timeout=10_000)
        box = dialog.conflict_box
        assert isinstance(box, QMessageBox)
        text = box.informativeText()
        assert "Lock the screen after: t_admin saved “22”" in text and "yours is “11”" in text
        qtbot.mouseClick(dialog.use_theirs_button, Qt.MouseButton.LeftButton)
        assert dialog.general.idle.spin.value() == 22 and not dialog.is_dirty()
        assert setting(admin_engine, "idle_lock_minutes") == 22

        # Again, this time keeping ours over theirs.
        dialog.general.idle.spin.setValue(12)
        with other.begin() as conn:
            conn.execute(update, {"k": "idle_lock_minutes", "v": "33"})
        qtbot.waitUntil(lambda: "was just changed" in dialog.status_label.text(), timeout=5_000)
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.conflict_box is not None, timeout=10_000)
        with qtbot.waitSignal(dialog.saved, timeout=10_000):
            qtbot.mouseClick(dialog.keep_mine_button, Qt.MouseButton.LeftButton)
    other.dispose()
    assert setting(admin_engine, "idle_lock_minutes") == 12


@pytest.mark.usefixtures("restore")
def test_a_change_reaches_another_running_client_within_two_seconds(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase
) -> None:
    """Admin saves in Preferences on one workstation; a clerk's PHMS applies it live."""
    location = write_location(tmp_path, user=server_settings(db))
    with (
        logged_in_shell(qtbot, location, "t_clerk", idle_timeout_ms=None) as clerk,
        clinic_context(qtbot, db, "t_admin") as admin,
    ):
        ctx, watch, idle = clerk.shell.context, clerk.shell.settings_watch, clerk.shell.idle
        assert ctx is not None and watch is not None and idle is not None
        qtbot.waitUntil(ctx.live.is_listening, timeout=10_000)
        assert idle.timeout_ms == 15 * 60_000
        assert clerk.shell.preferences_action is not None  # everyone may look
        assert clerk.shell.staff_action is None  # only admins manage staff

        dialog = open_dialog(qtbot, admin)
        dialog.general.idle.spin.setValue(3)
        dialog.general.id_format.edit.setText("NNNNNN")
        with qtbot.waitSignal(watch.settings_changed, timeout=2_000) as changed:
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        new = changed.args[0]
        assert isinstance(new, SiteSettings) and new.idle_lock_minutes == 3
        assert ctx.login.settings.idle_lock_minutes == 3
        assert ctx.login.settings.patient_id_format.pattern == "NNNNNN"
        assert idle.timeout_ms == 3 * 60_000  # the idle lock follows at once


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_shell_opens_one_preferences_window(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_admin") as run:
        shell = run.shell
        assert shell.preferences_action is not None and shell.staff_action is not None
        options = run.window.options_menu.actions()
        assert shell.preferences_action in options and shell.staff_action in options
        shell.preferences_action.trigger()
        first = shell.preferences_dialog
        assert isinstance(first, PreferencesDialog) and first.isVisible()
        shell.preferences_action.trigger()
        assert shell.preferences_dialog is first
        qtbot.waitUntil(first.tabs.isEnabled, timeout=10_000)
        assert not first.read_only
        first.reject()


def test_clinician_preferences_open_beside_the_main_window_and_paint(
    qtbot: QtBot, tmp_path: Path, db: PgDatabase
) -> None:
    """Shown, not run modally from the menu action: the main window keeps painting and
    the dialog's own contents are drawn (a grab that is one colour would be a black or
    blank window)."""
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clinician") as run:
        shell = run.shell
        assert shell.preferences_action is not None
        shell.preferences_action.trigger()  # returns at once: no nested event loop
        dialog = shell.preferences_dialog
        assert isinstance(dialog, PreferencesDialog) and dialog.isVisible()
        assert not dialog.isModal() and dialog.windowModality() == Qt.WindowModality.NonModal
        qtbot.waitExposed(dialog)
        qtbot.waitUntil(dialog.tabs.isEnabled, timeout=10_000)
        assert dialog.read_only and dialog.note_label.text() == READ_ONLY_NOTE
        image = dialog.grab().toImage()
        samples = [
            QColor(image.pixel(x, y))
            for x in range(0, image.width(), 7)
            for y in range(0, image.height(), 7)
        ]
        assert len({c.rgb() for c in samples}) > 10  # not one flat colour
        dark = sum(1 for c in samples if c.lightness() < 40)
        assert dark < len(samples) / 10  # dark text on light ground, not a black window
        assert run.window.isVisible() and run.window.isEnabled()
        dialog.reject()
