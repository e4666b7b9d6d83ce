"""Alembic environment of the registry's own database (schema ``registry``).

Separate from PHMS's migrations: its own script folder, its version table in
``registry.alembic_version``. The URL comes from the ``url`` attribute set by
``phms_registry.dbmigrate`` or ``PHMS_REGISTRY_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool, text

config = context.config
SCHEMA = "registry"


def database_url() -> str:
    url = config.attributes.get("url") or os.environ.get("PHMS_REGISTRY_DATABASE_URL")
    if not url:
        raise SystemExit("No registry database given: set PHMS_REGISTRY_DATABASE_URL.")
    url = str(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SET lock_timeout = '10s'"))
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=None,
            version_table_schema=SCHEMA,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
