"""Input limits through the service layer: a clear message for every class, never a crash.

Each hostile value is tried twice: through the service (refused before sending,
with :class:`InvalidInput`), and straight into the database as the same login
(refused by the constraint of 0011); both must read as a sentence, not as
"Database error".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.errors import ErrorKind, InvalidInput, classify
from phms_client.services import appointments, chart, input_rules, patients, reports
from phms_client.services.appointments import AppointmentInput
from phms_client.services.chart import ChallengeInput, ItemInput, StepInput
from phms_schema import limits
from tests.harness import PgDatabase, unique_code

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def clerk(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_clerk")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def clinician(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_clinician")
    yield engine
    engine.dispose()


def person(**changes: Any) -> patients.PatientInput:
    values: dict[str, Any] = {
        "patient_code": unique_code(),
        "family_name": "Nowak",
        "given_name": "Ewa",
        "sex": "female",
        "birth_date": dt.date(1961, 2, 3),
        **changes,
    }
    return patients.PatientInput(**values)


@pytest.fixture(scope="module")
def patient_id(clerk: sa.Engine) -> int:
    with Session(clerk) as s, s.begin():
        return patients.create(s, person()).id


def _clear(exc: BaseException, *words: str) -> str:
    error = classify(exc)
    assert error.kind is ErrorKind.INVALID_VALUE, error
    assert error.title != "Database error"
    assert "rule “" not in error.message  # a sentence, not a constraint name
    for word in words:
        assert word in error.message, error.message
    return error.message


def _service_refuses(engine: sa.Engine, call: Any, *words: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info, Session(engine) as s, s.begin():
        call(s)
    _clear(info.value, *words)
    return info.value


def _database_refuses(engine: sa.Engine, sql: str, params: dict[str, Any], *words: str) -> str:
    with pytest.raises(sa.exc.DBAPIError) as info, engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    return _clear(info.value, *words)


# --------------------------------------------------------------------------- patients

PATIENT_SQL = (
    "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date,"
    " phone, email) VALUES (:c, :f, 'Ewa', 'female', '1961-02-03', :p, :e)"
)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"family_name": "N" * 101}, ("family name is too long", "100 characters")),
        ({"given_name": "\u200f"}, ("given name must contain at least one letter",)),
        ({"family_name": "\u200b\u200f"}, ("letter",)),
        ({"family_name": "Nowak\x00"}, ("NUL character",)),
        ({"family_name": "Nowak\x1b[2J"}, ("control characters",)),
        ({"family_name": "Nowak\nSmith"}, ("control characters",)),
        ({"email": "ewa@"}, ("email address",)),
        ({"phone": "call me"}, ("phone number",)),
        ({"address": "x" * 501}, ("address is too long", "500")),
        ({"address": "Flat 1\x07"}, ("control characters", "line breaks")),
    ],
)
def test_patient_nonsense_gets_a_clear_message(
    clerk: sa.Engine, changes: dict[str, Any], words: tuple[str, ...]
) -> None:
    refused = _service_refuses(clerk, lambda s: patients.create(s, person(**changes)), *words)
    assert refused.field == next(iter(changes))
    # The form marks the field the rule belongs to.
    if refused.constraint:
        assert patients.rejected_field(refused) == (refused.field, refused.message)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"f": "N" * 101}, ("family name is too long",)),
        ({"f": "\u200f"}, ("at least one letter",)),
        ({"f": "Ab\x1b"}, ("control characters",)),
        ({"f": "Nowak\x00"}, ("NUL character",)),
        ({"e": "a b@c"}, ("email address",)),
        ({"p": "+"}, ("phone number",)),
    ],
)
def test_the_database_refusal_reads_the_same(
    clerk: sa.Engine, values: dict[str, Any], words: tuple[str, ...]
) -> None:
    params = {"c": unique_code(), "f": "Nowak", "p": None, "e": None, **values}
    _database_refuses(clerk, PATIENT_SQL, params, *words)


def test_windows_line_ends_are_kept_as_line_breaks(clerk: sa.Engine) -> None:
    with Session(clerk) as s, s.begin():
        saved = patients.create(s, person(address="1 High Street\r\nLondon\rUK"))
        s.rollback()
    assert saved.address == "1 High Street\nLondon\nUK"


def test_names_in_other_scripts_are_saved(clerk: sa.Engine) -> None:
    with Session(clerk) as s, s.begin():
        saved = patients.create(s, person(family_name="Žukauskaitė", given_name="عمر"))
        s.rollback()
    assert (saved.family_name, saved.given_name) == ("Žukauskaitė", "عمر")


def test_a_megabyte_search_reads_only_its_start(clerk: sa.Engine, patient_id: int) -> None:
    with Session(clerk) as s:
        assert patients.search(s, "Nowak" + "x" * 1_000_000) == []
        assert patients.search(s, "\x00\u200f" * 1000) == []
        found = patients.search(s, "Nowak" + " " * 2_000_000)
    # Names that start with it (other tests may have made a 'Nowak…' too).
    assert any(p.family_name == "Nowak" for p in found)
    assert all(p.family_name.startswith("Nowak") for p in found)
    assert len(input_rules.cap_search("x" * 1_000_000)) == limits.MAX_SEARCH == 100


# --------------------------------------------------------------------------- appointments


@pytest.mark.parametrize("year", [1, 9999])
def test_appointment_year_1_and_9999_are_refused(
    clerk: sa.Engine, patient_id: int, year: int
) -> None:
    at = dt.datetime(year, 6, 1, 9, 0, tzinfo=dt.UTC)
    _service_refuses(
        clerk,
        lambda s: appointments.book(s, AppointmentInput(patient_id, at, "followup")),
        "between 1 Jan 1900 and 31 Dec 2199",
    )


def test_appointment_kind_and_window(clerk: sa.Engine, patient_id: int) -> None:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with pytest.raises(sa.exc.IntegrityError) as info, Session(clerk) as s, s.begin():
        appointments.book(s, AppointmentInput(patient_id, at, "party"))
    _clear(info.value, "not in the list set in Preferences")
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=limits.APPOINTMENT_DAYS_AHEAD + 2)
    with pytest.raises(sa.exc.IntegrityError) as info, Session(clerk) as s, s.begin():
        appointments.book(s, AppointmentInput(patient_id, far, "followup"))
    _clear(info.value, "5 years ahead")
    _service_refuses(
        clerk,
        lambda s: appointments.book(
            s, AppointmentInput(patient_id, at, "followup", note="n" * 2001)
        ),
        "note is too long",
    )


def test_day_list_at_the_end_of_time_does_not_crash(clerk: sa.Engine) -> None:
    zone = dt.timezone(dt.timedelta(hours=14))
    with Session(clerk) as s:
        for day in (dt.date.max, dt.date.min, dt.date(9999, 12, 30), dt.date(2199, 12, 31)):
            listing = appointments.day_list(s, day, zone)
            assert listing.day == day and listing.rows == ()


# --------------------------------------------------------------------------- chart


@pytest.mark.parametrize("day", [dt.date(1, 1, 1), dt.date(9999, 12, 31)])
def test_medication_year_1_and_9999_are_refused(
    clinician: sa.Engine, patient_id: int, day: dt.date
) -> None:
    _service_refuses(
        clinician,
        lambda s: chart.add_item(s, "medication", ItemInput(patient_id, "bosentan", day)),
        "The date must be between",
    )


def test_medication_name_and_details(clinician: sa.Engine, patient_id: int) -> None:
    year_ago = TODAY - dt.timedelta(days=365)
    _service_refuses(
        clinician,
        lambda s: chart.add_item(s, "medication", ItemInput(patient_id, "\u200f", year_ago)),
        "name of the medication must contain at least one letter",
    )
    _service_refuses(
        clinician,
        lambda s: chart.add_item(
            s, "allergy", ItemInput(patient_id, "penicillin", year_ago, "d" * 1001)
        ),
        "Details is too long",
    )
    ahead = TODAY + dt.timedelta(days=limits.ITEM_DAYS_AHEAD + 5)
    with pytest.raises(sa.exc.IntegrityError) as info, Session(clinician) as s, s.begin():
        chart.add_item(s, "comorbidity", ItemInput(patient_id, "asthma", ahead))
    _clear(info.value, "secondary disease cannot start more than 366 days")


@pytest.mark.parametrize(
    ("dose", "words"),
    [
        (Decimal("1e30"), ("not a plausible value",)),
        (Decimal("NaN"), ("not a plausible value",)),
        (Decimal("Infinity"), ("not a plausible value",)),
        (Decimal("1e-1000"), ("at most 3 decimal places",)),
    ],
)
def test_dose_nonsense_is_refused(
    clinician: sa.Engine, patient_id: int, dose: Decimal, words: tuple[str, ...]
) -> None:
    steps = (
        StepInput(0, Decimal(40)),
        StepInput(1, Decimal(30), "inhaled nitric oxide", dose, "ppm"),
    )
    with Session(clinician) as s, s.begin():
        chart.create_assessment(s, chart.AssessmentInput(patient_id, TODAY - dt.timedelta(days=9)))
        s.commit()
    _service_refuses(
        clinician,
        lambda s: chart.create_challenge(s, ChallengeInput(patient_id, TODAY, steps)),
        *words,
    )


def test_dose_above_the_agents_range_reads_clearly(clinician: sa.Engine, patient_id: int) -> None:
    with clinician.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO phms.assessment (patient_id, kind, study_date)"
                " VALUES (:p, 'assessment', :d)"
            ),
            {"p": patient_id, "d": TODAY - dt.timedelta(days=20)},
        )
    steps = (
        StepInput(0, Decimal(40)),
        StepInput(1, Decimal(30), "inhaled nitric oxide", Decimal(400), "ppm"),
    )
    with pytest.raises(sa.exc.IntegrityError) as info, Session(clinician) as s, s.begin():
        chart.create_challenge(s, ChallengeInput(patient_id, TODAY, steps))
    _clear(info.value, "more than 2 times the highest dose step")


# --------------------------------------------------------------------------- templates


def test_template_text_limits(db: PgDatabase) -> None:
    engine = db.engine_for("t_admin")
    data = reports.TemplateInput(
        name="Letter\x1b", kind="individual", body="Dear {{ patient.family_name }}"
    )
    _service_refuses(engine, lambda s: reports.create_template(s, data), "control characters")
    engine.dispose()


def test_every_new_rule_has_a_sentence() -> None:
    from phms_schema import ddl_limits

    triggered = {
        "ck_appointment_kind_configured",
        "ck_appointment_starts_at_window",
        "ck_vasodilator_step_dose_in_range",
        *(
            f"ck_{t}_{c}_window"
            for t in ("medication", "allergy", "comorbidity")
            for c in ("started_on", "stopped_on")
        ),
    }
    names = {n for t in ddl_limits.checked_tables() for n in ddl_limits.constraint_names(t)}
    stamps = {
        f"ck_{t}_{c}_length"
        for t, columns in limits.TEXT_LIMITS.items()
        for c, limit in columns.items()
        if limit.lines == limits.STAMP
    }
    assert names - stamps <= set(input_rules.CONSTRAINT_MESSAGES)
    assert triggered <= set(input_rules.CONSTRAINT_MESSAGES)
