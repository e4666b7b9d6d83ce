"""Which copy of the clinic a database is: the live one, or a staging copy.

A staging copy (``phms-admin staging create``) carries the mark in the database
itself, as a database-level setting written after the restore::

    ALTER DATABASE phms_staging SET phms.environment = 'staging'

Every new session of every login sees it (``current_setting``), so any client
learns it at login; and it is not part of a dump's data (``pg_restore`` without
``--create`` does not replay database settings), so restoring a production
backup can never carry the mark by accident. The live database has no such
setting.

:data:`IS_STAGING_SQL` is the one expression that answers the question: the
session's value, or the database's own setting in the catalog (so a login that
overrode the setting for itself still cannot make a staging copy look live to
``phms-admin``).
"""

from __future__ import annotations

from typing import Final

#: The setting (a custom ``phms.*`` placeholder, readable by every login).
GUC: Final = "phms.environment"
#: Its value on a staging copy.
STAGING: Final = "staging"

#: A boolean SQL expression, true on a staging copy; usable in any SELECT list.
IS_STAGING_SQL: Final = (
    f"(coalesce(current_setting('{GUC}', true), '') = '{STAGING}' OR EXISTS ("
    "SELECT FROM pg_catalog.pg_db_role_setting s "
    "JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
    "WHERE d.datname = current_database() AND s.setrole = 0 "
    f"AND s.setconfig @> ARRAY['{GUC}={STAGING}']))"
)

#: What the client shows on every window of a staging copy.
BAND_TEXT: Final = "STAGING — not the clinic's live data"

#: The prefix of every window title on a staging copy.
TITLE_PREFIX: Final = "[STAGING] "


def refusal(what: str, database: str) -> str:
    """The message of an action refused on a staging copy (backup, registry export…)."""
    return (
        f"{what} is refused: the database {database!r} is a STAGING copy, not the "
        "clinic's live data (it carries the setting "
        f"{GUC} = '{STAGING}'). Run it against the live database instead."
    )
