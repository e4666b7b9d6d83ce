"""Medications, allergies and secondary diseases: Add, Stop, Del and the history view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import format_day
from phms_client.services import chart
from phms_client.ui.chart.record_forms.chart_items_lists import ItemsModel
from phms_client.ui.chart.record_forms.chart_items_panel import ChartItemsPanel
from phms_client.ui.chart.record_forms.common import to_qdate
from phms_client.ui.shared.record_conflict import Choice
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import LOAD_MS, TODAY, add_item, days_ago, new_patient
from tests.ui.patient_env import Session, app_context, staff_database


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


def open_panel(qtbot: QtBot, session: Session, patient_id: int, **kw: object) -> ChartItemsPanel:
    panel = ChartItemsPanel(session.ctx, patient_id, parent=session.windows, **kw)  # type: ignore[arg-type]
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        panel.show()
    return panel


def shown(panel: ChartItemsPanel, kind: str) -> list[list[str]]:
    model = panel.tabs.models[kind]
    return [
        [model.data(model.index(r, c)) for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def test_items_model(qtmodeltester: ModelTester, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    item = add_item(
        clinician.ctx.db, "medication", p.id, "bosentan", days_ago(9), details="62.5 mg",
        therapy_class="era",
    )  # fmt: skip
    model = ItemsModel()
    model.set_items([item], history=False, as_of=TODAY)
    qtmodeltester.check(model)
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Since"
    model.set_items([item], history=True, as_of=TODAY)
    qtmodeltester.check(model)
    assert [model.data(model.index(0, c)) for c in range(5)] == [
        "bosentan — ERA", "62.5 mg", format_day(days_ago(9)), "current", "t_clinician",
    ]  # fmt: skip


def test_add_stop_delete_and_history(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    p = new_patient(clinician.ctx.db)
    panel = open_panel(qtbot, clinician, p.id, as_of=days_ago(30))
    assert [panel.tabs.tabText(i) for i in range(3)] == [
        "Medications (0)", "Allergies (0)", "Secondary diseases (0)",
    ]  # fmt: skip
    assert panel.add_button.isEnabled() and not panel.stop_button.isEnabled()

    # Add: from the PAH medicines list (or free text), started on the study date.
    dialog = panel.ask_add()
    assert dialog is not None
    names = [dialog.name_combo.itemText(i) for i in range(dialog.name_combo.count())]
    assert names[:3] == ["bosentan", "ambrisentan", "macitentan"] and "sotatercept" in names
    assert dialog.start_edit.date() == to_qdate(days_ago(30))
    assert not dialog.ok_button.isEnabled()  # a name is needed
    dialog.name_combo.setCurrentText("macitentan")
    dialog.details_edit.setText("10 mg once daily")
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        dialog.ok_button.click()
    assert shown(panel, "medication") == [
        ["macitentan — ERA", "10 mg once daily", format_day(days_ago(30)), "t_clinician"]
    ]
    assert panel.tabs.tabText(0) == "Medications (1)"

    # A secondary disease typed freely.
    panel.set_kind("comorbidity")
    dialog = panel.ask_add()
    assert dialog is not None and dialog.name_combo.count() == 0
    dialog.name_combo.setCurrentText("  iron   deficiency ")
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        dialog.ok_button.click()
    assert shown(panel, "comorbidity")[0][0] == "iron deficiency"

    # Stop as of the study date, with a reason; it leaves the current list.
    panel.set_kind("medication")
    assert panel.select(panel.tabs.models["medication"].item(0).id)
    assert panel.stop_button.isEnabled()
    panel.date_edit.setDate(to_qdate(days_ago(10)))  # the study date moves on
    qtbot.waitUntil(lambda: panel.chart is not None and panel.chart.as_of == days_ago(10))
    assert panel.select(panel.tabs.models["medication"].item(0).id)
    stop = panel.ask_stop()
    assert stop is not None and stop.date_edit.date() == to_qdate(days_ago(10))
    assert stop.reason == "stopped"
    stop.reason_combo.setCurrentText("side effects")
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        stop.ok_button.click()
    assert shown(panel, "medication") == [] and panel.tabs.tabText(0) == "Medications (0)"

    # History: the stopped entry with its dates and reason.
    panel.history_box.setChecked(True)
    assert panel.tabs.models["medication"].history
    assert shown(panel, "medication") == [
        [
            "macitentan — ERA", "10 mg once daily", format_day(days_ago(30)),
            f"stopped {format_day(days_ago(10))} (side effects)", "t_clinician",
        ]
    ]  # fmt: skip
    panel.tabs.views["medication"].selectRow(0)
    assert not panel.stop_button.isEnabled() and panel.delete_button.isEnabled()

    # Del: entered in error, after asking for a reason; gone from the chart and its history.
    panel.set_kind("comorbidity")
    panel.tabs.views["comorbidity"].selectRow(0)
    delete = panel.ask_delete()
    assert delete is not None and not delete.ok_button.isEnabled()
    assert "iron deficiency" in delete.text_label.text()
    delete.reason_combo.setCurrentText("wrong patient")
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        delete.ok_button.click()
    assert shown(panel, "comorbidity") == []
    with admin_engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT name, entered_in_error, error_reason, error_by FROM phms.comorbidity"
                " WHERE patient_id = :p"
            ),
            {"p": p.id},
        ).one()
    assert tuple(stored) == ("iron deficiency", True, "wrong patient", "t_clinician")


def test_a_restart_shows_both_periods_in_the_history(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    add_item(
        clinician.ctx.db, "medication", p.id, "sildenafil", days_ago(300), stopped=days_ago(200)
    )
    add_item(clinician.ctx.db, "medication", p.id, "sildenafil", days_ago(100), details="20 mg",
             therapy_class="pde5i")  # fmt: skip
    panel = open_panel(qtbot, clinician, p.id)
    assert [row[0] for row in shown(panel, "medication")] == ["sildenafil — PDE5i"]
    panel.history_box.setChecked(True)
    assert [row[3] for row in shown(panel, "medication")] == [
        "current",
        f"stopped {format_day(days_ago(200))}",
    ]  # fmt: skip  (the reason "stopped" is not repeated)


def test_stale_stop_opens_the_compare_dialog(
    qtbot: QtBot, clinician: Session, db: PgDatabase
) -> None:
    p = new_patient(clinician.ctx.db)
    item = add_item(clinician.ctx.db, "medication", p.id, "riociguat", days_ago(50), details="1 mg")
    panel = open_panel(qtbot, clinician, p.id)
    with staff_database(db, "t_admin") as other, other.session() as s:
        chart.update_item(
            s, "medication", item.id, item.stamp.version,
            chart.ItemInput(p.id, "riociguat", days_ago(50), "1.5 mg three times daily"),
        )  # fmt: skip
    assert panel.select(item.id)
    stop = panel.ask_stop()
    assert stop is not None
    stop.ok_button.click()
    qtbot.waitUntil(lambda: panel.dialog is not None and panel.dialog is not stop, timeout=LOAD_MS)
    conflict = panel.dialog
    assert conflict.summary.text() == "Fields that differ: Details, Stopped."  # type: ignore[union-attr]
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        conflict.overwrite_button.click()  # type: ignore[union-attr]
    assert conflict.choice is Choice.OVERWRITE  # type: ignore[union-attr]
    with clinician.ctx.db.session() as s:
        stopped = chart.get_item(s, "medication", item.id)
    assert (stopped.stopped_on, stopped.stop_reason, stopped.data.details) == (
        TODAY, "stopped", "1.5 mg three times daily",
    )  # fmt: skip


def test_offline_nothing_can_be_changed(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    add_item(clinician.ctx.db, "allergy", p.id, "iodine contrast", days_ago(5))
    panel = open_panel(qtbot, clinician, p.id)
    panel.set_kind("allergy")
    panel.tabs.views["allergy"].selectRow(0)
    assert panel.stop_button.isEnabled() and panel.delete_button.isEnabled()
    panel.set_editable(False)
    assert not (panel.add_button.isEnabled() or panel.stop_button.isEnabled())
    assert not panel.delete_button.isEnabled()
    assert panel.add_button.toolTip() == "Not connected to the server."
    assert panel.ask_add() is None and panel.ask_stop() is None and panel.ask_delete() is None
    panel.set_editable(True)
    assert panel.stop_button.isEnabled()


def test_a_medicine_not_on_the_list_takes_one_confirmation(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    p = new_patient(clinician.ctx.db)
    panel = open_panel(qtbot, clinician, p.id)

    # Typed as a list entry (any case, spacing): stored as that entry, with its class.
    dialog = panel.ask_add()
    assert dialog is not None
    dialog.name_combo.setCurrentText("  TADALAFIL ")
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        dialog.ok_button.click()
    assert shown(panel, "medication")[0][0] == "tadalafil — PDE5i"

    # "Bosen": the first Add explains and suggests; the dialog stays open.
    dialog = panel.ask_add()
    assert dialog is not None
    dialog.name_combo.setCurrentText("Bosen")
    dialog.ok_button.click()
    assert dialog.isVisible()
    assert dialog.error_label.text().startswith(
        "“Bosen” is not in the list of PAH medicines. Did you mean bosentan?"
    )
    assert dialog.ok_button.text() == "Add as &not in list"
    # Another name asks again.
    dialog.name_combo.setCurrentText("Bosenta")
    assert dialog.ok_button.text() == "&Add" and not dialog.error_label.isVisible()
    dialog.name_combo.setCurrentText("Bosen")
    dialog.ok_button.click()
    assert dialog.isVisible()
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_MS):
        dialog.ok_button.click()  # the confirmation
    assert sorted(row[0] for row in shown(panel, "medication")) == [
        "Bosen (not in list)",
        "tadalafil — PDE5i",
    ]
    with admin_engine.connect() as conn:
        stored = dict(
            conn.execute(
                sa.text("SELECT name, therapy_class FROM phms.medication WHERE patient_id = :p"),
                {"p": p.id},
            ).all()
        )
    assert stored == {"tadalafil": "pde5i", "Bosen": None}
    chart_now = panel.chart
    assert chart_now is not None and chart_now.pah_therapy is not None
    assert chart_now.pah_therapy.text == "monotherapy (PDE5i)"  # free text does not count
