"""phms-admin user password-check: passwords set outside PHMS are found."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from phms_admin import migrate
from phms_client.services import staff
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ops.helpers import new_login, run

Capsys = pytest.CaptureFixture[str]


def _as(database: PgDatabase, user: str, password: str) -> sa.Engine:
    return database.engine_for(user, password)


def test_password_check_finds_a_password_set_with_alter_role(
    fresh_database: PgDatabase, capsys: Capsys
) -> None:
    migrate.upgrade(fresh_database.admin_url)
    given = "given-password-12"
    created, changed, hashed, plain = (new_login(fresh_database, "clerk", given) for _ in range(4))
    engine = _as(fresh_database, changed, given)
    with engine.begin() as conn:
        staff.change_own_password(conn, changed, "chosen-password-12")
    engine.dispose()
    engine = _as(fresh_database, hashed, given)
    with engine.begin() as conn:  # a weak verifier made by hand: the server cannot tell
        verifier = staff.scram_verifier(conn, hashed, "b")
        conn.exec_driver_sql(f"ALTER ROLE CURRENT_USER PASSWORD '{verifier}'")
    engine.dispose()
    engine = _as(fresh_database, plain, given)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER ROLE CURRENT_USER PASSWORD 'another-password-3'"))
    engine.dispose()

    code, out, err = run(["user", "password-check", "--url", fresh_database.admin_url], capsys)
    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "set through PHMS (last through PHMS: CREATE by postgres" in lines[created]
    assert (
        "set through PHMS (last through PHMS: CHANGE_OWN_PASSWORD by " + changed in lines[changed]
    )
    assert "SET OUTSIDE PHMS (last through PHMS: CREATE" in lines[hashed]
    assert "SET OUTSIDE PHMS" in lines[plain]
    # Logins of other databases on this server left no fingerprint in this one.
    others = [line for name, line in lines.items() if name not in {created, changed, hashed, plain}]
    assert all("unknown" in line for line in others), others
    assert "2 login(s) set their password outside PHMS" in err

    engine = sa.create_engine(fresh_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # the admin's reset puts things right
        staff.reset_password(conn, hashed, "temporary-password-4")
        staff.reset_password(conn, plain, "temporary-password-5")
    engine.dispose()
    code, out, _ = run(["user", "password-check", "--url", fresh_database.admin_url], capsys)
    assert code == 0 and "OUTSIDE" not in out


def test_password_check_needs_the_superuser(db: PgDatabase, capsys: Capsys) -> None:
    code, _, err = run(
        ["user", "password-check", "--url", db.url_for("t_admin", STAFF_PASSWORD)], capsys
    )
    assert code == 1
    assert "only the database superuser may read" in err
