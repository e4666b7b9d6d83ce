"""Helpers for the clinic-day UI tests (preferences, staff, day list): real logins.

``clinic_context`` logs in like the client and builds the :class:`AppContext` windows
get (real TaskRunner, LiveUpdates listening on its own connection, ConnectionMonitor),
without a shell or main window, so two of them are two workstations. Errors that
would go to a message box are collected in ``presented``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import shiboken6
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from phms_client.db.database import Credentials
from phms_client.db.errors import UserError
from phms_client.db.login import login
from phms_client.services import appointments, patients
from phms_client.services.appointments import AppointmentInput, AppointmentRow
from phms_client.ui.shared.connection import ConnectionMonitor
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.live import LiveUpdates
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.app_shell import AppShell
from phms_client.ui.shell.change_password_dialog import ChangePasswordDialog
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase, unique_code
from tests.ui.shell_support import (
    FAST_RETRY_MS,
    StandInWindow,
    server_settings,
    type_login,
    write_location,
)


@dataclass
class Workstation:
    ctx: AppContext
    #: Parent of the windows under test; deleted with them when the session ends.
    windows: QWidget
    presented: list[UserError] = field(default_factory=list)


@contextmanager
def clinic_context(
    qtbot: QtBot, db: PgDatabase, user: str, *, password: str = STAFF_PASSWORD
) -> Iterator[Workstation]:
    config = config_for(db)
    database, info = login(config, user, password)
    presented: list[UserError] = []
    tasks = TaskRunner(presenter=presented.append, address=lambda: database.address)
    live = LiveUpdates(config, Credentials(user, password))
    monitor = ConnectionMonitor(database, tasks)
    ctx = AppContext(config, database, info, tasks, live, monitor)
    live.start()
    qtbot.waitUntil(live.is_listening, timeout=10_000)
    windows = QWidget()
    try:
        yield Workstation(ctx, windows, presented)
    finally:
        shiboken6.delete(windows)
        monitor.stop()
        live.stop()
        tasks.shutdown(10_000)
        database.close()


def setting(engine: sa.Engine, key: str) -> object:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT value FROM phms.setting WHERE key = :k"), {"k": key}
        ).scalar_one()


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def unique_family(prefix: str) -> str:
    """A family name no other test uses, letters only (a search takes digits for an ID)."""
    letters = uuid.uuid4().hex[:10].translate(str.maketrans("0123456789", "ghijklmnop"))
    return prefix + letters


def far_day() -> dt.date:
    """A day of its own, so appointments of other tests never show up (400 to 1800 days
    ahead: appointments may be booked up to five years ahead)."""
    return dt.date.today() + dt.timedelta(days=400 + uuid.uuid4().int % 1400)


def new_patient(
    engine: sa.Engine, family: str, given: str, born: dt.date = dt.date(1961, 4, 12)
) -> patients.PatientDetails:
    with Session(engine) as s, s.begin():
        return patients.create(
            s,
            patients.PatientInput(
                patient_code=unique_code(),
                family_name=family,
                given_name=given,
                sex="female",
                birth_date=born,
            ),
        )


def book(
    engine: sa.Engine,
    patient_id: int,
    starts_at: dt.datetime,
    kind: str = "followup",
    duration: int = 30,
    note: str | None = None,
) -> AppointmentRow:
    with Session(engine) as s, s.begin():
        return appointments.book(s, AppointmentInput(patient_id, starts_at, kind, duration, note))


def server_now(engine: sa.Engine) -> dt.datetime:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT now()")).scalar_one()  # type: ignore[no-any-return]


@contextmanager
def shell_for(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> Iterator[AppShell]:
    """A shell at its login window; closes only its own windows afterwards."""
    shell = AppShell(
        write_location(tmp_path, user=server_settings(db)),
        window_factory=StandInWindow,
        idle_timeout_ms=0,
        retry_ms=FAST_RETRY_MS,
        fallback_presenter=lambda error: pytest.fail(f"unexpected {error}"),
    )
    dialog = shell.start()
    qtbot.addWidget(dialog)
    try:
        yield shell
    finally:
        shell.shutdown()
        widgets: list[QWidget | None] = [shell.window, shell.password_dialog, shell.login_dialog]
        for widget in widgets:
            if widget is not None and widget.isVisible():
                widget.close()


def log_in_forced(qtbot: QtBot, shell: AppShell, user: str, password: str) -> ChangePasswordDialog:
    login_dialog = shell.login_dialog
    assert login_dialog is not None
    with qtbot.waitSignal(shell.password_change_opened, timeout=15_000) as opened:
        type_login(qtbot, login_dialog, user, password)
    dialog = opened.args[0]
    assert isinstance(dialog, ChangePasswordDialog)
    return dialog


def type_passwords(qtbot: QtBot, dialog: ChangePasswordDialog, new: str, repeat: str) -> None:
    dialog.new_edit.clear()
    dialog.repeat_edit.clear()
    qtbot.keyClicks(dialog.new_edit, new)
    qtbot.keyClicks(dialog.repeat_edit, repeat)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
