"""Shared test helpers: the test database handle and small data makers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from phms_admin import embedded

STAFF_PASSWORD = "correct-horse-battery"
STAFF = {"t_clerk": "clerk", "t_clinician": "clinician", "t_admin": "admin", "t_auditor": "auditor"}


@dataclass(frozen=True)
class PgDatabase:
    server: embedded.ServerInfo
    name: str

    @property
    def admin_url(self) -> str:
        """Superuser URL (IT's migration login)."""
        return self.server.url(self.name)

    def url_for(self, user: str, password: str = STAFF_PASSWORD) -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.server.port}/{self.name}"

    def engine_for(self, user: str, password: str = STAFF_PASSWORD) -> sa.Engine:
        return sa.create_engine(self.url_for(user, password), poolclass=sa.pool.NullPool)


def create_database(server: embedded.ServerInfo, name: str) -> None:
    engine = sa.create_engine(
        server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def unique_code() -> str:
    """A fresh patient ID in the default format NNNNNNN-N."""
    n = uuid.uuid4().int % 10**8
    return f"{n // 10:07d}-{n % 10}"
