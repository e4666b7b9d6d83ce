"""Preferences: the site settings (``phms.setting``) as admins edit them (no Qt).

Every workstation shares these rows. Only ``phms_admin`` may change them (the
database's GRANTs say so; a clinician's save fails with "permission denied" whatever
the client does). Each row has a ``version``: :func:`save` writes a value only over
the version the editor saw, and otherwise raises :class:`StaleSettings` with the
server's rows, so one admin never silently overwrites another.

The checks here (:func:`validate`) give plain messages before anything is sent; the
database still checks each value's JSON type.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from packaging.version import Version
from sqlalchemy.orm import Session

from phms_client.clinical.patient_id import PatientIdFormat
from phms_client.version import client_version
from phms_schema import Setting, ddl_compat

SETTING: sa.Table = Setting.__table__  # type: ignore[assignment]

#: Limits of the settings the preferences window edits with their own widgets.
PASSWORD_MIN_LENGTH_FLOOR: Final = 8
PASSWORD_MIN_LENGTH_CEILING: Final = 128
IDLE_LOCK_MAX_MINUTES: Final = 480
#: Characters a patient ID format may hold: placeholders N and A, and literals that
#: the patient search still recognises as part of an ID (capitals, digits, - . /).
ID_FORMAT_CHARS: Final = re.compile(r"[A-Z0-9./-]")
ID_FORMAT_MAX_LENGTH: Final = 30
#: Longest entry of a list setting (an appointment kind is at most this long in the database).
MAX_LIST_ITEM: Final = 100


class SettingValueError(ValueError):
    """A value the site must not use; ``key`` names the setting, ``str()`` says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class SettingRow:
    key: str
    value: Any
    value_type: str
    description: str
    version: int
    updated_at: dt.datetime
    updated_by: str


class StaleSettings(Exception):
    """Someone saved some of the same settings first; ``theirs``: the server's rows."""

    def __init__(self, theirs: Mapping[str, SettingRow]) -> None:
        who = sorted({row.updated_by for row in theirs.values()})
        super().__init__(f"settings {', '.join(sorted(theirs))} were changed by {', '.join(who)}")
        self.theirs = dict(theirs)


_COLUMNS: tuple[sa.Column[Any], ...] = (
    SETTING.c.key,
    SETTING.c.value,
    SETTING.c.value_type,
    SETTING.c.description,
    SETTING.c.version,
    SETTING.c.updated_at,
    SETTING.c.updated_by,
)


def _row(r: sa.Row[Any]) -> SettingRow:
    return SettingRow(**r._mapping)


def load(session: Session) -> dict[str, SettingRow]:
    """Every setting with its version, by key (sorted)."""
    rows = session.execute(sa.select(*_COLUMNS).order_by(SETTING.c.key)).all()
    return {r.key: _row(r) for r in rows}


def save(session: Session, changes: Mapping[str, tuple[Any, int]]) -> dict[str, SettingRow]:
    """Write ``{key: (value, version seen)}`` in one transaction; returns the new rows.

    Every value is checked first (:class:`SettingValueError`, nothing written). If any
    row is no longer at the version seen, nothing is written and :class:`StaleSettings`
    carries the server's rows of those keys. A login that is not an admin gets the
    database's "permission denied" (``sqlalchemy.exc.ProgrammingError``).
    """
    cleaned = {key: validate(key, value) for key, (value, _version) in changes.items()}
    saved: dict[str, SettingRow] = {}
    stale: list[str] = []
    for key, (_value, version) in changes.items():
        row = session.execute(
            sa.update(SETTING)
            .where(SETTING.c.key == key, SETTING.c.version == version)
            .values(value=cleaned[key])
            .returning(*_COLUMNS)
        ).first()
        if row is None:
            stale.append(key)
        else:
            saved[key] = _row(row)
    if stale:
        theirs = session.execute(sa.select(*_COLUMNS).where(SETTING.c.key.in_(stale))).all()
        raise StaleSettings({r.key: _row(r) for r in theirs})
    return saved


# --------------------------------------------------------------------------- checks


