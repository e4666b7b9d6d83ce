"""The staging mark of a database, as phms-admin reads and writes it.

The mark is the database-level setting ``phms.environment = 'staging'``
(:mod:`phms_schema.environment`). Backups refuse a marked database, and PHMS
never replaces or drops a database that does not carry it.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from phms_admin.connection import CommandError
from phms_schema.environment import GUC, IS_STAGING_SQL, STAGING, refusal

Conn = psycopg.Connection[tuple[Any, ...]]

_MARKED = f"""SELECT d.datname, shobj_description(d.oid, 'pg_database')
  FROM pg_database d JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0
 WHERE s.setconfig @> ARRAY['{GUC}={STAGING}']"""


def is_staging(conn: Conn) -> bool:
    """Is the database ``conn`` is connected to a staging copy?"""
    row = conn.execute(f"SELECT {IS_STAGING_SQL}").fetchone()
    return bool(row and row[0])


def refuse_on_staging(conn: Conn, what: str, advice: str = "") -> None:
    if is_staging(conn):
        row = conn.execute("SELECT current_database()").fetchone()
        database = str(row[0]) if row else "?"
        raise CommandError(refusal(what, database) + (f" {advice}" if advice else ""))


def marked_databases(conn: Conn) -> dict[str, str]:
    """Staging copies on ``conn``'s server: name -> the comment written when made."""
    return {str(name): str(comment or "") for name, comment in conn.execute(_MARKED).fetchall()}


def is_marked(conn: Conn, database: str) -> bool:
    return database in marked_databases(conn)


def mark(conn: Conn, database: str, comment: str) -> None:
    """Write the mark (and a comment saying what the copy is) on ``database``."""
    db = sql.Identifier(database)
    conn.execute(
        sql.SQL("ALTER DATABASE {} SET {} = {}").format(db, sql.SQL(GUC), sql.Literal(STAGING))
    )
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(db, sql.Literal(comment)))
