"""What the server enforces about passwords, tried as every role (docs/admin-guide.md).

The server loads ``passwordcheck`` with a minimum length of 12: any plain-text
password set with ``ALTER ROLE`` (also for oneself, which PostgreSQL always
allows) is checked. A pre-hashed SCRAM verifier cannot be judged by the server:
PHMS's own path checks the length on the client, and the last test shows the
limit honestly.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from phms_client.services import staff
from tests.harness import STAFF, PgDatabase

WEAK = {
    "one character": ("a", "password is too short"),
    "eleven characters": ("abcdefgh12!", "password is too short"),
    "letters only": ("onlylettershere", "password must contain both letters and nonletters"),
    "own name inside": ("{user}-is-my-password-1", "password must not contain user name"),
}
USERS = [*sorted(STAFF), "superuser"]
CASES = [(user, label) for user in USERS for label in WEAK]


def _engine(db: PgDatabase, user: str) -> sa.Engine:
    if user == "superuser":
        return sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    return db.engine_for(user)


def test_the_server_loads_passwordcheck_with_a_minimum_of_12(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as conn:
        libraries = conn.execute(sa.text("SHOW shared_preload_libraries")).scalar()
        minimum = conn.execute(
            sa.text(
                "SELECT setting FROM pg_settings WHERE name = 'passwordcheck.min_password_length'"
            )
        ).scalar()
    assert libraries is not None and "passwordcheck" in libraries.split(",")
    assert minimum == "12"


@pytest.mark.parametrize(("user", "label"), CASES, ids=[f"{u}-{lbl}" for u, lbl in CASES])
def test_a_weak_plain_password_is_refused_for_oneself(
    db: PgDatabase, user: str, label: str
) -> None:
    password, reason = WEAK[label]
    engine = _engine(db, user)
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT current_user")).scalar()
        conn.rollback()
        with pytest.raises(sa.exc.DBAPIError) as info, conn.begin():
            # Rolled back whatever happens: the test logins keep their password.
            conn.execute(
                sa.text(f"ALTER ROLE CURRENT_USER PASSWORD '{password.format(user=name)}'")
            )
    engine.dispose()
    assert isinstance(info.value.orig, psycopg.errors.InvalidParameterValue)
    assert info.value.orig.diag.message_primary == reason


def test_a_strong_plain_password_is_accepted(db: PgDatabase, admin_engine: sa.Engine) -> None:
    with admin_engine.begin() as conn:
        staff.create(conn, "x_pw_plain", "clerk", "given-password-12")
    engine = db.engine_for("x_pw_plain", "given-password-12")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER ROLE CURRENT_USER PASSWORD 'a-strong-password-9'"))
    engine.dispose()
    probe = db.engine_for("x_pw_plain", "a-strong-password-9")
    with probe.connect() as conn:
        assert conn.execute(sa.text("SELECT session_user")).scalar() == "x_pw_plain"
    probe.dispose()


def test_the_server_cannot_judge_a_pre_hashed_verifier(
    db: PgDatabase, admin_engine: sa.Engine
) -> None:
    """The limit the admin guide states: a login that computes the verifier of a weak
    password itself gets it accepted. Through PHMS's function it leaves an audit row;
    with ALTER ROLE it leaves none. PHMS's own client refuses it before sending."""
    with admin_engine.begin() as conn:
        staff.create(conn, "x_pw_weak", "clerk", "given-password-12")
    engine = db.engine_for("x_pw_weak", "given-password-12")
    with engine.begin() as conn:
        with pytest.raises(staff.PasswordPolicyError, match="12"):
            staff.change_own_password(conn, "x_pw_weak", "b")
        verifier = staff.scram_verifier(conn, "x_pw_weak", "b")
        conn.execute(sa.text("SELECT phms.change_own_password(:v)"), {"v": verifier})
        conn.exec_driver_sql(f"ALTER ROLE CURRENT_USER PASSWORD '{verifier}'")
    engine.dispose()
    probe = db.engine_for("x_pw_weak", "b")
    with probe.connect():
        pass
    probe.dispose()
    with admin_engine.connect() as conn:
        ops = conn.execute(
            sa.text(
                "SELECT operation, session_user_name FROM audit.event "
                "WHERE table_name = 'staff' AND row_key = 'x_pw_weak' ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in ops] == [
        ("CREATE", db.server.superuser),
        ("CHANGE_OWN_PASSWORD", "x_pw_weak"),
    ]
