"""A database of its own for the report, Error Check and registry tests.

Statistics and outlier checks look at every row of a table, so these tests use a
freshly migrated database (not the shared one other tests fill) and know exactly
what is in it. The staff logins are cluster-wide roles, created by the ``db``
fixture, so they work here too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from phms_admin import embedded, migrate
from tests.db.clinical_data import insert
from tests.harness import PgDatabase, create_database, unique_code


@contextmanager
def migrated_database(server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    database = PgDatabase(server, f"phms_rep_{uuid.uuid4().hex[:10]}")
    create_database(server, database.name)
    try:
        migrate.upgrade(database.admin_url)
        yield database
    finally:
        engine = sa.create_engine(
            server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{database.name}" WITH (FORCE)'))
        engine.dispose()


def add_person(conn: sa.Connection, **values: Any) -> sa.RowMapping:
    """A patient with every demographic field filled (override any of them)."""
    row = {
        "patient_code": unique_code(),
        "family_name": "Test",
        "given_name": "Person",
        "sex": "female",
        "birth_date": dt.date(1965, 3, 14),
        "phone": None,
        "email": None,
        "address": None,
        "ph_group": None,
        "ph_subtype": None,
    }
    row.update(values)
    return insert(conn, "patient", **row)
