"""Schema gate: this client only works with the schema revision it was built for.

Revision ids are sequential numbers ("0001", "0002", ...), so older and newer
can be told apart without the migration scripts.
"""

from __future__ import annotations

import sqlalchemy as sa

from phms_client.db.errors import SchemaMismatch
from phms_schema import SCHEMA_REVISION


def database_revision(conn: sa.Connection | sa.orm.Session) -> str | None:
    exists = conn.execute(sa.text("SELECT to_regclass('public.alembic_version')")).scalar()
    if exists is None:
        return None
    value = conn.execute(sa.text("SELECT version_num FROM public.alembic_version")).scalar()
    return None if value is None else str(value)


def is_older(database: str | None, client: str) -> bool | None:
    if database is None:
        return True
    try:
        return int(database) < int(client)
    except ValueError:
        return None


def check_schema(conn: sa.Connection | sa.orm.Session, client: str = SCHEMA_REVISION) -> str:
    """Return the database's revision, or raise SchemaMismatch."""
    found = database_revision(conn)
    if found != client:
        raise SchemaMismatch(found, client, database_is_older=is_older(found, client))
    return found
