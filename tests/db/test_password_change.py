"""Forced password change: new and reset logins choose their own password."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from phms_client.db.login import login
from phms_client.services import staff
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase


def test_new_login_must_change_then_may_not_reuse_old(db: PgDatabase) -> None:
    admin = db.engine_for("t_admin")
    with admin.begin() as conn:
        staff.create(conn, "x_newbie", "clinician", "initial-password-1")
    database, info = login(config_for(db), "x_newbie", "initial-password-1")
    assert info.must_change_password
    with database.engine.begin() as conn:
        with pytest.raises(staff.PasswordPolicyError):
            staff.change_own_password(conn, "x_newbie", "short")
        staff.change_own_password(conn, "x_newbie", "my-own-password-22")
    database.close()
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        login(config_for(db), "x_newbie", "initial-password-1")
    database, info = login(config_for(db), "x_newbie", "my-own-password-22")
    database.close()
    assert not info.must_change_password

    with admin.begin() as conn:  # an admin reset forces a change again
        staff.reset_password(conn, "x_newbie", "temporary-password-9")
    database, info = login(config_for(db), "x_newbie", "temporary-password-9")
    database.close()
    admin.dispose()
    assert info.must_change_password


def test_nobody_sets_the_flag_directly(db: PgDatabase) -> None:
    for user in ("t_clerk", "t_admin"):
        engine = db.engine_for(user)
        with (
            pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
            engine.begin() as conn,
        ):
            conn.execute(sa.text("UPDATE phms.staff_account SET must_change_password = false"))
        engine.dispose()
