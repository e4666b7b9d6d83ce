"""Staff accounts: each staff member is a PostgreSQL LOGIN role in one group.

All changes go through the database's SECURITY DEFINER functions
(``phms.staff_*``), which check the caller's rights and audit every action.
The password is turned into a SCRAM verifier on this side of the connection,
so the plain password never reaches the server, its logs or the audit trail.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

import sqlalchemy as sa

from phms_schema.roles import GROUPS

GROUP_OF_ROLE = {role: short for short, role in GROUPS.items()}


class PasswordPolicyError(ValueError):
    """The password does not meet the site's policy; the message says why."""


@dataclass(frozen=True)
class StaffMember:
    name: str
    group: str
    enabled: bool


def _pgconn(conn: sa.Connection):  # type: ignore[no-untyped-def]
    return conn.connection.driver_connection.pgconn  # type: ignore[union-attr]


def scram_verifier(conn: sa.Connection, name: str, password: str) -> str:
    raw = _pgconn(conn).encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    return bytes(raw).decode()


def min_password_length(conn: sa.Connection) -> int:
    value = conn.execute(
        sa.text("SELECT value FROM phms.setting WHERE key = 'password_min_length'")
    ).scalar()
    return int(value) if value is not None else 12


def check_password(conn: sa.Connection, password: str) -> None:
    minimum = min_password_length(conn)
    if len(password) < minimum:
        raise PasswordPolicyError(
            f"The password is too short: it needs at least {minimum} characters."
        )


def generate_password(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(max(length, 12)))


def _group_role(group: str) -> str:
    try:
        return GROUPS[group]
    except KeyError:
        raise ValueError(f"Unknown group {group!r}; choose one of: {', '.join(GROUPS)}") from None


def create(conn: sa.Connection, name: str, group: str, password: str) -> None:
    check_password(conn, password)
    conn.execute(
        sa.text("SELECT phms.staff_create(:n, :g, :v)"),
        {"n": name, "g": _group_role(group), "v": scram_verifier(conn, name, password)},
    )


def set_enabled(conn: sa.Connection, name: str, enabled: bool) -> None:
    conn.execute(sa.text("SELECT phms.staff_set_enabled(:n, :e)"), {"n": name, "e": enabled})


def reset_password(conn: sa.Connection, name: str, password: str) -> None:
    check_password(conn, password)
    conn.execute(
        sa.text("SELECT phms.staff_set_password(:n, :v)"),
        {"n": name, "v": scram_verifier(conn, name, password)},
    )


def change_own_password(conn: sa.Connection, user: str, password: str) -> None:
    """The logged-in person sets a new password (clears a forced change)."""
    check_password(conn, password)
    conn.execute(
        sa.text("SELECT phms.change_own_password(:v)"),
        {"v": scram_verifier(conn, user, password)},
    )


def set_group(conn: sa.Connection, name: str, group: str) -> None:
    conn.execute(
        sa.text("SELECT phms.staff_set_group(:n, :g)"), {"n": name, "g": _group_role(group)}
    )


def list_staff(conn: sa.Connection) -> list[StaffMember]:
    rows = conn.execute(
        sa.text("SELECT name, group_role, enabled FROM phms.staff ORDER BY name")
    ).all()
    return [StaffMember(r.name, GROUP_OF_ROLE[r.group_role], r.enabled) for r in rows]
