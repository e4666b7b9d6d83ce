"""Alembic environment for PHMS: hardened for a live clinic database.

- The URL comes from ``-x url=...``, the ``url`` attribute set by phms-admin, or
  ``PHMS_DATABASE_URL``; never from a password written in alembic.ini.
- A transaction-level advisory lock makes a second concurrent migration wait
  (up to the lock timeout) instead of racing the first.
- TCP keepalives notice a dead link in about 30 s, not TCP's two hours.
- lock_timeout / statement_timeout keep a migration from hanging behind a
  forgotten open transaction on a workstation, or from blocking the clinic.
- compare_type / compare_server_default so ``alembic check`` finds real drift.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool, text

from migrations.env_lock import MIGRATION_LOCK_KEY
from phms_schema import Base
from phms_schema.base import SCHEMA

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.attributes.get("url")
        or os.environ.get("PHMS_DATABASE_URL")
    )
    if not url:
        raise SystemExit(
            "No database given: set PHMS_DATABASE_URL or pass -x url=postgresql+psycopg://..."
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return str(url)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # Only our schema is managed by the models; audit and public are pure SQL.
    if type_ == "schema":
        return name == SCHEMA
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_schemas=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(
        database_url(),
        poolclass=pool.NullPool,
        connect_args={
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 30_000,
        },
    )
    clock = config.attributes.get("step_clock")
    with engine.connect() as connection:
        lock_timeout = str(config.attributes.get("lock_timeout", "10s"))
        connection.execute(
            text("SELECT set_config('lock_timeout', :t, false)"), {"t": lock_timeout}
        )
        connection.execute(text("SET statement_timeout = '15min'"))
        connection.execute(text("SET idle_in_transaction_session_timeout = '0'"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
            compare_server_default=True,
            transaction_per_migration=False,
            # phms-admin db upgrade times each migration (phms_admin.upgrade_report).
            on_version_apply=clock,
        )
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            if clock is not None:
                clock.start()  # after the lock: waiting for it is no migration's time
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
