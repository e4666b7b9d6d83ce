"""Shared test helpers: the test database handle, private servers and small data makers."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from phms_admin import embedded, migrate
from phms_client.services import staff

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


@contextmanager
def embedded_server(prefix: str) -> Iterator[embedded.ServerInfo]:
    """A running embedded PostgreSQL server in a temporary folder, removed afterwards.

    Not under pytest's basetemp: pytest keeps that folder private (0700), and as
    root the server runs as its own system user, who must reach its data.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    data_dir = base / "data"
    info = embedded.initdb(data_dir, port=None, listen="127.0.0.1")
    embedded.start(data_dir)
    try:
        yield info
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def own_server(
    prefix: str, name: str, logins: Mapping[str, str], *, passwords_chosen: bool = False
) -> Iterator[PgDatabase]:
    """A server of the test's own (which it may stop and start again) with a migrated
    database ``name`` and ``logins`` (user -> group, password :data:`STAFF_PASSWORD`).

    ``passwords_chosen``: the logins are not asked to change their password at login.
    """
    with embedded_server(prefix) as info:
        database = PgDatabase(info, name)
        create_database(info, database.name)
        migrate.upgrade(database.admin_url)
        engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            for user, group in logins.items():
                staff.create(conn, user, group, STAFF_PASSWORD)
                if passwords_chosen:
                    conn.execute(
                        sa.text(
                            "INSERT INTO phms.staff_account (name, must_change_password) "
                            "VALUES (:name, false)"
                        ),
                        {"name": user},
                    )
        engine.dispose()
        yield database


@contextmanager
def settings_restored(admin_engine: sa.Engine) -> Iterator[None]:
    """Put every site setting back as it was (other tests expect the defaults)."""
    with admin_engine.connect() as conn:
        before = {
            r.key: r.value for r in conn.execute(sa.text("SELECT key, value FROM phms.setting"))
        }
    try:
        yield
    finally:
        with admin_engine.begin() as conn:
            for key, value in before.items():
                conn.execute(
                    sa.text(
                        "UPDATE phms.setting SET value = CAST(:v AS jsonb) "
                        "WHERE key = :k AND value <> CAST(:v AS jsonb)"
                    ),
                    {"k": key, "v": json.dumps(value)},
                )


def unique_code() -> str:
    """A fresh patient ID in the default format NNNNNNN-N."""
    n = uuid.uuid4().int % 10**8
    return f"{n // 10:07d}-{n % 10}"
