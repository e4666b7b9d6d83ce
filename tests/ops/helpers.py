"""Helpers for the operations tests: run phms-admin, make a small clinic, read counts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from phms_admin import demo
from phms_admin.cli import main
from phms_client.services import staff
from tests.harness import PgDatabase


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run phms-admin in this process; its exit status, stdout and stderr."""
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def fill_clinic(database: PgDatabase, patients: int = 40) -> None:
    """Patients, an edit, chart accesses and thus audit rows, as a day at the clinic makes."""
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        demo.load(conn, patients, seed=7)
        conn.execute(sa.text("UPDATE phms.patient SET phone = '+44 20 0000 0000' WHERE id % 5 = 0"))
        for pid in conn.execute(sa.text("SELECT id FROM phms.patient LIMIT 3")).scalars():
            conn.execute(sa.text("SELECT phms.log_chart_access(:p)"), {"p": pid})
    engine.dispose()


def live_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT schemaname || '.' || tablename FROM pg_tables "
                "WHERE schemaname IN ('phms', 'audit', 'public') ORDER BY 1"
            )
        ).scalars()
        counts = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables
        }
    engine.dispose()
    return counts


def patients_digest(url: str) -> str:
    """One hash over every patient row, to compare a restore with its original."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        digest = conn.execute(
            sa.text("SELECT md5(string_agg(p::text, '|' ORDER BY p.id)) FROM phms.patient p")
        ).scalar_one()
    engine.dispose()
    return str(digest)


def database_names(database: PgDatabase) -> set[str]:
    engine = sa.create_engine(database.server.url("postgres"), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    engine.dispose()
    return names


def drop_database(database: PgDatabase, name: str) -> None:
    engine = sa.create_engine(
        database.server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def new_login(database: PgDatabase, group: str, password: str) -> str:
    """A staff login with a unique name (roles are server-wide and outlive a database)."""
    name = f"x_{group[:4]}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        staff.create(conn, name, group, password)
    engine.dispose()
    return name


def drop_role(database: PgDatabase, name: str) -> None:
    engine = sa.create_engine(
        database.server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
    engine.dispose()


def only_backup(dest: Path) -> Path:
    found = [p for p in dest.iterdir() if p.name.startswith("phms-")]
    assert len(found) == 1, found
    return found[0]
