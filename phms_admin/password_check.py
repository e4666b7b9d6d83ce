"""Which staff passwords were set outside PHMS (``phms-admin user password-check``).

Every password PHMS sets (new login, admin reset, own change) leaves the SHA-256
of its SCRAM verifier in the audit trail. A login that set its own password with
plain ``ALTER ROLE`` left no audit row, and its verifier no longer matches: the
server did not see that password and so could not check its length. Reading the
verifiers needs the database superuser (``pg_authid``), so this runs on the server.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import sqlalchemy as sa

from phms_schema import ddl_trust


class Origin(enum.Enum):
    PHMS = "set through PHMS"
    OUTSIDE = "SET OUTSIDE PHMS"
    UNKNOWN = "unknown (set before PHMS kept fingerprints)"
    NONE = "no password"


@dataclass(frozen=True)
class PasswordState:
    name: str
    origin: Origin
    #: The last password event PHMS recorded: when, what, by whom.
    last_at: dt.datetime | None
    last_event: str | None
    last_by: str | None


_QUERY = f"""
SELECT s.name, a.rolpassword IS NULL AS no_password,
       {ddl_trust.fingerprint("a.rolpassword")} AS current,
       e.new_values ->> '{ddl_trust.FINGERPRINT_KEY}' AS recorded,
       e.at, e.operation, e.session_user_name
  FROM (SELECT DISTINCT name FROM phms.staff) s
  JOIN pg_catalog.pg_authid a ON a.rolname = s.name
  LEFT JOIN LATERAL (
    SELECT ev.new_values, ev.at, ev.operation, ev.session_user_name
      FROM audit.event ev
     WHERE ev.table_name = 'staff' AND ev.row_key = s.name
       AND ev.operation = ANY (CAST(:events AS text[]))
     ORDER BY ev.id DESC LIMIT 1) e ON true
 ORDER BY s.name
"""


class NeedsSuperuser(Exception):
    """The verifiers are readable only by the database superuser."""


def password_states(conn: sa.Connection) -> list[PasswordState]:
    superuser = sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not conn.execute(superuser).scalar():
        raise NeedsSuperuser(
            "Checking passwords reads the logins' password verifiers, which only the "
            "database superuser may read: run this on the server with the superuser's URL."
        )
    rows = conn.execute(sa.text(_QUERY), {"events": list(ddl_trust.PASSWORD_EVENTS)}).all()
    states = []
    for r in rows:
        if r.no_password:
            origin = Origin.NONE
        elif r.recorded is None:
            origin = Origin.UNKNOWN
        elif r.recorded == r.current:
            origin = Origin.PHMS
        else:
            origin = Origin.OUTSIDE
        states.append(PasswordState(r.name, origin, r.at, r.operation, r.session_user_name))
    return states
