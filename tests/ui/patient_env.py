"""Real application contexts for the patient UI tests (no mocks: a real server).

``app_context`` logs in exactly like the client does and builds the same
:class:`AppContext` the application gives its windows: a real TaskRunner, a real
LiveUpdates listener (LISTEN on its own connection) and a real ConnectionMonitor.
Errors that would go to a message box are collected in ``presented`` instead.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import shiboken6
from PySide6.QtWidgets import QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database
from phms_client.db.errors import UserError
from phms_client.db.login import login
from phms_client.services import patients
from phms_client.services.patients import PatientDetails, PatientInput
from phms_client.ui.shared.connection import ConnectionMonitor
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.live import LiveUpdates
from phms_client.ui.shared.tasks import TaskRunner
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase, unique_code


@dataclass
class Session:
    ctx: AppContext
    #: Parent for windows that delete themselves when closed (forms, charts), standing in
    #: for the main window; deleted with everything on it when the session ends.
    windows: QWidget
    presented: list[UserError] = field(default_factory=list)


@contextmanager
def app_context(
    qtbot: QtBot,
    config: ClientConfig,
    user: str = "t_clerk",
    *,
    password: str = STAFF_PASSWORD,
    live: bool = True,
    max_threads: int | None = None,
) -> Iterator[Session]:
    """Log in as ``user`` and build the context windows get; tear it all down after."""
    database, info = login(config, user, password)
    presented: list[UserError] = []
    tasks = TaskRunner(
        presenter=presented.append, address=lambda: database.address, max_threads=max_threads
    )
    updates = LiveUpdates(config, Credentials(user, password))
    monitor = ConnectionMonitor(database, tasks)
    ctx = AppContext(config, database, info, tasks, updates, monitor)
    if live:
        updates.start()
        qtbot.waitUntil(updates.is_listening, timeout=10_000)
    windows = QWidget()
    try:
        yield Session(ctx, windows, presented)
    finally:
        shiboken6.delete(windows)
        updates.stop()
        tasks.shutdown(10_000)
        database.close()


@contextmanager
def staff_database(db: PgDatabase, user: str) -> Iterator[Database]:
    """A second, independent client connection (another workstation)."""
    database = Database(config_for(db), Credentials(user, STAFF_PASSWORD))
    try:
        yield database
    finally:
        database.close()


def type_text(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    """Type one character after the other. QTest can only send ASCII key events; other
    characters are entered the way an input method does (one insert per character)."""
    for ch in text:
        if ch.isascii():
            qtbot.keyClicks(edit, ch)
        else:
            edit.insert(ch)


def unique_family(prefix: str = "Ł") -> str:
    """A family name no other test uses (letters only, so searches treat it as a name).

    Ten random letters: two such names share too few trigrams to match each other, so a
    search for one finds exactly the patients made with it.
    """
    letters = uuid.uuid4().hex[:10].translate(str.maketrans("0123456789", "ghijklmnop"))
    return prefix + letters


def person(
    family: str,
    given: str = "Zoë",
    born: dt.date = dt.date(1960, 5, 17),
    **kw: object,
) -> PatientInput:
    values: dict[str, object] = {
        "patient_code": unique_code(),
        "family_name": family,
        "given_name": given,
        "sex": "female",
        "birth_date": born,
    }
    values.update(kw)
    return PatientInput(**values)  # type: ignore[arg-type]


def create_patients(database: Database, *people: PatientInput) -> list[PatientDetails]:
    with database.session() as s:
        return [patients.create(s, p) for p in people]
