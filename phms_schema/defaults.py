"""Default site settings shipped with the first migration (editable in Preferences)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DefaultSetting:
    key: str
    value: Any
    value_type: str
    description: str


DEFAULT_SETTINGS: tuple[DefaultSetting, ...] = (
    DefaultSetting(
        "patient_id_format",
        "NNNNNNN-N",
        "text",
        "Format of the site patient ID: N = digit, A = capital letter, anything else literal.",
    ),
    DefaultSetting(
        "idle_lock_minutes", 15, "integer", "Minutes without input before the screen locks."
    ),
    DefaultSetting(
        "remember_password_allowed",
        False,
        "boolean",
        "Whether staff may store their password in the workstation's keyring.",
    ),
    DefaultSetting("password_min_length", 12, "integer", "Minimum length of a staff password."),
    DefaultSetting(
        "error_check_sd",
        50,
        "number",
        "Error Check lists values this many standard deviations from the trimmed mean.",
    ),
)