def validate(key: str, value: Any) -> Any:
    """The value as it will be stored, or :class:`SettingValueError` saying what is wrong."""
    check = _CHECKS.get(key)
    return check(value) if check is not None else value


def check_patient_id_format(value: Any) -> str:
    key = "patient_id_format"
    if not isinstance(value, str) or not value.strip():
        raise SettingValueError(key, "The patient ID format is empty.")
    fmt = value.strip()
    bad = sorted({ch for ch in fmt if not ID_FORMAT_CHARS.fullmatch(ch)})
    if bad:
        shown = ", ".join(f"“{ch}”" for ch in bad)
        raise SettingValueError(
            key,
            f"The patient ID format may only hold N (a digit), A (a capital letter) and "
            f"the literal characters B–Z, 0–9, - . and /; not {shown}.",
        )
    if "N" not in fmt:
        raise SettingValueError(
            key, "The patient ID format needs at least one N (digit), so IDs can be searched."
        )
    if len(fmt) > ID_FORMAT_MAX_LENGTH:
        raise SettingValueError(
            key, f"The patient ID format is too long (at most {ID_FORMAT_MAX_LENGTH} characters)."
        )
    return fmt


def id_format_example(fmt: str) -> str:
    """An example ID for the format (always the same one, for a steady preview)."""
    import random

    return PatientIdFormat(fmt).random_code(random.Random(7))


