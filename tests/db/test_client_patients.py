"""Patient services: search, create, update with conflict detection, duplicates."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from phms_client.db.database import Credentials, Database
from phms_client.db.notify import BROADCAST_CHANNEL, Listener
from phms_client.services import about, patients
from phms_client.services.patients import PatientInput, StaleRecord
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase, unique_code


@pytest.fixture
def clerk_db(db: PgDatabase) -> Iterator[Database]:
    database = Database(config_for(db), Credentials("t_clerk", STAFF_PASSWORD))
    yield database
    database.close()


@pytest.fixture
def family() -> str:
    """A family name no other test uses, with an accent."""
    letters = uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    return "Łukasiewicz" + letters


def person(
    family: str, given: str = "Zoë", born: dt.date = dt.date(1960, 5, 17), **kw: object
) -> PatientInput:
    return PatientInput(
        patient_code=unique_code(),
        family_name=family,
        given_name=given,
        sex="female",
        birth_date=born,
        **kw,
    )  # type: ignore[arg-type]


def test_search_by_name_ignores_case_accents_and_typos(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        created = patients.create(s, person(family))
    plain = "lukasiewicz" + family[-6:]
    with clerk_db.session() as s:
        assert [p.id for p in patients.search(s, plain.upper())] == [created.id]
        assert [p.id for p in patients.search(s, family[:9])][:1] == [created.id]
        typo = plain.replace("siew", "siw")  # one letter missing
        assert created.id in [p.id for p in patients.search(s, typo)]
        assert created.id in [p.id for p in patients.search(s, f"{plain} zoe")]


def test_search_by_code_prefix_and_birth_date(clerk_db: Database, family: str) -> None:
    born = dt.date(1901, 2, 3)
    with clerk_db.session() as s:
        created = patients.create(s, person(family, born=born))
    with clerk_db.session() as s:
        assert created.id in [p.id for p in patients.search(s, created.patient_code[:5])]
        assert [p.id for p in patients.search(s, created.patient_code)] == [created.id]
        for typed in ("1901-02-03", "03.02.1901", "03/02/1901"):
            assert [p.id for p in patients.search(s, typed)] == [created.id]


def test_search_pages_and_empty_text(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        for i in range(7):
            patients.create(s, person(family, given=f"Anna{i}"))
    with clerk_db.session() as s:
        first = patients.search(s, family, limit=5)
        second = patients.search(s, family, offset=5, limit=5)
        assert patients.search(s, "   ") == []
    # Exact matches rank before similar names (other tests' Łukasiewicz* patients).
    ours = [p for p in first + second if p.family_name == family]
    assert len(first) == 5 and len(ours) == 7 and first + second[:2] == ours
    assert not {p.id for p in first} & {p.id for p in second}


def test_create_update_and_conflict(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        mine = patients.create(s, person(family, phone="  "))
    assert mine.version == 1 and mine.phone is None and mine.created_by == "t_clerk"
    theirs_input = mine.as_input()
    with clerk_db.session() as s:
        theirs = patients.update(
            s, mine.id, mine.version, PatientInput(**{**theirs_input.__dict__, "phone": "111"})
        )
    assert theirs.version == 2
    with pytest.raises(StaleRecord) as stale, clerk_db.session() as s:
        patients.update(
            s, mine.id, mine.version, PatientInput(**{**theirs_input.__dict__, "phone": "222"})
        )
    assert stale.value.theirs.phone == "111" and stale.value.theirs.version == 2
    with clerk_db.session() as s:  # Overwrite: save again on top of their version
        final = patients.update(
            s,
            mine.id,
            stale.value.theirs.version,
            PatientInput(**{**theirs_input.__dict__, "phone": "222"}),
        )
        assert patients.get(s, mine.id).phone == "222" and final.version == 3


def test_possible_duplicates(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        existing = patients.create(s, person(family, given="Émilie"))
    with clerk_db.session() as s:
        same = patients.possible_duplicates(s, person(family, given="Emilie"))
        other_day = patients.possible_duplicates(
            s, person(family, given="Emilie", born=dt.date(1960, 6, 17))
        )
        unrelated = patients.possible_duplicates(
            s, person("Zzyzx" + family, given="Q", born=dt.date(1931, 1, 1))
        )
        excluded = patients.possible_duplicates(s, existing.as_input(), exclude_id=existing.id)
    assert existing.id in [p.id for p in same]
    assert existing.id in [p.id for p in other_day]  # same name, other birth date
    assert unrelated == [] and existing.id not in [p.id for p in excluded]


def test_find_by_code(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        created = patients.create(s, person(family))
        assert patients.find_by_code(s, created.patient_code) == created
        assert patients.find_by_code(s, "0000000-0") is None


def test_listener_hears_changes_and_broadcasts(
    db: PgDatabase, clerk_db: Database, family: str
) -> None:
    changes: list[dict[str, object]] = []
    messages: list[str] = []
    got = threading.Event()

    def on_change(payload: dict[str, object]) -> None:
        changes.append(payload)
        got.set()

    listener = Listener(
        config_for(db),
        Credentials("t_clinician", STAFF_PASSWORD),
        on_change=on_change,
        on_broadcast=messages.append,
    )
    listener.start()
    try:
        assert listener.connected.wait(10)
        with clerk_db.session() as s:
            created = patients.create(s, person(family))
            s.execute(
                sa.text("SELECT pg_notify(:c, 'maintenance at 18:00')"),
                {"c": BROADCAST_CHANNEL},
            )
        assert got.wait(5)
    finally:
        listener.stop()
    assert {"table": "patient", "op": "INSERT", "key": str(created.id)} in changes
    assert messages == ["maintenance at 18:00"]
    assert json.dumps(changes)  # payloads are plain JSON


def test_problem_report_is_stamped_by_the_server(db: PgDatabase, clerk_db: Database) -> None:
    with clerk_db.session() as s:
        about.report_problem(
            s, description="Search is slow", client_version="0.1", log_tail="line 1\nline 2"
        )
    admin = Database(config_for(db), Credentials("t_admin", STAFF_PASSWORD))
    with admin.session() as s:
        reports = about.list_problems(s)
        facts = about.server_facts(s)
    admin.close()
    assert reports[0].reported_by == "t_clerk" and reports[0].description == "Search is slow"
    assert facts.user == "t_admin" and facts.schema_revision


def test_open_chart_logs_the_access_in_the_same_session(
    clerk_db: Database, family: str, admin_engine: sa.Engine
) -> None:
    with clerk_db.session() as s:
        created = patients.create(s, person(family))
    with clerk_db.session() as s:
        assert patients.open_chart(s, created.id) == created
    with admin_engine.connect() as conn:
        who = (
            conn.execute(
                sa.text("SELECT session_user_name FROM audit.chart_access WHERE patient_id = :p"),
                {"p": created.id},
            )
            .scalars()
            .all()
        )
    assert who == ["t_clerk"]
    with pytest.raises(patients.NotFound), clerk_db.session() as s:
        patients.open_chart(s, -1)


def test_check_new_reports_taken_id_and_duplicates(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        existing = patients.create(s, person(family, given="Émilie"))
    with clerk_db.session() as s:
        same_id = patients.check_new(
            s, replace(person("Other" + family), patient_code=existing.patient_code)
        )
        similar = patients.check_new(s, person(family, given="Emilie"))
        fresh = patients.check_new(s, person("Zzyzx" + family, born=dt.date(1931, 1, 1)))
    assert same_id.code_taken_by is not None and same_id.code_taken_by.id == existing.id
    assert similar.code_taken_by is None and existing.id in [p.id for p in similar.duplicates]
    assert fresh == patients.NewPatientCheck(code_taken_by=None, duplicates=())


def test_rejected_field_names_the_field(clerk_db: Database, family: str) -> None:
    with clerk_db.session() as s:
        existing = patients.create(s, person(family))
    with pytest.raises(sa.exc.IntegrityError) as taken, clerk_db.session() as s:
        patients.create(s, replace(person(family), patient_code=existing.patient_code))
    assert patients.rejected_field(taken.value) == (
        "patient_code",
        "This patient ID is already used by another patient.",
    )
    with pytest.raises(sa.exc.IntegrityError) as future, clerk_db.session() as s:
        patients.create(s, person(family, born=dt.date.today() + dt.timedelta(days=2)))
    assert patients.rejected_field(future.value) == (
        "birth_date",
        "The date of birth cannot be in the future.",
    )
    assert patients.rejected_field(ValueError("no database error")) is None


def test_constraint_fields_name_real_constraints(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as conn:
        names = set(
            conn.execute(
                sa.text(
                    "SELECT conname FROM pg_constraint WHERE conrelid = 'phms.patient'::regclass"
                )
            ).scalars()
        )
    raised_by_trigger = {
        "ck_patient_patient_code_format",
        "ck_patient_birth_date_not_future",
        "ck_patient_deceased_date_not_future",
    }
    assert set(patients.CONSTRAINT_FIELDS) - raised_by_trigger <= names
    fields = {f for f, _ in patients.CONSTRAINT_FIELDS.values()}
    assert fields <= set(PatientInput.__dataclass_fields__)
