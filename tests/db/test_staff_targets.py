"""The staff functions act on staff logins only (DESIGN rule 11).

An admin tries every staff function that takes a role name on every kind of role
that is not a staff login: the groups, the owner, the superuser, administration
roles, a role in two groups, in no group, in a group and another role, and a
role that is itself a group. Each is refused with a sentence naming the role and
the reason, and nothing changes; real staff logins still work.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from phms_client.services import staff
from phms_schema.roles import GROUPS, OWNER
from tests.harness import STAFF_PASSWORD, PgDatabase

# A well-formed SCRAM verifier (of no password anyone knows).
VERIFIER = "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy"

GROUP_REASON = "is a staff group, not a staff login"
ADMIN_REASON = "is a database administration role, not a staff login"

#: Role that is not a staff login -> the reason the database must give.
BAD_TARGETS = {
    **{group: GROUP_REASON for group in GROUPS.values()},
    OWNER: "owns the PHMS database objects",
    "postgres": ADMIN_REASON,
    "pg_read_all_data": ADMIN_REASON,
    "x_tb_super": ADMIN_REASON,  # superuser, also in phms_clerk
    "x_tb_creator": ADMIN_REASON,  # CREATEROLE, in phms_clerk
    "x_tb_bypass": ADMIN_REASON,  # BYPASSRLS, in phms_clerk
    "x_tb_two": "is in more than one staff group (phms_auditor, phms_clinician)",
    "x_tb_extra": "is also a member of pg_read_all_data",
    "x_tb_team": "is a group (other roles are members of it)",
    "x_tb_nogroup": 'No staff account "x_tb_nogroup" (it is in no staff group)',
    "x_tb_missing": 'No staff account "x_tb_missing"',
}

#: Roles the fixture makes (as the superuser), each with a password, able to log in.
MADE = {
    "x_tb_super": "SUPERUSER IN ROLE phms_clerk",
    "x_tb_creator": "CREATEROLE IN ROLE phms_clerk",
    "x_tb_bypass": "BYPASSRLS IN ROLE phms_clerk",
    "x_tb_two": "IN ROLE phms_clinician, phms_auditor",
    "x_tb_extra": "IN ROLE phms_clerk, pg_read_all_data",
    "x_tb_team": "IN ROLE phms_clinician",
    "x_tb_member": "IN ROLE x_tb_team",
    "x_tb_nogroup": "",
}

#: The staff functions that take a role name, as an admin calls them.
CALLS = {
    "staff_set_enabled(true)": "SELECT phms.staff_set_enabled(:n, true)",
    "staff_set_enabled(false)": "SELECT phms.staff_set_enabled(:n, false)",
    "staff_set_password": f"SELECT phms.staff_set_password(:n, '{VERIFIER}')",
    "staff_set_group": "SELECT phms.staff_set_group(:n, 'phms_auditor')",
}

CASES = [(call, target) for call in CALLS for target in BAD_TARGETS]


@pytest.fixture(scope="module")
def odd_roles(db: PgDatabase) -> Iterator[None]:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for name, options in MADE.items():
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN PASSWORD '{STAFF_PASSWORD}' {options}"))
    yield
    with engine.begin() as conn:
        for name in reversed(MADE):
            conn.execute(sa.text(f"DROP ROLE {name}"))
    engine.dispose()


@pytest.fixture(scope="module")
def admin(db: PgDatabase, odd_roles: None) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_admin")
    yield engine
    engine.dispose()


def _role_state(admin_engine: sa.Engine) -> list[tuple[object, ...]]:
    """Login right, password and memberships of every role but the test's staff."""
    with admin_engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT a.rolname, a.rolcanlogin, a.rolpassword, "
                    "  array(SELECT m.roleid::regrole::text FROM pg_auth_members m "
                    "        WHERE m.member = a.oid ORDER BY 1) "
                    "FROM pg_authid a WHERE a.rolname = ANY(:names) ORDER BY 1"
                ),
                {"names": list(BAD_TARGETS) + list(MADE)},
            )
        ]


