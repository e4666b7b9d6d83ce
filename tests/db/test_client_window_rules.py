"""Who may change the compatibility window, and what the database keeps out (0016)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.errors import ErrorKind, classify
from phms_client.services import preferences
from phms_client.services.preferences import SettingValueError
from phms_client.version import client_version
from phms_schema.ddl_compat import DOWNLOAD_HINT_KEY, MAX_DOWNLOAD_HINT, MIN_CLIENT_KEY
from tests.harness import PgDatabase, settings_restored

pytestmark = pytest.mark.usefixtures("restore_settings")


@pytest.fixture
def restore_settings(admin_engine: sa.Engine) -> Iterator[None]:
    with settings_restored(admin_engine):
        yield


@pytest.fixture
def admin(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_admin")
    yield engine
    engine.dispose()


def _save(engine: sa.Engine, key: str, value: Any) -> preferences.SettingRow:
    with Session(engine) as s, s.begin():
        seen = preferences.load(s)[key].version
        return preferences.save(s, {key: (value, seen)})[key]


def _update(engine: sa.Engine, key: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = :k"),
            {"k": key, "v": json.dumps(value)},
        )


def _value(engine: sa.Engine, key: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT value #>> '{}' FROM phms.setting WHERE key = :k"), {"k": key}
            ).scalar_one()
        )


def test_an_admin_raises_the_minimum_and_it_is_audited(
    admin: sa.Engine, admin_engine: sa.Engine
) -> None:
    _update(admin_engine, MIN_CLIENT_KEY, "0.1.0")  # IT lowered it
    saved = _save(admin, MIN_CLIENT_KEY, f" {client_version()} ")
    assert (saved.value, saved.updated_by) == (client_version(), "t_admin")
    with admin_engine.connect() as conn:
        event = conn.execute(
            sa.text(
                "SELECT session_user_name, old_values ->> 'value', new_values ->> 'value' "
                "FROM audit.event WHERE table_name = 'setting' AND row_key = :k "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"k": MIN_CLIENT_KEY},
        ).one()
    assert tuple(event) == ("t_admin", "0.1.0", client_version())


def test_an_admin_cannot_lower_it_but_it_can(admin: sa.Engine, admin_engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.DBAPIError) as exc:
        _save(admin, MIN_CLIENT_KEY, "0.1.0")
    error = classify(exc.value)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert "can only be raised here (it is 0.2.0)" in error.message
    assert "phms-admin db min-client-version" in error.message
    assert _value(admin_engine, MIN_CLIENT_KEY) == "0.2.0"
    _update(admin_engine, MIN_CLIENT_KEY, "0.1.0")  # the superuser (IT) may
    assert _value(admin_engine, MIN_CLIENT_KEY) == "0.1.0"


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        (MIN_CLIENT_KEY, "0.2.0-beta", "release number such as 0.2.0"),
        (MIN_CLIENT_KEY, "", "release number"),
        (MIN_CLIENT_KEY, "99.0.0", "newer than the PHMS of this workstation"),
        (DOWNLOAD_HINT_KEY, "x" * (MAX_DOWNLOAD_HINT + 1), f"at most {MAX_DOWNLOAD_HINT}"),
        (DOWNLOAD_HINT_KEY, "line one\nline two", "on one line"),
    ],
)
def test_preferences_refuse_before_sending(
    admin: sa.Engine, key: str, value: str, says: str
) -> None:
    with pytest.raises(SettingValueError, match=says):
        _save(admin, key, value)


def test_the_hint_is_saved_trimmed(admin: sa.Engine) -> None:
    saved = _save(admin, DOWNLOAD_HINT_KEY, "  https://it.example.org/phms  ")
    assert saved.value == "https://it.example.org/phms"


@pytest.mark.parametrize(
    ("key", "value", "constraint"),
    [
        (MIN_CLIENT_KEY, "0.2.0rc1", "ck_setting_min_client_version_format"),
        (MIN_CLIENT_KEY, "v0.3", "ck_setting_min_client_version_format"),
        (
            DOWNLOAD_HINT_KEY,
            "x" * (MAX_DOWNLOAD_HINT + 1),
            "ck_setting_client_download_hint_length",
        ),
    ],
)
def test_the_database_checks_the_shape_for_everyone(
    admin_engine: sa.Engine, key: str, value: str, constraint: str
) -> None:
    with pytest.raises(sa.exc.IntegrityError, match=constraint):
        _update(admin_engine, key, value)


@pytest.mark.parametrize("key", [MIN_CLIENT_KEY, DOWNLOAD_HINT_KEY])
def test_the_rows_cannot_be_removed_or_renamed(
    admin: sa.Engine, admin_engine: sa.Engine, key: str
) -> None:
    for engine in (admin, admin_engine):
        with pytest.raises(sa.exc.DBAPIError) as exc, engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM phms.setting WHERE key = :k"), {"k": key})
        assert "needed by every workstation at login" in classify(exc.value).message
    with (
        pytest.raises(sa.exc.DBAPIError, match="needed by every workstation"),
        admin_engine.begin() as conn,
    ):
        conn.execute(sa.text("UPDATE phms.setting SET key = 'renamed' WHERE key = :k"), {"k": key})
    assert _value(admin_engine, key) is not None


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_auditor"])
def test_only_admins_change_the_window(db: PgDatabase, user: str) -> None:
    engine = db.engine_for(user)
    try:
        with pytest.raises(sa.exc.ProgrammingError) as exc:
            _update(engine, MIN_CLIENT_KEY, "0.2.1")
    finally:
        engine.dispose()
    assert classify(exc.value).kind is ErrorKind.PERMISSION_DENIED
