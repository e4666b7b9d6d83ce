"""Is this database a staging copy? Read at login; checked before registry exports.

See :mod:`phms_schema.environment` for how a staging copy is marked.
"""

from __future__ import annotations

import sqlalchemy as sa

from phms_schema.environment import IS_STAGING_SQL, refusal

_QUERY = sa.text(f"SELECT {IS_STAGING_SQL}, current_database()")


class OnStaging(Exception):
    """An action meant for the clinic's live data was tried on a staging copy."""


def is_staging(conn: sa.Connection | sa.orm.Session) -> bool:
    row = conn.execute(_QUERY).one()
    return bool(row[0])


def refuse_on_staging(conn: sa.Connection | sa.orm.Session, what: str) -> None:
    """Raise :class:`OnStaging` (with a message for people) on a staging copy."""
    staging, database = conn.execute(_QUERY).one()
    if staging:
        raise OnStaging(refusal(what, str(database)))
