"""Logging in: connect as the staff member, pass the schema gate, learn the group.

Everything the login needs from the server after connecting (who, the server's
version, the schema revision, the staff group, whether the password must be
changed, the site settings with the compatibility window, whether the database is a
staging copy) comes from **one** statement, sent without BEGIN/COMMIT: one round
trip after the connection is set up (docs/client-session.md, "Logging in"). It needs
only objects that every revision from ``OLDEST_SCHEMA`` on has. When it fails for
want of an object or a right (an empty or very old database, a login that is no
staff account), the login asks again step by step, so that the refusal says exactly
what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database, statement_alone
from phms_client.db.environment import is_staging
from phms_client.db.errors import NotStaff
from phms_client.db.gate import (
    ClientRelease,
    Window,
    check_revision,
    check_window,
    database_revision,
    this_release,
)
from phms_client.db.site_settings import SiteSettings, load_settings
from phms_schema.environment import IS_STAGING_SQL
from phms_schema.roles import GROUPS


@dataclass(frozen=True)
class LoginInfo:
    """Who is logged in, and what the server said at login."""

    user: str
    group: str
    server_version: str
    schema_revision: str
    settings: SiteSettings
    #: New account, or an admin reset the password: choose a new one before working.
    must_change_password: bool = False
    #: The database is a staging copy (phms_schema.environment): every window says so.
    staging: bool = False


_GROUP_NAMES = ", ".join(f"'{g}'" for g in GROUPS.values())

# Staff groups granted directly (superusers are never staff).
_DIRECT_GROUPS_FROM = (
    "FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
    "JOIN pg_catalog.pg_roles r ON r.oid = m.member "
    f"WHERE r.rolname = session_user AND NOT r.rolsuper AND g.rolname IN ({_GROUP_NAMES})"
)
_DIRECT_GROUPS = sa.text(f"SELECT g.rolname {_DIRECT_GROUPS_FROM}")

#: The whole login in one statement (no parameters: nothing to prepare or bind).
LOGIN_STATEMENT = sa.text(
    "SELECT session_user AS login_name,"
    " current_setting('server_version') AS server_version,"
    " (SELECT version_num FROM public.alembic_version) AS revision,"
    f" ARRAY(SELECT g.rolname::text {_DIRECT_GROUPS_FROM}) AS groups,"
    " phms.must_change_password() AS must_change,"
    " (SELECT json_object_agg(s.key, s.value) FROM phms.setting s) AS settings,"
    f" {IS_STAGING_SQL} AS staging"
)


def _group(roles: set[str]) -> str | None:
    for short in ("admin", "clinician", "auditor", "clerk"):
        if GROUPS[short] in roles:
            return short
    return None


def group_of(conn: sa.orm.Session | sa.Connection) -> str | None:
    """The login's staff group (directly granted; superusers are never staff)."""
    return _group(set(conn.execute(_DIRECT_GROUPS).scalars()))


def _settings(values: Mapping[str, Any] | None) -> SiteSettings:
    return SiteSettings(MappingProxyType(dict(values or {})))


def open_session(db: Database, release: ClientRelease | None = None) -> LoginInfo:
    """Verify the connection, the schema window and the account; raises on any problem:
    :class:`~phms_client.db.errors.SchemaMismatch`,
    :class:`~phms_client.db.errors.ClientTooOld`, :class:`NotStaff`, or the database's
    own error (wrong password, unreachable...)."""
    release = release or this_release()
    try:
        with db.session() as s, statement_alone(s):
            row = s.execute(LOGIN_STATEMENT).one()
    except sa.exc.ProgrammingError:  # a missing object or right: say which, step by step
        return _open_step_by_step(db, release)
    group = _group(set(row.groups))
    if group is None:
        raise NotStaff(str(row.login_name))
    settings = _settings(row.settings)
    revision = check_window(Window.from_settings(row.revision, settings.values), release)
    return LoginInfo(
        str(row.login_name),
        group,
        str(row.server_version),
        revision,
        settings,
        bool(row.must_change),
        bool(row.staging),
    )


def _open_step_by_step(db: Database, release: ClientRelease) -> LoginInfo:
    with db.session() as s:
        user = str(s.execute(sa.text("SELECT session_user")).scalar())
        group = group_of(s)  # (the catalog only: any login may read it)
        if group is None:
            raise NotStaff(user)
        revision = database_revision(s)
        check_revision(revision, release)  # before reading tables it may not have
        settings = load_settings(s)
        check_window(Window.from_settings(revision, settings.values), release)
        version = str(s.execute(sa.text("SHOW server_version")).scalar())
        must_change = bool(s.execute(sa.text("SELECT phms.must_change_password()")).scalar())
        staging = is_staging(s)
    return LoginInfo(user, group, version, str(revision), settings, must_change, staging)


def login(
    config: ClientConfig, user: str, password: str, release: ClientRelease | None = None
) -> tuple[Database, LoginInfo]:
    db = Database(config, Credentials(user, password))
    try:
        return db, open_session(db, release)
    except BaseException:
        db.close()
        raise
