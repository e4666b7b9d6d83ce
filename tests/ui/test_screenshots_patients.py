"""Patient screens rendered for real against a database of ~30 realistic patients.

With ``PHMS_SCREENSHOTS=DIR`` the images are written there as PNG (docs/screenshots);
without it the screens are still rendered and each image is checked to be a real
picture (the widget's size, not one flat colour).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from phms_admin import demo, migrate
from phms_client.clinical.demographics import DemographicsEntry
from phms_client.services import patients
from phms_client.services.patients import PatientInput
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.patients.patient_form import PatientForm
from phms_client.ui.shell.main_window import MainWindow
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.patient_env import Session, app_context, staff_database, type_text
from tests.ui.screens import capture

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

CURATED = [
    PatientInput("4711203-6", "Müller", "Anna", "female", dt.date(1957, 3, 14),
                 phone="+44 20 7946 0231", email="anna.mueller@example.org",
                 address="14 Brompton Road\nLondon SW3 1AA", ph_group=1,
                 ph_subtype="associated with connective tissue disease"),
    PatientInput("4711356-2", "Muller", "Jürgen", "male", dt.date(1949, 11, 2), ph_group=2),
    PatientInput("4712290-8", "Möller", "Ingrid", "female", dt.date(1962, 7, 29), ph_group=4,
                 ph_subtype="CTEPH"),
    PatientInput("4713805-1", "Müller-Lüdenscheidt", "Eva", "female", dt.date(1971, 1, 8),
                 ph_group=1, ph_subtype="idiopathic"),
    PatientInput("4714127-4", "Mullerova", "Jana", "female", dt.date(1980, 5, 19), ph_group=3),
    PatientInput("4715932-0", "Müller", "Noël", "male", dt.date(1938, 9, 30),
                 status="deceased", deceased_date=dt.date(2024, 2, 11), ph_group=1),
]  # fmt: skip


@pytest.fixture
def clinic(fresh_database: PgDatabase, db: PgDatabase) -> PgDatabase:
    """A database of its own (staff logins are cluster-wide, made by ``db``)."""
    migrate.upgrade(fresh_database.admin_url)
    engine = sa.create_engine(fresh_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        demo.load(conn, 30, seed=2026)
    engine.dispose()
    with staff_database(fresh_database, "t_clinician") as clinician, clinician.session() as s:
        for person in CURATED:
            patients.create(s, person)
    return fresh_database


@pytest.fixture
def session(qtbot: QtBot, clinic: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(clinic), "t_clerk") as s:
        yield s


def find_id(session: Session, code: str) -> int:
    with session.ctx.db.session() as s:
        found = patients.find_by_code(s, code)
    assert found is not None
    return found.id


def test_patient_screens(qtbot: QtBot, session: Session, clinic: PgDatabase) -> None:
    window = MainWindow(session.ctx)
    qtbot.addWidget(window)
    window.resize(900, 520)
    window.show()
    qtbot.waitExposed(window)
    # An ID nobody has: "New patient?"
    type_text(qtbot, window.search_box, "47199999")
    qtbot.waitUntil(lambda: window.hint_new_button.isVisible(), timeout=5_000)
    assert window.hint_label.text() == "No patient has the ID 4719999-9."
    capture(qtbot, window, "patients-unknown-id")
    window.search_box.clear()
    type_text(qtbot, window.search_box, "muller")
    qtbot.waitUntil(lambda: window.model.rowCount() >= 5, timeout=5_000)
    window.table.selectRow(0)
    window.table.setFocus()
    capture(qtbot, window, "patients-search")
    assert window.model.summary(0).family_name in {"Muller", "Müller"}

    # The chart of Anna Müller.
    anna = find_id(session, "4711203-6")
    chart = window.open_chart(anna)
    qtbot.waitUntil(lambda: chart.details is not None, timeout=5_000)
    capture(qtbot, chart, "patient-chart")

    # A new patient with mistakes: the form says what is wrong, next to the field.
    form = window.open_new_patient(
        DemographicsEntry(
            patient_code="47112",
            family_name="Núñez",
            given_name="José",
            sex="male",
            birth_date=(dt.date.today() + dt.timedelta(days=40)).strftime("%d.%m.%Y"),
            email="jose.nunez@example",
        )
    )
    assert form is not None
    form.save_button.click()
    assert form.field_error("patient_code") and form.field_error("birth_date")
    capture(qtbot, form, "patient-form-validation")

    # Anna Müller again, typed without the umlaut: the duplicate warning.
    form = window.open_new_patient(
        DemographicsEntry(
            patient_code="4719001-3",
            family_name="Mueller",
            given_name="Anna",
            sex="female",
            birth_date="14.03.1957",
        )
    )
    assert form is not None
    form.save_button.click()
    qtbot.waitUntil(lambda: form.duplicate_dialog is not None, timeout=5_000)
    assert form.duplicate_dialog is not None
    capture(qtbot, form.duplicate_dialog, "patient-duplicate-warning")
    form.duplicate_dialog.back_button.click()

    # Two workstations: a clinician saves first, the clerk's save meets the conflict.
    jurgen = find_id(session, "4711356-2")
    edit = window.open_edit(jurgen)
    assert isinstance(edit, PatientForm)
    qtbot.waitUntil(lambda: edit.details is not None, timeout=5_000)
    with staff_database(clinic, "t_clinician") as other, other.session() as s:
        theirs = patients.get(s, jurgen)
        changed = dataclasses.replace(
            theirs.as_input(), phone="+44 20 7352 8121", address="Sydney Street\nLondon SW3 6NP"
        )
        patients.update(s, jurgen, theirs.version, changed)
    edit.fields.phone_edit.setText("+44 7700 900123")
    edit.fields.email_edit.setText("j.muller@example.org")
    edit.save_button.click()
    qtbot.waitUntil(lambda: edit.conflict_dialog is not None, timeout=5_000)
    dialog = edit.conflict_dialog
    assert dialog is not None
    dialog.compare_button.click()
    assert dialog.comparing
    capture(qtbot, dialog, "patient-conflict-compare")
    dialog.cancel_button.click()
    assert isinstance(chart, ChartWindow)
    for open_form in window.forms():
        open_form.discard()
    window.close()
