"""The chart window: demographics, the chart-access audit record, live reload."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import shiboken6
import sqlalchemy as sa
from PySide6.QtWidgets import QGroupBox, QWidget
from pytestqt.qtbot import QtBot

from phms_client.services import patients
from phms_client.services.patients import PatientInput
from phms_client.ui.chart.chart_window import CLINICAL_PLACEHOLDER, ChartWindow
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.patient_env import Session, app_context, create_patients, person, staff_database
from tests.ui.patient_env import unique_family as family_name

LIVE_TIMEOUT_MS = 2_000 + 500


@pytest.fixture
def session(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clerk") as s:
        yield s


def open_chart(qtbot: QtBot, session: Session, patient_id: int) -> ChartWindow:
    chart = ChartWindow(session.ctx, patient_id, today=lambda: dt.date(2026, 11, 24))
    qtbot.addWidget(chart)
    with qtbot.waitSignal(chart.loaded, timeout=5_000):
        chart.show()
    return chart


def accesses(admin_engine: sa.Engine, patient_id: int) -> list[tuple[str, str | None]]:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT session_user_name, application_name FROM audit.chart_access "
                "WHERE patient_id = :p ORDER BY id"
            ),
            {"p": patient_id},
        ).all()
    return [(r[0], r[1]) for r in rows]


def test_chart_shows_demographics_and_writes_chart_access(
    qtbot: QtBot, session: Session, admin_engine: sa.Engine
) -> None:
    family = family_name("Núñez")
    (p,) = create_patients(
        session.ctx.db,
        person(
            family,
            given="María",
            born=dt.date(1958, 3, 9),
            phone="+44 20 7946 0000",
            email="maria@example.org",
            address="1 High Street\nLondon",
            ph_group=1,
            ph_subtype="idiopathic",
        ),
    )
    assert accesses(admin_engine, p.id) == []
    chart = open_chart(qtbot, session, p.id)
    assert chart.name_label.text() == f"{family}, María"
    assert (
        chart.facts_label.text() == f"{p.patient_code}  ·  Female  ·  born 09.03.1958  ·  68 years"
    )
    assert chart.values["phone"].text() == "+44 20 7946 0000"
    assert chart.values["address"].text() == "1 High Street\nLondon"
    assert chart.values["ph_group"].text() == ("Group 1 — Pulmonary arterial hypertension (PAH)")
    assert chart.values["deceased_date"].text() == "—"
    assert chart.windowTitle() == f"PHMS — Chart — {family}, María ({p.patient_code})"
    # Opening the chart was recorded, as the logged-in staff member, by the client.
    assert accesses(admin_engine, p.id) == [("t_clerk", "phms-client")]
    # A clerk may not read clinical records: the chart says so instead of showing them.
    box = chart.findChild(QGroupBox, "clinical_records")
    assert box is chart.clinical_box and box.title() == "Clinical records"
    assert chart.clinical is None and chart.clinical_note.text() == CLINICAL_PLACEHOLDER
    assert "clinicians only" in CLINICAL_PLACEHOLDER


def test_deceased_patient_shows_age_at_death(qtbot: QtBot, session: Session) -> None:
    (p,) = create_patients(
        session.ctx.db,
        person(
            family_name("Hämäläinen"),
            born=dt.date(1940, 6, 1),
            status="deceased",
            deceased_date=dt.date(2020, 5, 31),
        ),
    )
    chart = open_chart(qtbot, session, p.id)
    assert chart.facts_label.text().endswith("died 31.05.2020  ·  aged 79")
    assert chart.status_badge.text() == "Deceased" and not chart.status_badge.isHidden()


def test_chart_reloads_when_another_workstation_saves(
    qtbot: QtBot, session: Session, db: PgDatabase, admin_engine: sa.Engine
) -> None:
    (p,) = create_patients(session.ctx.db, person(family_name("Gonçalves"), phone="111"))
    chart = open_chart(qtbot, session, p.id)
    assert chart.values["phone"].text() == "111"
    with staff_database(db, "t_clinician") as other, other.session() as s:
        patients.update(
            s, p.id, p.version, PatientInput(**{**p.as_input().__dict__, "phone": "222"})
        )
    qtbot.waitUntil(lambda: chart.values["phone"].text() == "222", timeout=LIVE_TIMEOUT_MS)
    assert chart.changed_label.text().startswith("Changed by t_clinician on ")
    assert len(accesses(admin_engine, p.id)) == 1  # a reload is not another opening


def test_edit_button_follows_connection_and_rights(
    qtbot: QtBot, session: Session, db: PgDatabase
) -> None:
    (p,) = create_patients(session.ctx.db, person(family_name("Wójcik")))
    chart = open_chart(qtbot, session, p.id)
    asked: list[int] = []
    chart.edit_requested.connect(asked.append)
    assert chart.edit_button.isEnabled()
    chart.edit_button.click()
    assert asked == [p.id]
    assert not chart.connection_banner.isVisible()
    session.ctx.connection.online_changed.emit(False)
    assert not chart.edit_button.isEnabled()
    # The chart says why, not only with greyed buttons.
    assert chart.connection_banner.isVisible()
    assert "connection to the server is lost" in chart.connection_banner.text()
    chart.request_edit()
    assert asked == [p.id]
    session.ctx.connection.online_changed.emit(True)
    assert chart.edit_button.isEnabled() and not chart.connection_banner.isVisible()


def test_auditor_cannot_read_charts(qtbot: QtBot, db: PgDatabase, session: Session) -> None:
    (p,) = create_patients(session.ctx.db, person(family_name("Jäger")))
    with app_context(qtbot, config_for(db), "t_auditor", live=False) as auditor:
        chart = ChartWindow(auditor.ctx, p.id)
        qtbot.addWidget(chart)
        chart.show()
        qtbot.waitUntil(chart.message_label.isVisible, timeout=5_000)
        assert chart.details is None and not chart.edit_button.isEnabled()
        assert "not allowed" in chart.message_label.text()
        assert auditor.presented == []


def test_hide_patient_data(qtbot: QtBot, session: Session) -> None:
    family = family_name("Ó Súilleabháin")
    (p,) = create_patients(session.ctx.db, person(family))
    chart = open_chart(qtbot, session, p.id)
    chart.hide_patient_data(True)
    assert not chart.content.isVisible() and chart.locked_label.isVisible()
    assert family not in chart.windowTitle()
    chart.hide_patient_data(False)
    assert chart.content.isVisible() and family in chart.windowTitle()


def test_answer_for_a_window_already_gone_is_dropped(qtbot: QtBot, session: Session) -> None:
    """The main window (and with it the chart) was destroyed while the chart loaded."""
    (p,) = create_patients(session.ctx.db, person(family_name("Škoda")))
    parent = QWidget()
    ChartWindow(session.ctx, p.id, parent).show()
    shiboken6.delete(parent)
    qtbot.waitUntil(lambda: session.ctx.tasks.pending == 0, timeout=5_000)
    qtbot.wait(100)
    assert session.presented == []  # no "bug" message about a deleted widget
