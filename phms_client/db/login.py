"""Logging in: connect as the staff member, pass the schema gate, learn the group."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database
from phms_client.db.errors import NotStaff
from phms_client.db.gate import check_schema
from phms_client.db.site_settings import SiteSettings, load_settings
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


_DIRECT_GROUPS = sa.text(
    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
    "JOIN pg_roles r ON r.oid = m.member "
    "WHERE r.rolname = session_user AND NOT r.rolsuper AND g.rolname = ANY(:groups)"
)


def group_of(conn: sa.orm.Session | sa.Connection) -> str | None:
    """The login's staff group (directly granted; superusers are never staff)."""
    roles = set(conn.execute(_DIRECT_GROUPS, {"groups": list(GROUPS.values())}).scalars())
    for short in ("admin", "clinician", "auditor", "clerk"):
        if GROUPS[short] in roles:
            return short
    return None


def open_session(db: Database) -> LoginInfo:
    """Verify the connection, the schema and the account; raises on any problem."""
    with db.session() as s:
        revision = check_schema(s)
        user = str(s.execute(sa.text("SELECT session_user")).scalar())
        group = group_of(s)
        if group is None:
            raise NotStaff(user)
        version = str(s.execute(sa.text("SHOW server_version")).scalar())
        settings = load_settings(s)
        must_change = bool(s.execute(sa.text("SELECT phms.must_change_password()")).scalar())
    return LoginInfo(user, group, version, revision, settings, must_change)


def login(config: ClientConfig, user: str, password: str) -> tuple[Database, LoginInfo]:
    db = Database(config, Credentials(user, password))
    try:
        return db, open_session(db)
    except BaseException:
        db.close()
        raise
