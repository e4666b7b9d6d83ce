"""Small makers for the clinical database tests: plain SQL, as a real staff login."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tests.harness import unique_code

TODAY = dt.date.today()
YEAR_AGO = TODAY - dt.timedelta(days=365)


def add_patient(
    conn: sa.Connection, *, sex: str = "male", birth_date: dt.date = dt.date(1960, 5, 1)
) -> int:
    return int(
        conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date)"
                " VALUES (:c, 'Test', 'Clinical', :s, :b) RETURNING id"
            ),
            {"c": unique_code(), "s": sex, "b": birth_date},
        ).scalar_one()
    )


def insert(conn: sa.Connection, table: str, **values: Any) -> sa.RowMapping:
    """INSERT one row into ``phms.<table>`` and return it as stored (with derived values)."""
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    return (
        conn.execute(
            sa.text(f"INSERT INTO phms.{table} ({columns}) VALUES ({params}) RETURNING *"), values
        )
        .mappings()
        .one()
    )


def update(conn: sa.Connection, table: str, row_id: int, **values: Any) -> sa.RowMapping:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    return (
        conn.execute(
            sa.text(f"UPDATE phms.{table} SET {sets} WHERE id = :row_id RETURNING *"),
            {**values, "row_id": row_id},
        )
        .mappings()
        .one()
    )


def rejected(conn: sa.Connection, constraint: str | None = None) -> Any:
    """Context: the statement inside fails with an integrity error (naming ``constraint``);
    the connection's transaction goes on (a savepoint is rolled back)."""
    return _Rejected(conn, constraint)


class _Rejected:
    def __init__(self, conn: sa.Connection, constraint: str | None) -> None:
        self.conn = conn
        self.constraint = constraint

    def __enter__(self) -> None:
        self.savepoint = self.conn.begin_nested()
        self.raises = pytest.raises(sa.exc.IntegrityError)
        self.info = self.raises.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        try:
            handled = bool(self.raises.__exit__(*exc))
        finally:
            self.savepoint.rollback()
        if not handled:  # another kind of error: let it through
            return False
        orig = self.info.value.orig
        assert isinstance(orig, psycopg.errors.IntegrityError)
        if self.constraint is not None:
            assert orig.diag.constraint_name == self.constraint, (
                orig.diag.constraint_name,
                orig.diag.message_primary,
            )
        return handled
