"""Clinical tables: the database itself refuses nonsense, written as plain SQL by a clinician.

Each test runs in one transaction as ``t_clinician`` that is rolled back at the
end; each refused statement runs in a savepoint (``rejected``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from phms_client.clinical.ranges import FIELD_RANGES
from phms_schema.ddl_clinical import TABLES
from tests.db.clinical_data import TODAY, YEAR_AGO, add_patient, insert, rejected, update
from tests.harness import PgDatabase


@pytest.fixture
def conn(clinician: sa.Engine) -> Iterator[sa.Connection]:
    with clinician.connect() as connection:
        connection.begin()
        yield connection
        connection.rollback()


@pytest.fixture
def patient(conn: sa.Connection) -> int:
    return add_patient(conn)


def _assessment(conn: sa.Connection, patient: int, **values: Any) -> sa.RowMapping:
    values = {"kind": "assessment", "study_date": YEAR_AGO, **values}
    return insert(conn, "assessment", patient_id=patient, **values)


def _challenge(conn: sa.Connection, patient: int) -> int:
    _assessment(conn, patient)
    return int(insert(conn, "vasodilator_challenge", patient_id=patient, study_date=YEAR_AGO).id)


def _parent(conn: sa.Connection, table: str, patient: int) -> dict[str, Any]:
    """The minimal valid row of ``table`` (its required columns)."""
    if table == "assessment":
        return {"patient_id": patient, "kind": "assessment", "study_date": YEAR_AGO}
    if table == "six_minute_walk":
        return {"patient_id": patient, "study_date": YEAR_AGO, "distance_m": 400}
    if table == "vasodilator_step":
        return {"challenge_id": _challenge(conn, patient), "step_no": 0, "mpap_mmhg": 40}
    if table == "vasodilator_challenge":
        _assessment(conn, patient)
        return {"patient_id": patient, "study_date": YEAR_AGO}
    return {"patient_id": patient, "name": "bosentan", "started_on": YEAR_AGO}


RANGED = [(t, c) for t, columns in FIELD_RANGES.items() for c in columns]


@pytest.mark.parametrize(("table", "column"), RANGED, ids=[f"{t}.{c}" for t, c in RANGED])
def test_plausible_range_at_both_edges(
    conn: sa.Connection, patient: int, table: str, column: str
) -> None:
    limits = FIELD_RANGES[table][column]
    base = _parent(conn, table, patient)

    def row(value: Decimal) -> dict[str, Any]:
        values = {**base, column: value}
        if table == "vasodilator_step" and column in ("spap_mmhg", "dpap_mmhg"):
            values["mpap_mmhg"] = min(max(value, Decimal(0)), Decimal(150))  # mPAP is required
        if table == "vasodilator_step" and column == "pawp_mmhg":
            values["mpap_mmhg"] = min(max(value, Decimal(40)), Decimal(150))  # PAWP ≤ mPAP
        return values

    for ok in (limits.minimum, limits.maximum):
        with conn.begin_nested() as savepoint:
            if row(ok).get("mpap_mmhg") == 0:
                # In the plausible range, but no measurement: refused by its own rule.
                with rejected(conn, f"ck_{table}_valid_mpap_positive"):
                    insert(conn, table, **row(ok))
            else:
                insert(conn, table, **row(ok))
            savepoint.rollback()
    whole = column in ("who_fc", "stops")
    step = Decimal(1) if whole else Decimal("0.01")
    for bad in (limits.minimum - step, limits.maximum + step):
        # Ranges are reported before the pressure order (CHECKs run by name).
        with rejected(conn, f"ck_{table}_{column}_range"):
            insert(conn, table, **row(bad))


_BOUNDS = re.compile(r"^CHECK (\w+) >= (-?[\d.]+) AND \1 <= (-?[\d.]+)$")


def _bounds(definition: str) -> re.Match[str] | None:
    """Bounds from pg_get_constraintdef, casts, quotes and parentheses removed."""
    return _BOUNDS.match(re.sub(r"[()']", "", re.sub(r"::\w+", "", definition)))


def test_database_ranges_are_the_form_ranges(admin_engine: sa.Engine) -> None:
    """Migration 0003 copied the limits; pg_constraint must still say what the form says."""
    with admin_engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT cl.relname, co.conname, pg_get_constraintdef(co.oid) AS def"
                " FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid"
                " JOIN pg_namespace n ON n.oid = cl.relnamespace"
                " WHERE n.nspname = 'phms' AND co.contype = 'c' AND co.conname LIKE '%\\_range'"
                " AND cl.relname = ANY(:tables)"
            ),
            {"tables": list(TABLES)},
        ).all()
    found = {}
    for table, name, definition in rows:
        match = _bounds(definition)
        assert match, definition
        assert name == f"ck_{table}_{match[1]}_range"
        found[(table, match[1])] = (Decimal(match[2]), Decimal(match[3]))
    expected = {
        (t, c): (r.minimum, r.maximum) for t, cols in FIELD_RANGES.items() for c, r in cols.items()
    }
    assert found == expected


REQUIRED = {
    "assessment": ("patient_id", "kind", "study_date"),
    "six_minute_walk": ("patient_id", "study_date", "distance_m"),
    "vasodilator_step": ("challenge_id", "step_no", "mpap_mmhg"),
}


@pytest.mark.parametrize(("table", "column"), [(t, c) for t, cs in REQUIRED.items() for c in cs])
def test_required_columns(conn: sa.Connection, patient: int, table: str, column: str) -> None:
    base = _parent(conn, table, patient)
    with rejected(conn):
        insert(conn, table, **{**base, column: None})


@pytest.mark.parametrize("table", ["medication", "allergy", "comorbidity"])
def test_chart_item_rules(conn: sa.Connection, patient: int, table: str) -> None:
    start = YEAR_AGO
    item = {"patient_id": patient, "name": "bosentan", "started_on": start}
    for column in ("patient_id", "name", "started_on"):
        with rejected(conn):
            insert(conn, table, **{**item, column: None})
    with rejected(conn, f"ck_{table}_name_present"):
        insert(conn, table, **{**item, "name": "  "})
    with rejected(conn, f"ck_{table}_stopped_after_started"):
        insert(conn, table, **item, stopped_on=start - dt.timedelta(days=1), stop_reason="x")
    with rejected(conn, f"ck_{table}_stop_reason_required"):
        insert(conn, table, **item, stopped_on=start)
    with rejected(conn, f"ck_{table}_stop_reason_only_when_stopped"):
        insert(conn, table, **item, stop_reason="cured")
    with rejected(conn, f"ck_{table}_error_reason_required"):
        insert(conn, table, **item, entered_in_error=True)
    row = insert(conn, table, **item)
    # Stop on the start date is allowed; the stop can be corrected...
    update(conn, table, row.id, stopped_on=start, stop_reason="stopped")
    stopped = update(conn, table, row.id, stopped_on=TODAY, stop_reason="cured")
    assert stopped.version == 3
    # ...but not taken back.
    with rejected(conn, f"ck_{table}_stop_is_final"):
        update(conn, table, row.id, stopped_on=None, stop_reason=None)
    other = add_patient(conn)
    with rejected(conn, f"ck_{table}_patient_fixed"):
        update(conn, table, row.id, patient_id=other)


@pytest.mark.parametrize("table", TABLES)
def test_deleted_entries_are_final(conn: sa.Connection, patient: int, table: str) -> None:
    row = insert(conn, table, **_parent(conn, table, patient))
    with rejected(conn, f"ck_{table}_error_reason_required"):
        update(conn, table, row.id, entered_in_error=True, error_reason=" ")
    with rejected(conn, f"ck_{table}_error_reason_only_when_in_error"):
        update(conn, table, row.id, error_reason="why")
    # The client cannot forge who deleted it or when.
    gone = update(
        conn,
        table,
        row.id,
        entered_in_error=True,
        error_reason="wrong patient",
        error_by="someone else",
        error_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    )
    assert gone.error_by == "t_clinician"
    assert gone.error_at.year == dt.datetime.now(dt.UTC).year
    for change in ({"entered_in_error": False, "error_reason": None}, {"error_reason": "typo"}):
        with rejected(conn, f"ck_{table}_deleted_is_final"):
            update(conn, table, row.id, **change)


def test_entry_stamps_cleared_on_live_rows(conn: sa.Connection, patient: int) -> None:
    row = insert(
        conn,
        "assessment",
        **_parent(conn, "assessment", patient),
        error_by="someone",
        error_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    )
    assert (row.error_by, row.error_at) == (None, None)


def test_assessment_checks(conn: sa.Connection, patient: int) -> None:
    base = _parent(conn, "assessment", patient)
    with rejected(conn, "ck_assessment_kind_known"):
        insert(conn, "assessment", **{**base, "kind": "visit"})
    for pressures in (
        {"dpap_mmhg": 30, "mpap_mmhg": 25},
        {"mpap_mmhg": 40, "spap_mmhg": 35},
        {"dpap_mmhg": 40, "spap_mmhg": 35},
    ):
        with rejected(conn, "ck_assessment_valid_pressure_order"):
            insert(conn, "assessment", **base, **pressures)


def test_study_date_not_future_nor_before_birth(conn: sa.Connection, patient: int) -> None:
    for table in ("assessment", "six_minute_walk"):
        base = _parent(conn, table, patient)
        with rejected(conn, f"ck_{table}_study_date_not_future"):
            insert(conn, table, **{**base, "study_date": TODAY + dt.timedelta(days=1)})
        with rejected(conn, f"ck_{table}_study_date_after_birth"):
            insert(conn, table, **{**base, "study_date": dt.date(1960, 4, 30)})
    insert(conn, "assessment", **{**_parent(conn, "assessment", patient), "study_date": TODAY})


def test_followup_needs_an_earlier_assessment(conn: sa.Connection, patient: int) -> None:
    followup = {"patient_id": patient, "kind": "followup", "study_date": YEAR_AGO}
    with rejected(conn, "ck_assessment_followup_needs_assessment"):
        insert(conn, "assessment", **followup)
    # Another patient's assessment does not count.
    _assessment(conn, add_patient(conn), study_date=YEAR_AGO - dt.timedelta(days=30))
    with rejected(conn, "ck_assessment_followup_needs_assessment"):
        insert(conn, "assessment", **followup)
    # Nor does one on the same day.
    _assessment(conn, patient, study_date=YEAR_AGO)
    with rejected(conn, "ck_assessment_followup_needs_assessment"):
        insert(conn, "assessment", **followup)
    earlier = _assessment(conn, patient, study_date=YEAR_AGO - dt.timedelta(days=1))
    row = insert(conn, "assessment", **followup)
    # Moving the followup before its assessment is refused as well.
    with rejected(conn, "ck_assessment_followup_needs_assessment"):
        update(conn, "assessment", row.id, study_date=earlier.study_date)
    # A followup's own assessment deleted in error does not count.
    other = add_patient(conn)
    first = _assessment(conn, other, study_date=YEAR_AGO - dt.timedelta(days=9))
    update(conn, "assessment", first.id, entered_in_error=True, error_reason="wrong patient")
    with rejected(conn, "ck_assessment_followup_needs_assessment"):
        insert(conn, "assessment", **{**followup, "patient_id": other})


def test_challenge_needs_an_assessment_on_or_before(conn: sa.Connection, patient: int) -> None:
    challenge = {"patient_id": patient, "study_date": YEAR_AGO}
    with rejected(conn, "ck_vasodilator_challenge_needs_assessment"):
        insert(conn, "vasodilator_challenge", **challenge)
    _assessment(conn, patient, study_date=YEAR_AGO + dt.timedelta(days=1))
    with rejected(conn, "ck_vasodilator_challenge_needs_assessment"):
        insert(conn, "vasodilator_challenge", **challenge)
    _assessment(conn, patient, study_date=YEAR_AGO)  # same day is enough
    insert(conn, "vasodilator_challenge", **challenge)


def test_an_assessment_others_rely_on_cannot_go(conn: sa.Connection, patient: int) -> None:
    base = _assessment(conn, patient, study_date=YEAR_AGO)
    insert(
        conn,
        "assessment",
        patient_id=patient,
        kind="followup",
        study_date=YEAR_AGO + dt.timedelta(days=90),
    )
    for change, constraint in (
        ({"entered_in_error": True, "error_reason": "oops"}, "ck_assessment_baseline_in_use"),
        ({"study_date": YEAR_AGO + dt.timedelta(days=100)}, "ck_assessment_baseline_in_use"),
        # As a followup itself it would need an earlier assessment first.
        ({"kind": "followup"}, "ck_assessment_followup_needs_assessment"),
    ):
        with rejected(conn, constraint):
            update(conn, "assessment", base.id, **change)
    # Another baseline makes it free to go.
    second = _assessment(conn, patient, study_date=YEAR_AGO + dt.timedelta(days=1))
    update(conn, "assessment", base.id, entered_in_error=True, error_reason="duplicate")
    # A challenge relies on the same-day assessment.
    insert(conn, "vasodilator_challenge", patient_id=patient, study_date=second.study_date)
    update(conn, "assessment", second.id, study_date=YEAR_AGO)  # earlier: still fine
    with rejected(conn, "ck_assessment_baseline_in_use"):
        update(conn, "assessment", second.id, study_date=YEAR_AGO + dt.timedelta(days=2))


def test_records_stay_with_their_patient(conn: sa.Connection, patient: int) -> None:
    row = _assessment(conn, patient)
    with rejected(conn, "ck_assessment_patient_fixed"):
        update(conn, "assessment", row.id, patient_id=add_patient(conn))


def test_vasodilator_steps(conn: sa.Connection, patient: int) -> None:
    challenge = _challenge(conn, patient)
    step = {"challenge_id": challenge, "mpap_mmhg": 40}
    with rejected(conn, "ck_vasodilator_step_baseline_has_no_agent"):
        insert(conn, "vasodilator_step", **step, step_no=0, agent="IV adenosine", dose=50,
               dose_unit="µg/kg/min")  # fmt: skip
    with rejected(conn, "ck_vasodilator_step_baseline_has_no_agent"):
        insert(conn, "vasodilator_step", **step, step_no=1)
    with rejected(conn, "ck_vasodilator_step_agent_dose_unit_together"):
        insert(conn, "vasodilator_step", **step, step_no=1, agent="IV adenosine", dose=50)
    with rejected(conn, "ck_vasodilator_step_dose_positive"):
        insert(conn, "vasodilator_step", **step, step_no=1, agent="IV adenosine", dose=0,
               dose_unit="µg/kg/min")  # fmt: skip
    with rejected(conn, "ck_vasodilator_step_step_no_valid"):
        insert(conn, "vasodilator_step", **step, step_no=31, agent="inhaled nitric oxide",
               dose=20, dose_unit="ppm")  # fmt: skip
    with rejected(conn, "ck_vasodilator_step_agent_configured"):
        insert(conn, "vasodilator_step", **step, step_no=1, agent="sildenafil", dose=20,
               dose_unit="mg")  # fmt: skip
    with rejected(conn, "ck_vasodilator_step_dose_unit_matches_agent"):
        insert(conn, "vasodilator_step", **step, step_no=1, agent="inhaled nitric oxide",
               dose=20, dose_unit="ppb")  # fmt: skip
    with rejected(conn, "ck_vasodilator_step_valid_pressure_order"):
        insert(conn, "vasodilator_step", **step, step_no=0, dpap_mmhg=45)
    baseline = insert(conn, "vasodilator_step", **step, step_no=0)
    with rejected(conn, "uq_vasodilator_step_live_step_no"):
        insert(conn, "vasodilator_step", **step, step_no=0)
    update(conn, "vasodilator_step", baseline.id, entered_in_error=True, error_reason="redo")
    again = insert(conn, "vasodilator_step", **step, step_no=0)  # a live step 0 again
    other = _challenge(conn, patient)
    with rejected(conn, "ck_vasodilator_step_challenge_fixed"):
        update(conn, "vasodilator_step", again.id, challenge_id=other)
    update(conn, "vasodilator_challenge", challenge, entered_in_error=True, error_reason="x")
    with rejected(conn, "ck_vasodilator_step_challenge_live"):
        insert(conn, "vasodilator_step", **step, step_no=1, agent="inhaled nitric oxide",
               dose=20, dose_unit="ppm")  # fmt: skip


def test_old_steps_survive_a_changed_agent_list(db: PgDatabase) -> None:
    """Agent and unit are checked when written: an edited list does not lock old rows."""
    admin = db.engine_for("t_admin")  # admins are clinicians who may also edit settings
    with admin.connect() as c:
        c.begin()
        challenge = _challenge(c, add_patient(c))
        step = insert(
            c, "vasodilator_step", challenge_id=challenge, step_no=1, agent="IV epoprostenol",
            dose=2, dose_unit="ng/kg/min", mpap_mmhg=40,
        )  # fmt: skip
        c.execute(
            sa.text(
                "UPDATE phms.setting SET value = (SELECT jsonb_agg(e) FROM jsonb_array_elements("
                "value) e WHERE e ->> 'name' <> 'IV epoprostenol') WHERE key = 'vasodilator_agents'"
            )
        )
        assert update(c, "vasodilator_step", step.id, heart_rate_bpm=80).version == 2
        with rejected(c, "ck_vasodilator_step_agent_configured"):
            update(c, "vasodilator_step", step.id, dose_unit="µg/kg/min")
        c.rollback()
    admin.dispose()


def test_stamps_and_audit_name_the_clinician(clinician: sa.Engine, admin_engine: sa.Engine) -> None:
    with clinician.begin() as c:
        patient = add_patient(c)
        row = _assessment(c, patient, who_fc=3)
        update(c, "assessment", row.id, who_fc=2, created_by="forged")
        stored = c.execute(
            sa.text("SELECT version, created_by, updated_by FROM phms.assessment WHERE id = :i"),
            {"i": row.id},
        ).one()
    assert tuple(stored) == (2, "t_clinician", "t_clinician")
    with admin_engine.connect() as c:
        audit = c.execute(
            sa.text(
                "SELECT operation, session_user_name, new_values ->> 'who_fc' FROM audit.event"
                " WHERE table_name = 'assessment' AND row_key = :k ORDER BY id"
            ),
            {"k": str(row.id)},
        ).all()
    assert [tuple(r) for r in audit] == [
        ("INSERT", "t_clinician", "3"),
        ("UPDATE", "t_clinician", "2"),
    ]


def test_prerequisite_checks_are_serialised_per_patient(clinician: sa.Engine) -> None:
    """While one session deletes the only assessment, another cannot slip a followup in."""
    with clinician.begin() as c:
        patient = add_patient(c)
        base = _assessment(c, patient, study_date=YEAR_AGO)
    with clinician.connect() as first, clinician.connect() as second:
        first.begin()
        update(first, "assessment", base.id, entered_in_error=True, error_reason="wrong")
        second.begin()
        second.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
        followup = {"patient_id": patient, "kind": "followup", "study_date": TODAY}
        with pytest.raises(sa.exc.OperationalError) as info:
            insert(second, "assessment", **followup)
        assert isinstance(info.value.orig, psycopg.errors.LockNotAvailable)
        second.rollback()
        first.commit()
        second.begin()
        with pytest.raises(sa.exc.IntegrityError, match="needs an earlier assessment"):
            insert(second, "assessment", **followup)
        second.rollback()
