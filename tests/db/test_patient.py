"""The patient table: constraints, database-owned stamps, versions, search."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from phms_schema import Patient
from phms_schema.roles import CHANGE_CHANNEL
from tests.harness import PgDatabase, unique_code


@pytest.fixture
def clerk(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_clerk")
    yield engine
    engine.dispose()


def new_patient(**overrides: object) -> Patient:
    values: dict[str, object] = {
        "patient_code": unique_code(),
        "family_name": "Dvořák",
        "given_name": "Zoë",
        "sex": "female",
        "birth_date": dt.date(1958, 4, 12),
    }
    values.update(overrides)
    return Patient(**values)


BAD_VALUES = {
    "code too short": {"patient_code": "123456-7"},
    "code with letters": {"patient_code": "12A4567-8"},
    "code without dash": {"patient_code": "123456789"},
    "empty family name": {"family_name": "  "},
    "empty given name": {"given_name": ""},
    "unknown sex": {"sex": "x"},
    "unknown status": {"status": "gone"},
    "birth in the future": {"birth_date": dt.date.today() + dt.timedelta(days=1)},
    "birth before 1880": {"birth_date": dt.date(1879, 12, 31)},
    "PH group 6": {"ph_group": 6},
    "PH group 0": {"ph_group": 0},
    "deceased date while active": {"deceased_date": dt.date(2020, 1, 1)},
    "death before birth": {"status": "deceased", "deceased_date": dt.date(1950, 1, 1)},
    "missing family name": {"family_name": None},
}


@pytest.mark.parametrize("overrides", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_database_rejects(clerk: sa.Engine, overrides: dict[str, object]) -> None:
    with Session(clerk) as session, pytest.raises(sa.exc.IntegrityError) as info:
        session.add(new_patient(**overrides))
        session.flush()
    assert info.value.orig.sqlstate.startswith("23")  # type: ignore[union-attr]


def test_duplicate_patient_id_rejected(clerk: sa.Engine) -> None:
    code = unique_code()
    with Session(clerk) as session:
        session.add(new_patient(patient_code=code))
        session.commit()
    with Session(clerk) as session, pytest.raises(sa.exc.IntegrityError, match="uq_patient"):
        session.add(new_patient(patient_code=code))
        session.flush()


def test_stamps_and_version_belong_to_the_database(clerk: sa.Engine) -> None:
    with Session(clerk, expire_on_commit=False) as session:
        patient = new_patient()
        session.add(patient)
        session.commit()
        assert (patient.version, patient.created_by, patient.updated_by) == (
            1,
            "t_clerk",
            "t_clerk",
        )
        pid = patient.id
    with clerk.begin() as conn:  # a client that tries to forge them
        conn.execute(
            sa.text(
                "UPDATE phms.patient SET version = 99, created_by = 'someone', "
                "updated_by = 'someone' WHERE id = :i"
            ),
            {"i": pid},
        )
        row = conn.execute(
            sa.text("SELECT version, created_by, updated_by FROM phms.patient WHERE id = :i"),
            {"i": pid},
        ).one()
    assert tuple(row) == (2, "t_clerk", "t_clerk")


def test_stale_save_never_overwrites(clerk: sa.Engine) -> None:
    with Session(clerk) as s:
        p = new_patient()
        s.add(p)
        s.commit()
        pid = p.id
    first, second = Session(clerk), Session(clerk)
    mine, theirs = first.get_one(Patient, pid), second.get_one(Patient, pid)
    theirs.phone = "+44 1111 111"
    second.commit()
    mine.phone = "+44 2222 222"
    with pytest.raises(StaleDataError):
        first.commit()
    first.close()
    second.close()
    with Session(clerk) as s:
        assert s.get_one(Patient, pid).phone == "+44 1111 111"


def test_search_name_is_lower_case_and_accent_free(clerk: sa.Engine) -> None:
    with Session(clerk) as s:
        p = new_patient(family_name="ÇAĞLAR-Øster", given_name="Émilie")
        s.add(p)
        s.commit()
        assert p.search_name == "caglar-oster emilie"


def test_trigram_index_serves_name_search(clerk: sa.Engine) -> None:
    with clerk.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                sa.text(
                    "EXPLAIN SELECT id FROM phms.patient "
                    "WHERE search_name % phms.search_key('Dvorak')"
                )
            ).scalars()
        )
    assert "ix_patient_search_name_trgm" in plan


def test_site_id_format_is_read_from_settings(db: PgDatabase, clerk: sa.Engine) -> None:
    admin = db.engine_for("t_admin")
    with admin.begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.setting SET value = '\"AA-NNNN\"' WHERE key = 'patient_id_format'")
        )
    try:
        with Session(clerk) as s:
            s.add(new_patient(patient_code="XY-1234"))
            s.commit()
        with Session(clerk) as s, pytest.raises(sa.exc.IntegrityError, match="site format"):
            s.add(new_patient(patient_code=unique_code()))
            s.flush()
    finally:
        with admin.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE phms.setting SET value = '\"NNNNNNN-N\"' "
                    "WHERE key = 'patient_id_format'"
                )
            )
        admin.dispose()


def test_changes_are_notified(db: PgDatabase, clerk: sa.Engine) -> None:
    url = db.url_for("t_clinician").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANGE_CHANNEL}")
        with Session(clerk) as s:
            p = new_patient()
            s.add(p)
            s.commit()
            pid = p.id
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
    assert payloads == [{"table": "patient", "op": "INSERT", "key": str(pid)}]


SETTING_BAD = {
    "text for integer": ("idle_lock_minutes", '"fifteen"'),
    "fraction for integer": ("idle_lock_minutes", "1.5"),
    "number for boolean": ("remember_password_allowed", "1"),
}


@pytest.mark.parametrize(("key", "value"), SETTING_BAD.values(), ids=SETTING_BAD.keys())
def test_setting_value_must_match_its_type(db: PgDatabase, key: str, value: str) -> None:
    admin = db.engine_for("t_admin")
    with admin.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(
            sa.text("UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = :k"),
            {"v": value, "k": key},
        )
    admin.dispose()
