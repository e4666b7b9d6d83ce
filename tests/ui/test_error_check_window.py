"""The Error Check window: its model (qtmodeltester), a real run, opening a record, Cancel."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_admin import embedded
from phms_client.services.error_check import STEPS, ErrorCheckHit
from phms_client.ui.reports.error_check_window import HIT_ROLE, ErrorCheckModel, ErrorCheckWindow
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase
from tests.ui.reports_env import capture, report_context

START = dt.date.today() - dt.timedelta(days=800)


@pytest.fixture(scope="module")
def checked_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[dict[str, object]]:
    """40 plausible patients and two planted errors; the site threshold is 6 SD."""
    rng = random.Random(11)
    names = [("Moreau", "Élodie"), ("Lindqvist", "Björn"), ("O'Neill", "Siobhán")]
    with migrated_database(pg_server) as database:
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            for i in range(40):
                family, given = names[i % 3]
                pid = add_person(conn, family_name=f"{family}", given_name=given)["id"]
                insert(
                    conn,
                    "assessment",
                    patient_id=pid,
                    kind="assessment",
                    study_date=START + dt.timedelta(days=i * 7),
                    height_cm=Decimal(rng.randint(155, 190)),
                    weight_kg=Decimal(rng.randint(550, 980)) / 10,
                )
                insert(
                    conn,
                    "six_minute_walk",
                    patient_id=pid,
                    study_date=START + dt.timedelta(days=i * 7),
                    distance_m=Decimal(rng.randint(250, 560)),
                )
            typo = add_person(conn, family_name="Dubois", given_name="Anaïs", sex="female")["id"]
            weight = insert(
                conn,
                "assessment",
                patient_id=typo,
                kind="assessment",
                study_date=START + dt.timedelta(days=300),
                height_cm=Decimal(168),
                weight_kg=Decimal("6.8"),
            )["id"]
            inches = add_person(conn, family_name="Okafor", given_name="Chidi", sex="male")["id"]
            height = insert(
                conn,
                "assessment",
                patient_id=inches,
                kind="assessment",
                study_date=START + dt.timedelta(days=420),
                height_cm=Decimal(70),
                weight_kg=Decimal(82),
            )["id"]
        engine.dispose()
        admin = database.engine_for("t_admin")
        with admin.begin() as conn:
            conn.execute(
                sa.text("UPDATE phms.setting SET value = '6' WHERE key = 'error_check_sd'")
            )
        admin.dispose()
        yield {
            "db": database,
            "weight": (typo, weight),
            "height": (inches, height),
        }


def hit(n: int) -> ErrorCheckHit:
    return ErrorCheckHit(
        patient_id=n,
        patient_code=f"000000{n}-1",
        patient_name=f"Name {n}",
        record_table="assessment",
        record_id=100 + n,
        study_date=dt.date(2025, 1, n),
        table="assessment",
        field="weight_kg",
        label="Weight (kg)",
        value=Decimal("7.5"),
        mean=Decimal("76.123"),
        sd=Decimal("7.9"),
        n_sd=Decimal("8.68"),
        n_values=41,
    )


def test_model(qtmodeltester: ModelTester) -> None:
    model = ErrorCheckModel()
    model.set_hits([hit(1), hit(2)])
    qtmodeltester.check(model)
    assert model.rowCount() == 2 and model.columnCount() == 9
    row = [model.data(model.index(0, c)) for c in range(9)]
    assert row == [
        "0000001-1",
        "Name 1",
        "01.01.2025",
        "Assessment",
        "Weight (kg)",
        "7.5",
        "76.12",
        "7.90",
        "8.7",
    ]
    assert model.data(model.index(1, 0), HIT_ROLE) == hit(2)
    model.set_hits([])
    qtmodeltester.check(model)
    assert model.rowCount() == 0


def test_run_lists_the_planted_errors_and_opens_them(
    qtbot: QtBot, checked_db: dict[str, object]
) -> None:
    database = checked_db["db"]
    assert isinstance(database, PgDatabase)
    with report_context(database, "t_clinician") as env:
        window = ErrorCheckWindow(env.ctx)
        qtbot.addWidget(window)
        window.show()
        assert "<b>6</b> standard deviations" in window.intro.text()
        with qtbot.waitSignal(window.finished, timeout=30_000) as done:
            qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
        result = done.args[0]
        assert result is not None and result.threshold_sd == 6
        assert window.model.rowCount() == 2
        found = {(h.patient_id, h.record_id, h.field) for h in result.hits}
        assert found == {
            (*checked_db["weight"], "weight_kg"),  # type: ignore[misc]
            (*checked_db["height"], "height_cm"),  # type: ignore[misc]
        }
        assert "2 values more than 6 SD" in window.status.text()
        assert window.progress.value() == window.progress.maximum() == len(STEPS)
        window.table.resizeColumnsToContents()
        capture(qtbot, window, "error-check")

        first = window.model.hit(0)
        with qtbot.waitSignal(window.open_record) as opened:
            index = window.model.index(0, 1)
            window.table.doubleClicked.emit(index)
        assert opened.args == [first.patient_id, "assessment", first.record_id]
        assert env.presented == []


def test_cancel_stops_a_check_waiting_on_the_server(
    qtbot: QtBot, checked_db: dict[str, object]
) -> None:
    database = checked_db["db"]
    assert isinstance(database, PgDatabase)
    locker = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with report_context(database, "t_clinician") as env, locker.connect() as conn:
        conn.execute(sa.text("LOCK TABLE phms.six_minute_walk IN ACCESS EXCLUSIVE MODE"))
        window = ErrorCheckWindow(env.ctx)
        qtbot.addWidget(window)
        window.show()
        window.start()
        assert window.running and not window.run_button.isEnabled()
        qtbot.waitUntil(lambda: STEPS[-1] in window.status.text(), timeout=10_000)
        with qtbot.waitSignal(window.finished, timeout=10_000) as done:
            qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
        conn.rollback()
        assert done.args == [None]
        assert window.status.text().startswith("Cancelled")
        assert window.run_button.isEnabled() and not window.running
        assert env.presented == []
    locker.dispose()


def test_clerks_get_a_clear_message(qtbot: QtBot, checked_db: dict[str, object]) -> None:
    database = checked_db["db"]
    assert isinstance(database, PgDatabase)
    with report_context(database, "t_clerk") as env:
        window = ErrorCheckWindow(env.ctx)
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.finished, timeout=10_000) as done:
            window.start()
        assert done.args == [None]
        assert window.status.text().startswith("<b>Not allowed.</b>")


def test_close_button_and_escape_close_the_window(
    qtbot: QtBot, checked_db: dict[str, object]
) -> None:
    database = checked_db["db"]
    assert isinstance(database, PgDatabase)
    with report_context(database, "t_clerk") as env:
        window = ErrorCheckWindow(env.ctx)
        qtbot.addWidget(window)
        window.show()
        assert window.close_button.text() == "C&lose" and window.close_button.isVisible()
        qtbot.mouseClick(window.close_button, Qt.MouseButton.LeftButton)
        assert not window.isVisible()
        window.show()
        window.activateWindow()
        qtbot.keyClick(window.table, Qt.Key.Key_Escape)
        assert not window.isVisible()
