"""6-minute walk form: room air or O2, limits, live % predicted as the database view has it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from phms_client.clinical import formulas
from phms_client.clinical.demographics import format_day
from phms_client.services.chart import WalkRecord
from phms_client.ui.chart.record_forms.common import show_number
from phms_client.ui.chart.record_forms.walk_form import WalkForm
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import (
    add_assessment,
    days_ago,
    enter_patient,
    leave,
    new_patient,
    save_and_wait,
    show_form,
    type_into,
    years_before,
)
from tests.ui.keyboard import accessible_name, problems, tab_order
from tests.ui.patient_env import Session, app_context


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


def new_form(qtbot: QtBot, session: Session, **kw: object) -> WalkForm:
    form = WalkForm(session.ctx, parent=session.windows, **kw)  # type: ignore[arg-type]
    show_form(qtbot, form)
    return form


def test_live_percent_predicted_then_saved_as_the_view_computes(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    day = days_ago(2)
    p = new_patient(clinician.ctx.db, sex="male", born=years_before(day, 60))
    body = add_assessment(clinician.ctx.db, p.id, days_ago(100), height_cm=170, weight_kg=70)
    add_assessment(clinician.ctx.db, p.id, days_ago(300), height_cm=171, weight_kg=90)
    form = new_form(qtbot, clinician, study_date=day)
    enter_patient(qtbot, form, p.patient_code)
    derived = form.derived
    assert derived.text("age") == "60 years (male)"
    assert derived.text("body") == f"170 cm, 70 kg (assessment of {format_day(days_ago(100))})"
    # Enright & Sherrill, men: 7.57 × 170 − 5.02 × 60 − 1.76 × 70 − 309 = 553.5 m.
    assert derived.text("predicted_m") == "554 m (Enright & Sherrill)"
    assert derived.text("percent_predicted") == "—"
    type_into(qtbot, form.fields["distance_m"], "400")
    assert derived.text("percent_predicted") == "72 % predicted"  # 400 / 553.5 = 72.3 %
    assert derived.text("walk_grade") == "2 of 4"
    type_into(qtbot, form.fields["distance_m"], "441")
    assert derived.text("percent_predicted") == "80 % predicted"
    assert derived.text("walk_grade") == "1 of 4"

    form.with_oxygen.setChecked(True)
    assert form.fields["oxygen_l_min"].isEnabled()
    type_into(qtbot, form.fields["oxygen_l_min"], "2")
    type_into(qtbot, form.fields["stops"], "1")
    for name, text in {
        "spo2_before_pct": "94", "spo2_after_pct": "86",
        "heart_rate_before_bpm": "78", "heart_rate_after_bpm": "121",
        "borg_before": "1", "borg_after": "4.5",
    }.items():  # fmt: skip
        type_into(qtbot, form.fields[name], text)
    record: WalkRecord = save_and_wait(qtbot, form)
    d, pred = record.data, record.predicted
    assert (d.distance_m, d.oxygen_l_min, d.stops, d.borg_after) == (
        Decimal(441), Decimal(2), 1, Decimal("4.5"),
    )  # fmt: skip
    # The view picked the same assessment and computed the same numbers.
    assert (pred.body_assessment_id, pred.age_years, pred.predicted_m) == (
        body.id, 60, Decimal("553.50"),
    )  # fmt: skip
    assert show_number(pred.percent_predicted) == "80"
    preview = formulas.walk_percent_predicted(441, "male", 60, 170, 70)
    assert preview is not None and abs(Decimal(repr(preview)) - pred.percent_predicted) < Decimal(
        "1e-9"
    )
    with admin_engine.connect() as conn:
        walk_id = conn.execute(
            sa.text("SELECT walk_id FROM phms.six_minute_walk_predicted WHERE walk_id = :i"),
            {"i": record.id},
        ).scalar_one()
    assert walk_id == record.id


def test_room_air_and_the_limits(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db, sex="other")
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    assert form.room_air.isChecked() and not form.fields["oxygen_l_min"].isEnabled()
    assert form.derived.text("body") == "no assessment with height and weight within 180 days"
    assert form.derived.text("predicted_m") == "—"

    # The distance is required; the limits are named at the edges.
    form.save_button.click()
    assert form.fields["distance_m"].shown_problem() == "Enter the 6-minute walk distance."
    cases = {
        "distance_m": ("1000", "1000.5", "6-minute walk distance must be between 0 and 1000 m."),
        "borg_after": ("10", "10.5", "Borg score must be between 0 and 10."),
        "heart_rate_after_bpm": ("250", "251", "Heart rate must be between 20 and 250 /min."),
    }
    for name, (ok, bad, message) in cases.items():
        type_into(qtbot, form.fields[name], ok)
        leave(qtbot, form.fields[name])
        assert form.fields[name].shown_problem() == ""
        type_into(qtbot, form.fields[name], bad)
        assert form.fields[name].shown_problem() == message
    spo2 = form.fields["spo2_before_pct"]
    type_into(qtbot, spo2, "39")
    leave(qtbot, spo2)
    assert spo2.shown_problem() == "SpO2 must be between 40 and 100 %."

    # Supplemental O2 needs its flow; room air ignores a flow typed before.
    for name, (ok, _, _) in cases.items():
        type_into(qtbot, form.fields[name], ok)
    type_into(qtbot, spo2, "")
    form.with_oxygen.setChecked(True)
    form.save_button.click()
    assert form.error_banner.text() == "Not saved: Enter the oxygen flow."
    type_into(qtbot, form.fields["oxygen_l_min"], "16")
    assert form.fields["oxygen_l_min"].shown_problem() == (
        "Oxygen flow must be between 0.1 and 15 L/min."
    )
    form.room_air.setChecked(True)
    record = save_and_wait(qtbot, form)
    assert record.data.oxygen_l_min is None and record.data.distance_m == Decimal(1000)
    assert record.predicted.percent_predicted is None  # no prediction for sex “other”


def test_keyboard_and_screen_reader(qtbot: QtBot, clinician: Session) -> None:
    form = new_form(qtbot, clinician)
    qtbot.waitExposed(form)
    assert problems(form) == []
    assert accessible_name(form.fields["distance_m"].edit) == "6-minute walk distance (m)"
    assert tab_order(form)[:2] == [form.header.date_edit, form.header.code_edit]
