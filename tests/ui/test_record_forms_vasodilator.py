"""Vasodilator challenge form: steps with agents and doses from the settings, live response."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import format_day
from phms_client.services import chart
from phms_client.services.chart import ChallengeRecord, StepInput
from phms_client.ui.chart.record_forms.vasodilator_form import VasodilatorForm
from phms_client.ui.chart.record_forms.vasodilator_steps import Agent, configured_agents
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.clinical_env import (
    LOAD_MS,
    add_assessment,
    add_challenge,
    days_ago,
    enter_patient,
    new_patient,
    save_and_wait,
    show_form,
    type_into,
)
from tests.ui.patient_env import Session, app_context

NO = "inhaled nitric oxide"


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


def new_form(qtbot: QtBot, session: Session, **kw: object) -> VasodilatorForm:
    form = VasodilatorForm(session.ctx, parent=session.windows, **kw)  # type: ignore[arg-type]
    show_form(qtbot, form)
    return form


def type_step(qtbot: QtBot, form: VasodilatorForm, number: int, **values: str) -> None:
    for column, text in values.items():
        type_into(qtbot, form.rows[number].fields[column], text)


def test_agents_come_from_the_site_setting(clinician: Session) -> None:
    agents = configured_agents(clinician.ctx.login.settings.get("vasodilator_agents"))
    assert [a.name for a in agents] == [NO, "IV epoprostenol", "IV adenosine", "inhaled iloprost"]
    assert agents[0] == Agent(NO, "ppm", (Decimal(10), Decimal(20), Decimal(40)))
    assert configured_agents([{"name": ""}, "x", {"name": "z", "doses": [1.5]}]) == [
        Agent("z", "", (Decimal("1.5"),))
    ]
    assert configured_agents(None) == []


def test_positive_challenge_live_then_saved(
    qtbot: QtBot, clinician: Session, admin_engine: sa.Engine
) -> None:
    p = new_patient(clinician.ctx.db)
    add_assessment(clinician.ctx.db, p.id, days_ago(1), mpap_mmhg=52, pawp_mmhg=8, co_l_min=4)
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    assert not form.prerequisite_banner.isVisible()
    # Baseline and a first step are there; the step offers the agents and their doses.
    assert [r.label.text() for r in form.rows] == ["Baseline", "Step 1"]
    step1 = form.rows[1]
    assert step1.agent_combo is not None and step1.dose_combo is not None
    assert step1.agent_combo.currentText() == NO and step1.unit_label.text() == "ppm"
    assert [step1.dose_combo.itemText(i) for i in range(step1.dose_combo.count())] == [
        "10", "20", "40",
    ]  # fmt: skip
    assert form.result_label.text() == "Insufficient data: the baseline mPAP is missing"

    type_step(qtbot, form, 0, mpap_mmhg="52", pawp_mmhg="8", co_l_min="4,0")
    step1.dose_combo.setCurrentText("10")
    type_step(qtbot, form, 1, mpap_mmhg="46", co_l_min="4.2")
    assert step1.response.text() == "mPAP \N{MINUS SIGN}6 to 46: not met"
    assert form.result_label.text() == "Negative"

    step2 = form.add_step()
    assert step2 is not None and step2.agent_combo is not None and step2.dose_combo is not None
    assert (step2.agent_combo.currentText(), step2.dose_combo.currentText()) == (NO, "20")
    type_step(qtbot, form, 2, mpap_mmhg="38")
    assert step2.response.text() == "mPAP \N{MINUS SIGN}14 to 38: CO needed"
    assert form.result_label.text() == (
        "Insufficient data: a cardiac output is missing where the pressure criteria are met"
    )
    type_step(qtbot, form, 2, co_l_min="3.9")
    assert step2.response.text() == "mPAP \N{MINUS SIGN}14 to 38, CO fell: not met"
    type_step(qtbot, form, 2, co_l_min="4")  # unchanged cardiac output is enough
    assert step2.response.text() == "mPAP \N{MINUS SIGN}14 to 38, CO kept: meets criteria"
    assert form.result_label.text() == "Positive (step 2)"

    # A third step may be added and removed again.
    form.add_step()
    assert form.rows[3].dose_text() == "40"
    form.remove_step()
    assert len(form.rows) == 3 and "step3.mpap_mmhg" not in form.fields

    record: ChallengeRecord = save_and_wait(qtbot, form)
    assert (record.result, record.positive_step_no) == ("positive", 2)
    steps = [
        (s.step_no, s.agent, s.dose, s.dose_unit, s.mpap_mmhg, s.co_l_min)
        for s in record.data.steps
    ]
    assert steps == [
        (0, None, None, None, Decimal(52), Decimal("4.0")),
        (1, NO, Decimal(10), "ppm", Decimal(46), Decimal("4.2")),
        (2, NO, Decimal(20), "ppm", Decimal(38), Decimal(4)),
    ]
    with admin_engine.connect() as conn:
        view = conn.execute(
            sa.text(
                "SELECT result, positive_step_no FROM phms.vasoreactivity WHERE challenge_id = :i"
            ),
            {"i": record.id},
        ).one()
    assert tuple(view) == ("positive", 2)


def test_steps_are_checked_before_saving(qtbot: QtBot, clinician: Session) -> None:
    p = new_patient(clinician.ctx.db)
    add_assessment(clinician.ctx.db, p.id, days_ago(1))
    form = new_form(qtbot, clinician)
    enter_patient(qtbot, form, p.patient_code)
    type_step(qtbot, form, 0, mpap_mmhg="151", spap_mmhg="60")
    assert form.rows[1].dose_combo is not None
    form.rows[1].dose_combo.setCurrentText("0")
    form.save_button.click()
    assert form.steps_error.text().splitlines() == [
        "Baseline: Mean PA pressure must be between 0 and 150 mmHg.",
        "Step 1: Enter the mean PA pressure.",
        "Step 1: “0” is not a dose (a number above 0).",
    ]
    assert form.error_banner.text() == (
        "Not saved: 3 values need correcting (listed under the steps)."
    )
    type_step(qtbot, form, 0, mpap_mmhg="70")
    form.rows[1].dose_combo.setCurrentText("20")
    type_step(qtbot, form, 1, mpap_mmhg="50")
    form.save_button.click()
    assert form.steps_error.text() == (
        "Baseline: the mean PA pressure cannot be above the systolic."
    )
    type_step(qtbot, form, 0, mpap_mmhg="40", spap_mmhg="95", pawp_mmhg="45")  # PAWP > mPAP
    form.save_button.click()
    assert form.steps_error.text() == (
        "Baseline: PAWP cannot be above the mean PA pressure (TPG and PVR would be negative)."
    )


def test_a_challenge_needs_an_assessment_on_or_before_its_date(
    qtbot: QtBot, clinician: Session
) -> None:
    p = new_patient(clinician.ctx.db)
    add_assessment(clinician.ctx.db, p.id, days_ago(5))
    form = new_form(qtbot, clinician, study_date=days_ago(6))
    enter_patient(qtbot, form, p.patient_code)
    assert form.prerequisite_banner.text() == (
        "A vasodilator challenge needs an assessment of this patient on or before "
        f"{format_day(days_ago(6))}, and there is none. The first assessment is of "
        f"{format_day(days_ago(5))}. Enter the assessment first."
    )
    form.header.set_study_date(days_ago(5))  # the same day is fine
    assert not form.prerequisite_banner.isVisible()


def test_editing_keeps_the_step_numbers_and_removes_in_error(
    qtbot: QtBot, clinician: Session
) -> None:
    db = clinician.ctx.db
    p = new_patient(db)
    add_assessment(db, p.id, days_ago(20))
    record = add_challenge(
        db, p.id, days_ago(20),
        StepInput(0, Decimal(50), co_l_min=Decimal(4)),
        StepInput(1, Decimal(45), agent=NO, dose=Decimal(10), dose_unit="ppm", co_l_min=Decimal(4)),
        StepInput(2, Decimal(44), agent=NO, dose=Decimal(20), dose_unit="ppm", co_l_min=Decimal(4)),
    )  # fmt: skip
    form = VasodilatorForm(clinician.ctx, record.id, parent=clinician.windows)
    with qtbot.waitSignal(form.loaded, timeout=LOAD_MS):
        show_form(qtbot, form)
    assert [r.fields["mpap_mmhg"].text() for r in form.rows] == ["50", "45", "44"]
    assert form.rows[2].dose_text() == "20" and form.result_label.text() == "Negative"
    assert not form.is_dirty()
    form.remove_step()
    type_step(qtbot, form, 1, mpap_mmhg="39")
    assert form.result_label.text() == "Positive (step 1)"
    saved = save_and_wait(qtbot, form)
    assert [s.step_no for s in saved.data.steps] == [0, 1] and saved.result == "positive"
    with db.session() as s:
        assert chart.get_challenge(s, record.id).data.steps == saved.data.steps
    assert saved.data.study_date == days_ago(20) and saved.stamp.version == 2