@pytest.mark.parametrize(("call", "target"), CASES, ids=[f"{c}-{t}" for c, t in CASES])
def test_admin_cannot_use_a_staff_function_on_a_non_staff_role(
    admin: sa.Engine, admin_engine: sa.Engine, call: str, target: str
) -> None:
    before = _role_state(admin_engine)
    with admin.begin() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(CALLS[call]), {"n": target})
    error = info.value.orig
    assert isinstance(error, psycopg.errors.InvalidParameterValue | psycopg.errors.UndefinedObject)
    message = error.diag.message_primary or ""
    assert BAD_TARGETS[target] in message and target in message, message
    assert _role_state(admin_engine) == before


@pytest.mark.parametrize("target", [t for t in BAD_TARGETS if t != "x_tb_missing"])
def test_admin_cannot_create_a_login_named_like_an_existing_role(
    admin: sa.Engine, target: str
) -> None:
    with admin.begin() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(
            sa.text("SELECT phms.staff_create(:n, 'phms_clerk', :v)"), {"n": target, "v": VERIFIER}
        )
    message = info.value.orig.diag.message_primary or ""  # type: ignore[union-attr]
    assert "Invalid user name" in message or f'A user named "{target}" already exists' in message


def test_the_issues_examples_change_nothing(
    db: PgDatabase, admin: sa.Engine, admin_engine: sa.Engine
) -> None:
    """The three calls of the report: a group made a login, a group moved into another."""
    for sql in (
        f"SELECT phms.staff_set_password('phms_admin', '{VERIFIER}')",
        "SELECT phms.staff_set_enabled('phms_admin', true)",
        "SELECT phms.staff_set_group('phms_clinician', 'phms_auditor')",
    ):
        with admin.begin() as conn, pytest.raises(sa.exc.DBAPIError, match="staff group"):
            conn.execute(sa.text(sql))
    clinician = db.engine_for("t_clinician")
    with clinician.connect() as conn:
        assert not conn.execute(sa.text("SELECT pg_has_role('phms_auditor', 'MEMBER')")).scalar()
    clinician.dispose()
    with admin_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = ANY(:g)"
            ),
            {"g": [*GROUPS.values(), OWNER]},
        ).all()
        audited = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.event WHERE table_name = 'staff' AND row_key = ANY(:g)"
            ),
            {"g": [*GROUPS.values(), OWNER]},
        ).scalar()
    assert rows and all(tuple(r) == (False, False) for r in rows)
    assert audited == 0


@pytest.mark.parametrize("user", ["x_tb_two", "x_tb_super", "x_tb_extra"])
def test_a_login_that_is_no_staff_login_cannot_use_change_own_password(
    db: PgDatabase, odd_roles: None, user: str
) -> None:
    engine = db.engine_for(user)
    with engine.begin() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text("SELECT phms.change_own_password(:v)"), {"v": VERIFIER})
    engine.dispose()
    message = info.value.orig.diag.message_primary or ""  # type: ignore[union-attr]
    assert BAD_TARGETS[user] in message


def test_real_staff_logins_are_still_managed(
    db: PgDatabase, admin: sa.Engine, admin_engine: sa.Engine
) -> None:
    with admin.begin() as conn:
        staff.create(conn, "x_tb_real", "clinician", "a-long-password-1")
        staff.set_enabled(conn, "x_tb_real", False)
        staff.set_enabled(conn, "x_tb_real", True)
        staff.reset_password(conn, "x_tb_real", "another-long-password-2")
        staff.set_group(conn, "x_tb_real", "auditor")
        members = {m.name: m for m in staff.list_staff(conn)}
    assert members["x_tb_real"].group == "auditor" and members["x_tb_real"].enabled
    engine = db.engine_for("x_tb_real", "another-long-password-2")
    with engine.begin() as conn:
        staff.change_own_password(conn, "x_tb_real", "my-own-password-33")
    engine.dispose()
    with admin_engine.connect() as conn:
        ops = conn.execute(
            sa.text(
                "SELECT operation FROM audit.event WHERE table_name = 'staff' "
                "AND row_key = 'x_tb_real' ORDER BY id"
            )
        ).scalars()
        assert list(ops) == [
            "CREATE",
            "DISABLE",
            "ENABLE",
            "RESET_PASSWORD",
            "CHANGE_GROUP",
            "CHANGE_OWN_PASSWORD",
        ]
