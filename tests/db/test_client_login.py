"""Client login and schema gate against the real server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from phms_client.config import ClientConfig
from phms_client.db.errors import ErrorKind, SchemaMismatch, classify
from phms_client.db.login import NotStaff, login
from phms_schema import SCHEMA_REVISION
from tests.harness import STAFF_PASSWORD, PgDatabase


def config_for(db: PgDatabase, **overrides: object) -> ClientConfig:
    values: dict[str, object] = {
        "hosts": ("127.0.0.1",),
        "port": db.server.port,
        "database": db.name,
        "sslmode": "disable",
        "connect_timeout": 3,
    }
    values.update(overrides)
    return ClientConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("user", "group"),
    [
        ("t_clerk", "clerk"),
        ("t_clinician", "clinician"),
        ("t_admin", "admin"),
        ("t_auditor", "auditor"),
    ],
)
def test_login_as_each_group(db: PgDatabase, user: str, group: str) -> None:
    database, info = login(config_for(db), user, STAFF_PASSWORD)
    database.close()
    assert (info.user, info.group, info.schema_revision) == (user, group, SCHEMA_REVISION)
    assert info.settings.patient_id_format.pattern == "NNNNNNN-N"
    assert info.settings.idle_lock_minutes == 15
    assert info.server_version.startswith("18")


def test_wrong_password(db: PgDatabase) -> None:
    with pytest.raises(sa.exc.OperationalError) as exc:
        login(config_for(db), "t_clerk", "nope")
    assert classify(exc.value).kind is ErrorKind.AUTH_FAILED


def test_disabled_account(db: PgDatabase, admin_engine: sa.Engine) -> None:
    from phms_client.services import staff

    with admin_engine.begin() as conn:
        staff.create(conn, "x_gone", "clerk", "a-long-password-2")
        staff.set_enabled(conn, "x_gone", False)
    with pytest.raises(sa.exc.OperationalError) as exc:
        login(config_for(db), "x_gone", "a-long-password-2")
    error = classify(exc.value)
    assert error.kind is ErrorKind.ACCOUNT_DISABLED
    assert "admin" in error.message.lower()


def test_unreachable_names_the_address(db: PgDatabase) -> None:
    from phms_admin.embedded import free_port

    config = config_for(db, port=free_port())
    with pytest.raises(sa.exc.OperationalError) as exc:
        login(config, "t_clerk", STAFF_PASSWORD)
    error = classify(exc.value, address=config.display_address())
    assert error.kind is ErrorKind.UNREACHABLE
    assert config.display_address() in error.message


def test_superuser_is_not_staff(db: PgDatabase) -> None:
    with pytest.raises(NotStaff, match="not a PHMS staff account"):
        login(config_for(db), db.server.superuser, db.server.password)


def test_schema_gate(fresh_database: PgDatabase) -> None:
    """Older than this client works with: refused. (Newer: tests/db/test_client_window.py.)"""
    from phms_admin import migrate

    migrate.upgrade(fresh_database.admin_url)
    engine = sa.create_engine(fresh_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    with pytest.raises(SchemaMismatch) as exc:
        login(config_for(fresh_database), "t_clerk", STAFF_PASSWORD)
    assert exc.value.database_is_older is True
    assert "phms-admin db upgrade" in classify(exc.value).message