def _whole(key: str, label: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise SettingValueError(key, f"{label} must be a whole number.")
    if not low <= value <= high:
        raise SettingValueError(key, f"{label} must be between {low} and {high}.")
    return int(value)


def check_idle_lock_minutes(value: Any) -> int:
    return _whole("idle_lock_minutes", "The idle lock (minutes)", value, 0, IDLE_LOCK_MAX_MINUTES)


def check_password_min_length(value: Any) -> int:
    return _whole(
        "password_min_length",
        "The minimum password length",
        value,
        PASSWORD_MIN_LENGTH_FLOOR,
        PASSWORD_MIN_LENGTH_CEILING,
    )


def check_boolean(key: str) -> Any:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise SettingValueError(key, "This setting is either on or off.")
        return value

    return check


def check_error_check_sd(value: Any) -> float | int:
    key = "error_check_sd"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingValueError(key, "The error-check threshold must be a number.")
    if not 1 <= value <= 1000:
        raise SettingValueError(
            key, "The error-check threshold must be between 1 and 1000 standard deviations."
        )
    return int(value) if float(value).is_integer() else float(value)


def check_text_list(key: str, label: str) -> Any:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingValueError(key, f"{label}: a list of names is expected.")
        items = [v.strip() for v in value if v.strip()]
        if not items:
            raise SettingValueError(key, f"{label}: the list needs at least one entry.")
        seen: set[str] = set()
        for item in items:
            if len(item) > MAX_LIST_ITEM or any(unicodedata.category(c) == "Cc" for c in item):
                raise SettingValueError(
                    key,
                    f"{label}: “{item[:40]}” is too long (at most {MAX_LIST_ITEM} characters) "
                    "or holds control characters.",
                )
            if item.casefold() in seen:
                raise SettingValueError(key, f"{label}: “{item}” is listed twice.")
            seen.add(item.casefold())
        return items

    return check


def check_vasodilator_agents(value: Any) -> list[dict[str, Any]]:
    key = "vasodilator_agents"
    if not isinstance(value, list) or not value:
        raise SettingValueError(key, "Vasodilator agents: at least one agent is needed.")
    agents: list[dict[str, Any]] = []
    names: set[str] = set()
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise SettingValueError(key, f"Vasodilator agent {n}: name, unit and doses expected.")
        name = str(item.get("name") or "").strip()
        unit = str(item.get("unit") or "").strip()
        if not name:
            raise SettingValueError(key, f"Vasodilator agent {n} has no name.")
        if name.casefold() in names:
            raise SettingValueError(key, f"The vasodilator agent “{name}” is listed twice.")
        names.add(name.casefold())
        if not unit:
            raise SettingValueError(key, f"The vasodilator agent “{name}” has no dose unit.")
        doses = item.get("doses")
        if (
            not isinstance(doses, list)
            or not doses
            or not all(
                isinstance(d, int | float) and not isinstance(d, bool) and math.isfinite(d)
                for d in doses
            )
        ):
            raise SettingValueError(
                key, f"The vasodilator agent “{name}” needs at least one dose step (numbers)."
            )
        if any(d <= 0 for d in doses):
            raise SettingValueError(
                key, f"The dose steps of “{name}” must all be greater than zero."
            )
        steps = sorted({int(d) if float(d).is_integer() else float(d) for d in doses})
        if len(steps) != len(doses):
            raise SettingValueError(key, f"The dose steps of “{name}” hold a dose twice.")
        agents.append({"name": name, "unit": unit, "doses": steps})
    return agents


def parse_doses(text: str) -> list[int | float]:
    """ "10, 20, 40" → [10, 20, 40]; raises ValueError naming the entry it cannot read."""
    doses: list[int | float] = []
    for part in re.split(r"[;,\s]+", text.strip()):
        if not part:
            continue
        try:
            number = float(part.replace("·", "."))
        except ValueError:
            raise ValueError(f"“{part}” is not a number") from None
        doses.append(int(number) if number.is_integer() else number)
    return doses


def format_doses(doses: list[int | float]) -> str:
    return ", ".join(f"{d:g}" for d in doses)


def check_min_client_version(value: Any) -> str:
    """A release version, not newer than this workstation's own PHMS: an admin cannot
    require a version nobody has yet. (Lowering it is IT's: the database refuses.)"""
    key = ddl_compat.MIN_CLIENT_KEY
    text = value.strip() if isinstance(value, str) else ""
    if not ddl_compat.is_version(text):
        raise SettingValueError(
            key, "The oldest PHMS version accepted is a release number such as 0.2.0."
        )
    own = client_version()
    if Version(text) > Version(own):
        raise SettingValueError(
            key,
            f"PHMS {text} is newer than the PHMS of this workstation ({own}): no one could "
            "log in until it is installed. Install it first; IT can also set the version "
            "with “phms-admin db min-client-version”.",
        )
    return text


def check_download_hint(value: Any) -> str:
    key = ddl_compat.DOWNLOAD_HINT_KEY
    if not isinstance(value, str):
        raise SettingValueError(key, "Where to get PHMS is a text.")
    text = value.strip()
    if len(text) > ddl_compat.MAX_DOWNLOAD_HINT or any(
        unicodedata.category(c) == "Cc" for c in text
    ):
        raise SettingValueError(
            key,
            f"Where to get PHMS: at most {ddl_compat.MAX_DOWNLOAD_HINT} characters on one "
            "line (a web address or a shared folder).",
        )
    return text


_CHECKS: dict[str, Any] = {
    "patient_id_format": check_patient_id_format,
    "idle_lock_minutes": check_idle_lock_minutes,
    "password_min_length": check_password_min_length,
    "remember_password_allowed": check_boolean("remember_password_allowed"),
    "error_check_sd": check_error_check_sd,
    "appointment_kinds": check_text_list("appointment_kinds", "Appointment kinds"),
    "pah_medicines": check_text_list("pah_medicines", "PAH medicines"),
    "vasodilator_agents": check_vasodilator_agents,
    ddl_compat.MIN_CLIENT_KEY: check_min_client_version,
    ddl_compat.DOWNLOAD_HINT_KEY: check_download_hint,
}


def count_ids_not_matching(session: Session, fmt: str) -> int:
    """How many existing patients have an ID the format ``fmt`` would not accept.

    (Their IDs are not rewritten; editing such a patient needs a matching ID.)
    """
    fmt = check_patient_id_format(fmt)
    pattern = PatientIdFormat(fmt).regex.pattern
    count = session.execute(
        sa.text("SELECT count(*) FROM phms.patient WHERE patient_code !~ :p"),
        {"p": f"^{pattern}$"},
    ).scalar_one()
    return int(count)
