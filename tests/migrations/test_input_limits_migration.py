"""Migration 0011 on a database holding rows its new rules would refuse: nothing is lost."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from phms_admin import migrate
from phms_schema import SCHEMA_REVISION
from tests.harness import PgDatabase


def test_old_rows_that_break_a_new_rule_are_kept(fresh_database: PgDatabase) -> None:
    url = fresh_database.admin_url
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision("0011")
    assert before is not None and isinstance(before.down_revision, str)
    migrate.upgrade(url, before.down_revision)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    long_name = "W" * 300
    with engine.begin() as conn:
        pid = conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex,"
                " birth_date, email) VALUES ('1234567-8', :f, 'Old', 'female', '1950-01-01',"
                " 'old@example.org') RETURNING id"
            ),
            {"f": long_name},
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO phms.medication (patient_id, name, started_on)"
                " VALUES (:p, 'aspirin', '0001-01-01')"
            ),
            {"p": pid},
        )
    migrate.upgrade(url)
    with engine.begin() as conn:
        assert migrate.current_revision(conn) == SCHEMA_REVISION
        assert (
            conn.execute(
                sa.text("SELECT family_name FROM phms.patient WHERE id = :p"), {"p": pid}
            ).scalar_one()
            == long_name
        )
        unvalidated = set(
            conn.execute(
                sa.text(
                    "SELECT conname FROM pg_constraint k JOIN pg_namespace n"
                    " ON n.oid = k.connamespace WHERE n.nspname = 'phms' AND NOT convalidated"
                )
            ).scalars()
        )
        # Only the rules the old rows break stay unvalidated; the rest are validated.
        assert unvalidated == {"ck_patient_family_name_length", "ck_medication_started_on_bounds"}
        # The old row can still be read and other fields changed only with a valid name.
        with (
            pytest.raises(sa.exc.IntegrityError, match="ck_patient_family_name_length"),
            conn.begin_nested(),
        ):
            conn.execute(sa.text("UPDATE phms.patient SET phone = '123' WHERE id = :p"), {"p": pid})
        conn.execute(
            sa.text("UPDATE phms.patient SET family_name = 'Wood', phone = '123' WHERE id = :p"),
            {"p": pid},
        )
        # New rows are checked by every rule, validated or not.
        with (
            pytest.raises(sa.exc.IntegrityError, match="ck_medication_started_on"),
            conn.begin_nested(),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO phms.medication (patient_id, name, started_on)"
                    " VALUES (:p, 'aspirin', :d)"
                ),
                {"p": pid, "d": dt.date(1, 1, 1)},
            )
    engine.dispose()
    migrate.downgrade(url, before.down_revision)
    migrate.upgrade(url)
