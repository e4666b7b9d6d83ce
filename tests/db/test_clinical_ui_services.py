"""The clinical rules in words (every one the database can raise) and whose rows changed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart, chart_live, clinical_rules
from phms_client.services.chart import AssessmentInput, ChallengeInput, ItemInput, StepInput
from phms_schema import ddl_clinical, ddl_diagnosis
from tests.db.clinical_data import TODAY, add_patient

TABLES = ddl_clinical.TABLES


def test_every_check_constraint_has_words(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as conn:
        names = set(
            conn.execute(
                sa.text(
                    "SELECT conname FROM pg_constraint WHERE contype = 'c'"
                    " AND conrelid = ANY(CAST(:t AS regclass[]))"
                ),
                {"t": [f"phms.{t}" for t in TABLES]},
            ).scalars()
        )
    assert len(names) > 40
    assert names - set(clinical_rules.CONSTRAINT_FIELDS) == set()
    # The range messages are the forms' own sentences.
    assert clinical_rules.CONSTRAINT_FIELDS["ck_assessment_height_cm_range"] == (
        "height_cm",
        "Height must be between 30 and 250 cm.",
    )


def test_every_rule_raised_by_a_trigger_has_words() -> None:
    source = "\n".join([*ddl_clinical.create_functions(), *ddl_diagnosis.create_functions()])
    own = set(re.findall(r"'(ck_[a-z_]+)'", source))
    assert "ck_assessment_followup_needs_assessment" in own
    assert own - set(clinical_rules.CONSTRAINT_FIELDS) == set()
    # Rules named per table: 'ck_' || TG_TABLE_NAME || '_<rule>'.
    per_table = set(re.findall(r"'ck_' \|\| TG_TABLE_NAME \|\| '_([a-z_]+)'", source))
    assert {"deleted_is_final", "patient_fixed", "stop_is_final", "agent_configured"} <= per_table
    for rule in per_table:
        assert any(f"ck_{t}_{rule}" in clinical_rules.CONSTRAINT_FIELDS for t in TABLES), rule


def refusal(session: Session, write: object) -> tuple[str, str, str]:
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.IntegrityError) as refused:
        write(session)  # type: ignore[operator]
    savepoint.rollback()
    error = classify(refused.value)
    assert error.kind is ErrorKind.INVALID_VALUE
    field = clinical_rules.rejected_field(refused.value)
    assert field is not None
    return field[0], field[1], error.message


def test_refusals_are_classified_in_words(session: Session) -> None:
    pid = add_patient(session.connection(), birth_date=dt.date(1970, 1, 1))
    field, words, message = refusal(
        session,
        lambda s: chart.create_assessment(s, AssessmentInput(pid, TODAY, kind="followup")),
    )
    assert field == "study_date" and words.startswith("A followup needs an earlier assessment")
    assert message.startswith(words) and "Nothing was saved" in message

    field, words, _ = refusal(
        session,
        lambda s: chart.create_assessment(s, AssessmentInput(pid, TODAY, mpap_mmhg=Decimal(151))),
    )
    assert (field, words) == ("mpap_mmhg", "Mean PA pressure must be between 0 and 150 mmHg.")

    field, words, _ = refusal(
        session,
        lambda s: chart.create_challenge(
            s, ChallengeInput(pid, TODAY, (StepInput(0, Decimal(40)),))
        ),
    )
    assert field == "study_date" and words.startswith("A vasodilator challenge needs an assessment")

    item = chart.add_item(session, "medication", ItemInput(pid, "bosentan", TODAY))
    stopped = chart.stop_item(session, "medication", item.id, item.stamp.version, TODAY, "stopped")
    assert stopped.stopped_on == TODAY
    _, words, _ = refusal(
        session,
        lambda s: s.execute(
            sa.text(
                "UPDATE phms.medication SET stopped_on = NULL, stop_reason = NULL WHERE id = :i"
            ),
            {"i": item.id},
        ),
    )
    assert words.startswith("This medication was stopped; a stop cannot be taken back.")

    # Haemodynamics that add up, and medicine classes (0012): the same words as the form.
    field, words, message = refusal(
        session,
        lambda s: chart.create_assessment(
            s, AssessmentInput(pid, TODAY, mpap_mmhg=Decimal(10), pawp_mmhg=Decimal(25))
        ),
    )
    assert (field, words) == (
        "pawp_mmhg",
        "PAWP cannot be above the mean PA pressure (TPG and PVR would be negative).",
    )
    assert message.startswith(words)
    field, words, _ = refusal(
        session,
        lambda s: chart.create_assessment(s, AssessmentInput(pid, TODAY, mpap_mmhg=Decimal(0))),
    )
    assert (field, words) == ("mpap_mmhg", "The mean PA pressure must be above 0 mmHg.")
    field, words, _ = refusal(
        session,
        lambda s: chart.add_item(
            s, "medication", ItemInput(pid, "Bosen", TODAY, therapy_class="era")
        ),
    )
    assert field == "name" and words.startswith("This medicine is not in the list")


def test_affected_patients(session: Session) -> None:
    conn = session.connection()
    a, b = add_patient(conn), add_patient(conn)
    chart.create_assessment(session, AssessmentInput(a, TODAY))
    walk = chart.create_walk(session, chart.WalkInput(b, TODAY, Decimal(400)))
    challenge = chart.create_challenge(
        session, ChallengeInput(a, TODAY, (StepInput(0, Decimal(40)),))
    )
    step_id = conn.execute(
        sa.text("SELECT id FROM phms.vasodilator_step WHERE challenge_id = :c"), {"c": challenge.id}
    ).scalar_one()
    item = chart.add_item(session, "allergy", ItemInput(b, "latex", TODAY))
    payloads = [
        {"table": "six_minute_walk", "op": "INSERT", "key": str(walk.id)},
        {"table": "vasodilator_step", "op": "INSERT", "key": str(step_id)},
        {"table": "patient", "op": "UPDATE", "key": str(a)},  # not clinical: ignored
        {"table": "allergy", "op": "UPDATE", "key": "x"},  # not a row id: ignored
    ]
    changes = chart_live.clinical_changes(payloads)
    assert changes == {"six_minute_walk": {walk.id}, "vasodilator_step": {step_id}}
    assert chart_live.affected_patients(session, changes) == {a, b}
    assert chart_live.affected_patients(session, {"allergy": [item.id]}) == {b}
    assert chart_live.affected_patients(session, {}) == set()
