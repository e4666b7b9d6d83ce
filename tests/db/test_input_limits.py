"""Input limits in the database (migration 0011): nonsense is refused by name, as a real login.

Every class of hostile input is tried against every column it concerns, as the
staff login that may write the table (clerk: patients, appointments, problem
reports; clinician: clinical records; admin: templates and settings).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from phms_schema import limits
from phms_schema.limits import MULTI, SINGLE, STAMP, TEXT_LIMITS
from tests.db.clinical_data import YEAR_AGO, add_patient, insert, rejected
from tests.harness import PgDatabase, settings_restored

#: Who may write each table (the login the test uses).
WRITER = {
    "patient": "t_clerk",
    "appointment": "t_clerk",
    "problem_report": "t_clerk",
    "report_template": "t_admin",
    "setting": "t_admin",
    **{
        t: "t_clinician"
        for t in (
            "assessment",
            "vasodilator_challenge",
            "vasodilator_step",
            "six_minute_walk",
            "medication",
            "allergy",
            "comorbidity",
        )
    },
}
#: Tables no staff login writes (written by the database or SECURITY DEFINER functions).
NOT_WRITTEN_BY_STAFF = {"search_word", "site_secret", "staff_account", "value_tally"}

TYPED = [
    (t, c)
    for t, columns in TEXT_LIMITS.items()
    for c, limit in columns.items()
    if limit.lines != STAMP and t not in NOT_WRITTEN_BY_STAFF
]
LETTERED = [(t, c) for t, c in TYPED if TEXT_LIMITS[t][c].needs_letter]


@pytest.fixture(scope="module")
def engines(db: PgDatabase) -> Iterator[dict[str, sa.Engine]]:
    made = {user: db.engine_for(user) for user in set(WRITER.values())}
    yield made
    for engine in made.values():
        engine.dispose()


def _base_row(conn: sa.Connection, table: str) -> tuple[str, dict[str, Any]]:
    """(key condition, values) of a valid new row of ``table``."""
    if table == "problem_report":
        return "", {
            "description": "It hangs",
            "client_version": "1",
            "server_version": "18",
            "schema_revision": "0011",
            "platform": "Linux",
        }
    if table == "report_template":
        return "", {"name": f"t {dt.datetime.now().timestamp()}", "kind": "individual", "body": "x"}
    if table == "setting":
        return "key = 'idle_lock_minutes'", {}
    patient = add_patient(conn) if table != "patient" else 0
    if table == "patient":
        patient = add_patient(conn)
        return f"id = {patient}", {}
    if table == "appointment":
        return "", {"patient_id": patient, "starts_at": dt.datetime.now(dt.UTC), "kind": "followup"}
    assessment = {"patient_id": patient, "kind": "assessment", "study_date": YEAR_AGO}
    if table == "assessment":
        return "", assessment
    insert(conn, "assessment", **assessment)
    challenge = {"patient_id": patient, "study_date": YEAR_AGO}
    if table == "vasodilator_challenge":
        return "", challenge
    if table == "vasodilator_step":
        cid = insert(conn, "vasodilator_challenge", **challenge).id
        return "", {
            "challenge_id": cid,
            "step_no": 1,
            "agent": "inhaled nitric oxide",
            "dose": 20,
            "dose_unit": "ppm",
            "mpap_mmhg": 30,
        }
    if table == "six_minute_walk":
        return "", {"patient_id": patient, "study_date": YEAR_AGO, "distance_m": 400}
    return "", {"patient_id": patient, "name": "bosentan", "started_on": YEAR_AGO}


def _write(conn: sa.Connection, table: str, **values: Any) -> None:
    """Write ``values`` into a fresh valid row of ``table`` (INSERT, or UPDATE of one)."""
    where, base = _base_row(conn, table)
    if where:
        sets = ", ".join(f"{k} = :{k}" for k in values)
        conn.execute(sa.text(f"UPDATE phms.{table} SET {sets} WHERE {where}"), values)
        return
    row = {**base, **values}
    if "error_reason" in values:
        row["entered_in_error"] = True
    if "stop_reason" in values and "stopped_on" not in values:
        row["stopped_on"] = YEAR_AGO
    columns = ", ".join(row)
    params = ", ".join(f"CAST(:{k} AS {_cast(k)})" if _cast(k) else f":{k}" for k in row)
    conn.execute(sa.text(f"INSERT INTO phms.{table} ({columns}) VALUES ({params})"), row)


def _cast(column: str) -> str:
    return "numeric" if column in {"dose", "mpap_mmhg", "distance_m"} else ""


def _refused(
    engines: dict[str, sa.Engine], table: str, constraint: str | set[str], **values: Any
) -> None:
    with engines[WRITER[table]].connect() as conn:
        conn.begin()
        with pytest.raises(sa.exc.IntegrityError) as info:
            _write(conn, table, **values)
        conn.rollback()
    name = info.value.orig.diag.constraint_name  # type: ignore[union-attr]
    wanted = {constraint} if isinstance(constraint, str) else constraint
    assert name in wanted, (name, info.value.orig)


def _accepted(engines: dict[str, sa.Engine], table: str, **values: Any) -> None:
    with engines[WRITER[table]].connect() as conn:
        conn.begin()
        _write(conn, table, **values)
        conn.rollback()


# --------------------------------------------------------------------------- texts


def test_every_text_column_has_a_length_check(admin_engine: sa.Engine) -> None:
    """A new text column without a limit fails here (and must be added to the limits)."""
    with admin_engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                " JOIN information_schema.tables t USING (table_schema, table_name)"
                " WHERE c.table_schema = 'phms' AND t.table_type = 'BASE TABLE'"
                "   AND c.data_type IN ('text', 'character varying', 'character')"
                "   AND c.is_generated = 'NEVER'"
            )
        ).all()
        checks = conn.execute(
            sa.text(
                "SELECT cl.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
                " JOIN pg_class cl ON cl.oid = k.conrelid"
                " JOIN pg_namespace n ON n.oid = cl.relnamespace"
                " WHERE n.nspname = 'phms' AND k.contype = 'c'"
            )
        ).all()
    assert len(columns) > 60
    found = {(t, c) for t, c in columns}
    assert found == {(t, c) for t, cols in TEXT_LIMITS.items() for c in cols}
    for table, column in found:
        limit = TEXT_LIMITS[table][column]
        mine = [d for t, d in checks if t == table]
        bounded = (f"length({column}) <= {limit.max_length}", f"length({column}) = ")
        assert any(b in d for d in mine for b in bounded), (table, column)
        if limit.lines in (SINGLE, MULTI):
            assert any(d.startswith(f"CHECK (({column} !~ '[") for d in mine), (table, column)


def test_every_check_of_0011_is_validated(admin_engine: sa.Engine) -> None:
    """On a clean database no rule was left NOT VALID."""
    with admin_engine.connect() as conn:
        unvalidated = conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint k JOIN pg_namespace n"
                " ON n.oid = k.connamespace WHERE n.nspname = 'phms' AND NOT convalidated"
            )
        ).all()
    assert unvalidated == []


@pytest.mark.parametrize(("table", "column"), TYPED, ids=[f"{t}.{c}" for t, c in TYPED])
def test_over_long_text_is_refused(engines: dict[str, sa.Engine], table: str, column: str) -> None:
    limit = TEXT_LIMITS[table][column]
    rule = f"ck_{table}_{column}_length"
    if (table, column) in limits.EXISTING_LENGTH_CHECKS.values():
        rule = next(n for n, w in limits.EXISTING_LENGTH_CHECKS.items() if w == (table, column))
    full = "a" * limit.max_length
    if column in (
        "email",
        "phone",
        "patient_code",
        "kind",
        "status",
        "sex",
        "key",
        "agent",
        "dose_unit",
        "value_type",
        # 0012: values from a list (risk at diagnosis, therapy class).
        "symptom_progression",
        "syncope",
        "pericardial_effusion",
        "therapy_class",
    ):
        _refused(engines, table, {rule, *_shape_rules(table, column)}, **{column: full + "a"})
        return
    _accepted(engines, table, **{column: full})
    _refused(engines, table, rule, **{column: full + "a"})


SHAPED = {
    "email",
    "phone",
    "patient_code",
    "kind",
    "status",
    "sex",
    "key",
    "agent",
    "dose_unit",
    "value_type",
}


def _shape_rules(table: str, column: str) -> set[str]:
    """Rules a long value of a column with a fixed shape or list may break first."""
    return {
        f"ck_{table}_{column}_shape",
        f"ck_{table}_{column}_known",
        f"ck_{table}_{column}_format",
        f"ck_{table}_{column}_configured",
        f"ck_{table}_patient_code_format",
        f"ck_{table}_key_format",
        f"ck_{table}_agent_configured",
        f"ck_{table}_dose_unit_matches_agent",
        f"ck_{table}_value_matches_type",
        f"ck_{table}_listed",
        f"ck_{table}_class_matches",
    }


@pytest.mark.parametrize(("table", "column"), TYPED, ids=[f"{t}.{c}" for t, c in TYPED])
@pytest.mark.parametrize("bad", ["\x1b[31m", "a\x07b", "\x7f", "\x85", "a\rb"])
def test_control_characters_are_refused(
    engines: dict[str, sa.Engine], table: str, column: str, bad: str
) -> None:
    rules = {f"ck_{table}_{column}_characters", *_shape_rules(table, column)}
    _refused(engines, table, rules, **{column: "Ab" + bad})


SINGLE_LINE = [(t, c) for t, c in TYPED if TEXT_LIMITS[t][c].lines == SINGLE]
MULTI_LINE = [(t, c) for t, c in TYPED if TEXT_LIMITS[t][c].lines == MULTI]


@pytest.mark.parametrize(("table", "column"), SINGLE_LINE, ids=[f"{t}.{c}" for t, c in SINGLE_LINE])
def test_single_line_fields_refuse_newline_and_tab(
    engines: dict[str, sa.Engine], table: str, column: str
) -> None:
    rules = {f"ck_{table}_{column}_characters", *_shape_rules(table, column)}
    _refused(engines, table, rules, **{column: "Ab\nc"})
    _refused(engines, table, rules, **{column: "Ab\tc"})


@pytest.mark.parametrize(("table", "column"), MULTI_LINE, ids=[f"{t}.{c}" for t, c in MULTI_LINE])
def test_multi_line_fields_keep_newlines_and_tabs(
    engines: dict[str, sa.Engine], table: str, column: str
) -> None:
    _accepted(engines, table, **{column: "line one\n\tline two"})


@pytest.mark.parametrize(("table", "column"), LETTERED, ids=[f"{t}.{c}" for t, c in LETTERED])
@pytest.mark.parametrize(
    "bad", ["\u200f", "\u200b", "\u200b\u200f \u2060", "\ufeff", "123", "...", "--", "\u00a0", "😀"]
)
def test_a_name_needs_a_letter(
    engines: dict[str, sa.Engine], table: str, column: str, bad: str
) -> None:
    _refused(engines, table, f"ck_{table}_{column}_has_letter", **{column: bad})


@pytest.mark.parametrize(("table", "column"), LETTERED, ids=[f"{t}.{c}" for t, c in LETTERED])
@pytest.mark.parametrize("good", ["Ž", "Ωmega", "عمر", "李", "Ngũgĩ", "ʻOkina", "O'Brien-Smith"])
def test_names_in_any_script_are_accepted(
    engines: dict[str, sa.Engine], table: str, column: str, good: str
) -> None:
    _accepted(engines, table, **{column: good})


@pytest.mark.parametrize("bad", ["a@b", "no address", "a b@c.org", "@c.org", "a@@c.org"])
def test_email_shape(engines: dict[str, sa.Engine], bad: str) -> None:
    _refused(engines, "patient", "ck_patient_email_shape", email=bad)
    _accepted(engines, "patient", email="anna.mueller@example.org")


@pytest.mark.parametrize("bad", ["call me", "+", "()", "12 34 x", "0800-FLOWERS"])
def test_phone_shape(engines: dict[str, sa.Engine], bad: str) -> None:
    _refused(engines, "patient", "ck_patient_phone_shape", phone=bad)
    _accepted(engines, "patient", phone="+44 (0)20 7946-0231")


def test_setting_value_size(engines: dict[str, sa.Engine], admin_engine: sa.Engine) -> None:
    huge = json.dumps(["x" * 1000] * 101)
    with (
        settings_restored(admin_engine),
        engines["t_admin"].connect() as conn,
        conn.begin(),
        pytest.raises(sa.exc.IntegrityError, match="ck_setting_value_size"),
    ):
        conn.execute(
            sa.text(
                "UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = 'appointment_kinds'"
            ),
            {"v": huge},
        )


# --------------------------------------------------------------------------- dates

DATED = [(t, c) for t, columns in limits.DATE_COLUMNS.items() for c in columns]


@pytest.mark.parametrize(("table", "column"), DATED, ids=[f"{t}.{c}" for t, c in DATED])
@pytest.mark.parametrize("year", [1, 1899, 9999])
def test_dates_have_bounds(
    engines: dict[str, sa.Engine], table: str, column: str, year: int
) -> None:
    day: dt.date = dt.date(year, 12, 31)
    if table == "appointment":
        day = dt.datetime(year, 12, 31, 9, 0, tzinfo=dt.UTC)
    rules = {
        f"ck_{table}_{column}_bounds",
        # A record in the future or before the patient's birth says so first.
        f"ck_{table}_study_date_not_future",
        f"ck_{table}_study_date_after_birth",
        f"ck_{table}_{column}_window",
        "ck_appointment_starts_at_window",
        # A stop in 1899 is also before any start the bounds allow.
        f"ck_{table}_started_on_bounds",
        f"ck_{table}_stopped_after_started",
    }
    values: dict[str, Any] = {column: day}
    if column == "stopped_on":
        values["stop_reason"] = "stopped"
        if year < 1900:
            values["started_on"] = dt.date(year, 1, 1)
    _refused(engines, table, rules, **values)


def test_date_windows_from_today(engines: dict[str, sa.Engine]) -> None:
    today = dt.date.today()
    far = today + dt.timedelta(days=limits.ITEM_DAYS_AHEAD + 1)
    _refused(engines, "medication", "ck_medication_started_on_window", started_on=far)
    _accepted(engines, "medication", started_on=today + dt.timedelta(days=30))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=limits.APPOINTMENT_DAYS_AHEAD + 1)
    _refused(engines, "appointment", "ck_appointment_starts_at_window", starts_at=later)
    _accepted(engines, "appointment", starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=700))


# --------------------------------------------------------------------------- numbers

NUMERIC = [(t, c) for t, columns in limits.DECIMAL_COLUMNS.items() for c in columns]


@pytest.mark.parametrize(("table", "column"), NUMERIC, ids=[f"{t}.{c}" for t, c in NUMERIC])
@pytest.mark.parametrize("bad", ["1e30", "-1e30", "NaN", "Infinity", "-Infinity", "1e-1000"])
def test_numbers_refuse_nonsense(
    engines: dict[str, sa.Engine], table: str, column: str, bad: str
) -> None:
    with engines[WRITER[table]].connect() as conn:
        conn.begin()
        _, base = _base_row(conn, table)
        row = {**base, column: bad}
        names = ", ".join(row)
        params = ", ".join(
            f"CAST(:{k} AS numeric)" if k == column or k in ("dose", "mpap_mmhg") else f":{k}"
            for k in row
        )
        with pytest.raises(sa.exc.IntegrityError) as info:
            conn.execute(sa.text(f"INSERT INTO phms.{table} ({names}) VALUES ({params})"), row)
        conn.rollback()
    name = info.value.orig.diag.constraint_name  # type: ignore[union-attr]
    assert name is not None and name.startswith(f"ck_{table}_"), name
    assert column in name or name in ("ck_vasodilator_step_valid_pressure_order",), name


def test_every_typed_number_has_an_upper_bound(admin_engine: sa.Engine) -> None:
    """No numeric column people type into accepts 1e30: each has a range or a bound."""
    with admin_engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                " JOIN information_schema.tables t USING (table_schema, table_name)"
                " WHERE c.table_schema = 'phms' AND t.table_type = 'BASE TABLE'"
                "   AND c.data_type IN ('numeric', 'double precision', 'real')"
                "   AND c.is_generated = 'NEVER' AND c.table_name <> 'value_tally'"
            )
        ).all()
    assert {(t, c) for t, c in columns} == set(NUMERIC)


def test_dose_fits_the_agents_configured_range(engines: dict[str, sa.Engine]) -> None:
    # Nitric oxide: steps 10, 20, 40 ppm (default settings): at most 80 ppm.
    _accepted(engines, "vasodilator_step", dose=80)
    _accepted(engines, "vasodilator_step", dose="0.5")
    _refused(engines, "vasodilator_step", "ck_vasodilator_step_dose_in_range", dose=81)
    _refused(
        engines,
        "vasodilator_step",
        "ck_vasodilator_step_dose_unit_matches_agent",
        dose=20,
        dose_unit="mg",
    )


# --------------------------------------------------------------------------- appointment kinds


def test_appointment_kind_from_the_configured_list(
    engines: dict[str, sa.Engine], admin_engine: sa.Engine
) -> None:
    _refused(engines, "appointment", "ck_appointment_kind_configured", kind="party")
    _refused(engines, "appointment", "ck_appointment_kind_present", kind="  ")
    with settings_restored(admin_engine):
        with engines["t_clerk"].begin() as conn:
            patient = add_patient(conn)
            aid = conn.execute(
                sa.text(
                    "INSERT INTO phms.appointment (patient_id, starts_at, kind)"
                    " VALUES (:p, now(), 'consultation') RETURNING id"
                ),
                {"p": patient},
            ).scalar_one()
        with admin_engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE phms.setting SET value = '[\"assessment\"]'"
                    " WHERE key = 'appointment_kinds'"
                )
            )
        # An appointment booked before the list changed stays editable.
        with engines["t_clerk"].begin() as conn:
            conn.execute(
                sa.text("UPDATE phms.appointment SET note = 'moved' WHERE id = :i"), {"i": aid}
            )
            with rejected(conn, "ck_appointment_kind_configured"):
                conn.execute(
                    sa.text("UPDATE phms.appointment SET kind = 'followup' WHERE id = :i"),
                    {"i": aid},
                )
