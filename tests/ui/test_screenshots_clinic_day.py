"""Screens of the clinic day, rendered for real: day list, booking, preferences, staff.

With ``PHMS_SCREENSHOTS=DIR`` the images are written there as PNG (for docs/screenshots);
without it, the test still renders each screen and checks it is a real picture. The
screens use a database of their own (so no other test's rows appear) with appointments
seeded relative to the server's clock, so every status mark shows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from functools import partial

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from phms_admin import embedded, migrate
from phms_client.clinical.appointments import Mark, Status
from phms_client.db.login import login
from phms_client.services import appointments, staff
from phms_client.ui.admin.preferences_dialog import PreferencesDialog
from phms_client.ui.admin.staff_window import StaffWindow
from phms_client.ui.clinic_day.appointment_dialog import AppointmentDialog, clinic_zone
from phms_client.ui.clinic_day.day_list import DayListWidget
from phms_client.ui.shell.change_password_dialog import ChangePasswordDialog
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase, create_database
from tests.ui import screens
from tests.ui.clinic_support import book, clinic_context, new_patient, server_now

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

PATIENTS = [
    ("Moreau", "Claire"),
    ("Okafor", "Daniel"),
    ("Lindqvist", "Astrid"),
    ("Haddad", "Samir"),
    ("Novak", "Petra"),
    ("Fernández", "Lucía"),
    ("O'Brien", "Siobhán"),
    ("Tanaka", "Hiro"),
    ("Dubois", "Jean"),
]
#: minutes from now (rounded), kind, duration, what happens to it, note
DAY = [
    (-150, "assessment", 60, "done", None),
    (-95, "followup", 30, None, None),  # missed
    (-60, "6-minute walk", 45, "arrived", "with O2 2 L/min"),
    (-40, "followup", 30, "completed", None),
    (-10, "vasodilator challenge", 90, None, "fasting since midnight"),  # due
    (15, "followup", 30, None, None),  # due
    (45, "consultation", 20, "cancelled", "called in sick"),
    (90, "assessment", 60, None, "new referral"),  # upcoming
    (150, "6-minute walk", 45, None, None),  # upcoming
]
STAFF_SHOWN = {
    "anna_meier": ("clinician", True),
    "d_okafor": ("clinician", True),
    "front_desk": ("clerk", True),
    "locum_2024": ("clinician", False),
    "it_admin": ("admin", True),
    "qa_audit": ("auditor", True),
}


#: Grab, check and (with PHMS_SCREENSHOTS) save a screenshot.
capture = partial(screens.capture, settle_ms=50, same_size=False)


@pytest.fixture(scope="module")
def clinic(pg_server: embedded.ServerInfo, db: PgDatabase) -> Iterator[PgDatabase]:
    """A migrated database of its own (the staff logins are the cluster's, from ``db``)."""
    database = PgDatabase(pg_server, f"phms_shots_{uuid.uuid4().hex[:8]}")
    create_database(pg_server, database.name)
    migrate.upgrade(database.admin_url)
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        existing = {m.name for m in staff.list_staff(conn)}
        for name, (group, enabled) in STAFF_SHOWN.items():
            if name not in existing:
                staff.create(conn, name, group, "screenshot-password-1")
            staff.set_enabled(conn, name, enabled)
    engine.dispose()
    yield database
    engine = sa.create_engine(
        pg_server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{database.name}" WITH (FORCE)'))
    engine.dispose()


def seed_day(clinic: PgDatabase) -> dt.date:
    """Today's appointments around the server's clock; returns today (clinic time)."""
    zone = clinic_zone()
    clinician = clinic.engine_for("t_clinician")
    now = server_now(clinician).astimezone(zone)
    base = now.replace(minute=now.minute // 5 * 5, second=0, microsecond=0)
    ids = [new_patient(clinician, family, given).id for family, given in PATIENTS]
    done: list[int] = []
    for pid, (offset, kind, minutes, fate, note) in zip(ids, DAY, strict=True):
        starts = base + dt.timedelta(minutes=offset)
        if starts.date() != now.date():
            continue  # (near midnight some fall on another day)
        row = book(clinician, pid, starts, kind, minutes, note)
        with Session(clinician) as s, s.begin():
            if fate in ("arrived", "completed", "done"):
                row = appointments.set_status(s, row.id, row.version, Status.ARRIVED)
            if fate in ("completed", "done"):
                row = appointments.set_status(s, row.id, row.version, Status.COMPLETED)
            if fate == "cancelled":
                appointments.set_status(s, row.id, row.version, Status.CANCELLED)
        if fate == "done":
            done.append(row.id)
    clinician.dispose()
    admin = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:  # completed an hour ago: locked, shown as done
        conn.execute(sa.text("ALTER TABLE phms.appointment DISABLE TRIGGER appointment_rules"))
        conn.execute(
            sa.text(
                "UPDATE phms.appointment SET status_changed_at = now() - interval '70 minutes' "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": done},
        )
        conn.execute(sa.text("ALTER TABLE phms.appointment ENABLE TRIGGER appointment_rules"))
    admin.dispose()
    return now.date()


def test_day_list(qtbot: QtBot, clinic: PgDatabase) -> None:
    today = seed_day(clinic)
    with clinic_context(qtbot, clinic, "t_clinician") as station:
        widget = DayListWidget(station.ctx, station.windows)
        widget.setWindowTitle("PHMS — Appointments")
        widget.setWindowFlag(Qt.WindowType.Window, True)  # a window of its own here
        widget.resize(940, 430)
        widget.show()
        with qtbot.waitSignal(widget.loaded, timeout=10_000):
            widget.reload()
        assert widget.day == today
        marks = {widget.model.mark(r) for r in range(widget.model.rowCount())}
        if widget.model.rowCount() == len(DAY):  # (all on today: not near midnight)
            assert marks == {
                Mark.DONE,
                Mark.MISSED,
                Mark.ARRIVED,
                Mark.COMPLETED,
                Mark.DUE,
                Mark.CANCELLED,
                Mark.UPCOMING,
            }
        row = next(
            r for r in range(widget.model.rowCount()) if widget.model.mark(r) is Mark.ARRIVED
        )
        widget.table.selectRow(row)
        layout = widget.layout()
        assert layout is not None
        layout.setContentsMargins(10, 10, 10, 10)
        capture(qtbot, widget, "day-list")

        dialog = widget.book()
        assert isinstance(dialog, AppointmentDialog)
        qtbot.keyClicks(dialog.search_edit, "o")
        qtbot.waitUntil(lambda: dialog.results.count() >= 2, timeout=5_000)
        dialog.results.setCurrentRow(0)
        dialog.choose(dialog.results.item(0).data(Qt.ItemDataRole.UserRole))
        dialog.kind_combo.setCurrentText("followup")
        dialog.note_edit.setPlainText("bring the home oxygen diary")
        dialog.adjustSize()
        capture(qtbot, dialog, "book-appointment")
        dialog.reject()
        widget.close()

        from phms_client.ui.shell.main_window import MainWindow

        window = MainWindow(station.ctx, station.windows)
        window.setWindowFlag(Qt.WindowType.Window, True)
        window.resize(980, 680)
        window.show()
        with qtbot.waitSignal(window.day_list.loaded, timeout=10_000):
            window.day_list.reload()
        capture(qtbot, window, "main-window-day")
        window.close()
        assert station.presented == []


def test_preferences(qtbot: QtBot, clinic: PgDatabase) -> None:
    with clinic_context(qtbot, clinic, "t_admin") as station:
        dialog = PreferencesDialog(station.ctx, station.windows)
        dialog.show()
        qtbot.waitUntil(dialog.tabs.isEnabled, timeout=10_000)
        dialog.general.id_format.edit.setText("NNNNNNN-NN")  # being edited: example and a warning
        qtbot.waitUntil(dialog.general.id_warning.isVisible, timeout=5_000)
        capture(qtbot, dialog, "preferences")
        dialog.tabs.setCurrentIndex(2)
        capture(qtbot, dialog, "preferences-agents")
        dialog.tabs.setCurrentIndex(4)
        capture(qtbot, dialog, "preferences-other")
        dialog.reject()
    with clinic_context(qtbot, clinic, "t_clerk") as station:
        dialog = PreferencesDialog(station.ctx, station.windows)
        dialog.show()
        qtbot.waitUntil(dialog.tabs.isEnabled, timeout=10_000)
        capture(qtbot, dialog, "preferences-read-only")
        dialog.reject()


def test_staff_accounts(qtbot: QtBot, clinic: PgDatabase) -> None:
    with clinic_context(qtbot, clinic, "t_admin") as station:
        window = StaffWindow(station.ctx, station.windows)
        window.show()
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=10_000)
        window.select("locum_2024")
        capture(qtbot, window, "staff-accounts")
        dialog = window.new_login()
        dialog.name_edit.setText("m_rossi")
        dialog.password_edit.setText("Tq7mWz2pLk9sVb4x")
        capture(qtbot, dialog, "staff-new-login")
        dialog.reject()
        window.close()


def test_forced_password_change(qtbot: QtBot, clinic: PgDatabase) -> None:
    name = "m_rossi"  # a new colleague (logins are the cluster's: maybe made already)
    admin = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        if name in {m.name for m in staff.list_staff(conn)}:
            staff.reset_password(conn, name, "given-password-12")
        else:
            staff.create(conn, name, "clinician", "given-password-12")
    admin.dispose()
    database, info = login(config_for(clinic), name, "given-password-12")
    with clinic_context(qtbot, clinic, "t_clerk") as station:  # (for its task runner)
        dialog = ChangePasswordDialog(database, info, station.ctx.tasks)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.keyClicks(dialog.new_edit, "mountain")
        qtbot.keyClicks(dialog.repeat_edit, "mountain")
        dialog.submit()
        assert "too short" in dialog.message_label.text()
        capture(qtbot, dialog, "forced-password-change")
        dialog.reject()
    database.close()
