"""Preferences service: versions, conflicts, checks, and who may save (real server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical.patient_id import PatientIdFormat
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import preferences
from phms_client.services.preferences import SettingValueError, StaleSettings
from tests.harness import PgDatabase, settings_restored


@pytest.fixture
def restore_settings(admin_engine: sa.Engine) -> Iterator[None]:
    """Put every setting back as it was (other tests expect the defaults)."""
    with settings_restored(admin_engine):
        yield


@pytest.fixture
def admin(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_admin")
    yield engine
    engine.dispose()


def load(engine: sa.Engine) -> dict[str, preferences.SettingRow]:
    with Session(engine) as s, s.begin():
        return preferences.load(s)


def save(engine: sa.Engine, changes: dict[str, tuple[Any, int]]) -> dict[str, Any]:
    with Session(engine) as s, s.begin():
        return preferences.save(s, changes)


def test_everyone_reads_the_settings_with_versions(db: PgDatabase) -> None:
    for user in ("t_clerk", "t_clinician", "t_auditor"):
        engine = db.engine_for(user)
        rows = load(engine)
        engine.dispose()
        assert rows["patient_id_format"].value == "NNNNNNN-N"
        assert rows["idle_lock_minutes"].value_type == "integer"
        assert rows["vasodilator_agents"].version >= 1
        assert {"appointment_kinds", "password_min_length", "error_check_sd"} <= set(rows)


@pytest.mark.usefixtures("restore_settings")
def test_admin_saves_with_versions_and_it_is_audited(
    admin: sa.Engine, admin_engine: sa.Engine
) -> None:
    rows = load(admin)
    idle, agents = rows["idle_lock_minutes"], rows["vasodilator_agents"]
    new_agents = [
        {"name": "inhaled nitric oxide", "unit": "ppm", "doses": [40, 10, 20]},
        {"name": " IV adenosine ", "unit": "µg/kg/min", "doses": [50, 100.0, 150]},
    ]
    saved = save(
        admin,
        {
            "idle_lock_minutes": (7, idle.version),
            "vasodilator_agents": (new_agents, agents.version),
        },
    )
    assert saved["idle_lock_minutes"].value == 7
    assert saved["idle_lock_minutes"].version == idle.version + 1
    assert saved["idle_lock_minutes"].updated_by == "t_admin"
    # Stored cleaned: names trimmed, doses sorted, whole numbers as integers.
    assert saved["vasodilator_agents"].value == [
        {"name": "inhaled nitric oxide", "unit": "ppm", "doses": [10, 20, 40]},
        {"name": "IV adenosine", "unit": "µg/kg/min", "doses": [50, 100, 150]},
    ]
    assert load(admin)["idle_lock_minutes"].value == 7
    with admin_engine.connect() as conn:
        who = conn.execute(
            sa.text(
                "SELECT session_user_name, new_values ->> 'value' FROM audit.event "
                "WHERE table_name = 'setting' AND row_key = 'idle_lock_minutes' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert tuple(who) == ("t_admin", "7")


@pytest.mark.usefixtures("restore_settings")
def test_a_stale_save_changes_nothing_and_returns_theirs(db: PgDatabase, admin: sa.Engine) -> None:
    seen = load(admin)
    other = db.engine_for("t_admin")
    save(other, {"idle_lock_minutes": (20, seen["idle_lock_minutes"].version)})
    other.dispose()
    with pytest.raises(StaleSettings) as stale:
        save(
            admin,
            {
                "password_min_length": (14, seen["password_min_length"].version),
                "idle_lock_minutes": (5, seen["idle_lock_minutes"].version),
            },
        )
    theirs = stale.value.theirs
    assert set(theirs) == {"idle_lock_minutes"}
    assert theirs["idle_lock_minutes"].value == 20
    assert theirs["idle_lock_minutes"].version == seen["idle_lock_minutes"].version + 1
    now = load(admin)
    assert now["password_min_length"].value == seen["password_min_length"].value  # rolled back
    assert now["idle_lock_minutes"].value == 20


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_auditor"])
def test_only_admins_may_save_even_bypassing_the_window(db: PgDatabase, user: str) -> None:
    engine = db.engine_for(user)
    rows = load(engine)
    with pytest.raises(sa.exc.ProgrammingError) as refused:
        save(engine, {"idle_lock_minutes": (1, rows["idle_lock_minutes"].version)})
    engine.dispose()
    error = classify(refused.value)
    assert error.kind is ErrorKind.PERMISSION_DENIED
    assert error.title == "Not allowed"
    assert "administrator" in error.message


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("patient_id_format", "NNN-nn", "not “n”"),
        ("patient_id_format", "NN#N", "not “#”"),
        ("patient_id_format", "AAA-AA", "at least one N"),
        ("patient_id_format", "  ", "empty"),
        ("password_min_length", 7, "between 8 and 128"),
        ("password_min_length", 9.5, "whole number"),
        ("idle_lock_minutes", -1, "between 0 and 480"),
        ("error_check_sd", 0, "between 1 and 1000"),
        ("remember_password_allowed", "yes", "on or off"),
        ("appointment_kinds", ["followup", " Followup "], "listed twice"),
        ("appointment_kinds", [" "], "at least one entry"),
        ("vasodilator_agents", [{"name": "NO", "unit": "", "doses": [10]}], "no dose unit"),
        ("vasodilator_agents", [{"name": "NO", "unit": "ppm", "doses": []}], "at least one dose"),
        ("vasodilator_agents", [{"name": "NO", "unit": "ppm", "doses": [0, 10]}], "greater than"),
        ("vasodilator_agents", [{"name": "NO", "unit": "ppm", "doses": [10, 10]}], "twice"),
        (
            "vasodilator_agents",
            [
                {"name": "NO", "unit": "ppm", "doses": [1]},
                {"name": "no", "unit": "x", "doses": [1]},
            ],
            "listed twice",
        ),
    ],
)
def test_bad_values_are_refused_before_anything_is_sent(
    admin: sa.Engine, key: str, value: Any, message: str
) -> None:
    version = load(admin)[key].version
    with pytest.raises(SettingValueError, match=message) as bad:
        save(admin, {key: (value, version)})
    assert bad.value.key == key
    assert load(admin)[key].version == version


def test_id_format_preview_and_existing_ids(admin: sa.Engine) -> None:
    assert preferences.id_format_example("NNNNNNN-N").count("-") == 1
    assert preferences.id_format_example("AA/NNNN")[2] == "/"
    with Session(admin) as s, s.begin():
        s.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, "
                "birth_date) VALUES ('9999999-9', 'Format', 'Probe', 'female', '1980-01-01')"
                " ON CONFLICT DO NOTHING"
            )
        )
        codes = list(s.execute(sa.text("SELECT patient_code FROM phms.patient")).scalars())
        counts = {
            fmt: preferences.count_ids_not_matching(s, fmt)
            for fmt in ("NNNNNNN-N", "NNNN", "NNNNNNN.N")
        }
    for fmt, count in counts.items():  # the server counts as the client's rule does
        regex = PatientIdFormat(fmt).regex
        assert count == sum(1 for c in codes if not regex.fullmatch(c)), fmt
    assert counts["NNNN"] == len(codes) and counts["NNNNNNN.N"] >= 1  # "." is literal


def test_doses_text() -> None:
    assert preferences.parse_doses("10, 20 ;40  2.5") == [10, 20, 40, 2.5]
    assert preferences.format_doses([10, 2.5]) == "10, 2.5"
    with pytest.raises(ValueError, match="“ten” is not a number"):
        preferences.parse_doses("5, ten")
