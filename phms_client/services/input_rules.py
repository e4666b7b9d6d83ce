"""The input limits of ``phms_schema.limits`` in plain words, checked before saving (no Qt).

The database refuses the same values (constraints of migration 0011); this module
says why in the user's words, before anything is sent, and gives every one of
those constraints a sentence for :func:`phms_client.db.errors.classify`, so a
refusal never reads "Database error". Forms use :func:`text_problem` as people
type and :data:`TEXT_LIMITS` for their maximum lengths.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from phms_client.db.errors import InvalidInput, register_constraint_messages
from phms_schema import limits
from phms_schema.limits import MULTI, SINGLE, TEXT_LIMITS, TextLimit

__all__ = [
    "CONSTRAINT_MESSAGES",
    "TEXT_LIMITS",
    "InvalidInput",
    "cap_search",
    "check_row",
    "clean_text",
    "limits",
    "text_problem",
]

_WHAT: Final = {
    "medication": "medication",
    "allergy": "allergy",
    "comorbidity": "secondary disease",
}


def _length_message(limit: TextLimit) -> str:
    return f"{limit.label} is too long (at most {limit.max_length:,} characters)."


def _control_message(limit: TextLimit) -> str:
    allowed = " (only line breaks and tabs are allowed)" if limit.lines == MULTI else ""
    return (
        f"{limit.label} contains control characters{allowed}: invisible codes, often "
        "from pasted text. Remove them and type the text again."
    )


def _letter_message(limit: TextLimit) -> str:
    return f"{limit.label} must contain at least one letter."


def _build() -> dict[str, str]:
    messages: dict[str, str] = {}
    existing = set(limits.EXISTING_LENGTH_CHECKS.values())
    for table, columns in TEXT_LIMITS.items():
        for column, limit in columns.items():
            if (table, column) not in existing:
                messages[f"ck_{table}_{column}_length"] = _length_message(limit)
            if limit.lines in (SINGLE, MULTI):
                messages[f"ck_{table}_{column}_characters"] = _control_message(limit)
            if limit.needs_letter:
                messages[f"ck_{table}_{column}_has_letter"] = _letter_message(limit)
    low, high = _day(limits.DATE_MIN), _day(limits.DATE_MAX)
    for table, dates in limits.DATE_COLUMNS.items():
        for column in dates:
            messages[f"ck_{table}_{column}_bounds"] = f"The date must be between {low} and {high}."
    for table in limits.DECIMAL_COLUMNS:
        for column in limits.DECIMAL_COLUMNS[table]:
            messages[f"ck_{table}_{column}_decimals"] = (
                f"A number may have at most {limits.MAX_DECIMALS} decimal places."
            )
    for table, what in _WHAT.items():
        for column, verb in (("started_on", "start"), ("stopped_on", "stop")):
            messages[f"ck_{table}_{column}_window"] = (
                f"A {what} cannot {verb} more than {limits.ITEM_DAYS_AHEAD} days from today."
            )
    messages.update(
        {
            "ck_patient_email_shape": (
                "This does not look like an email address (name@example.org)."
            ),
            "ck_patient_phone_shape": (
                "A phone number may contain only digits, spaces and + ( ) - / ."
            ),
            "ck_setting_value_size": (
                f"This setting is too long (at most {limits.MAX_SETTING_JSON:,} characters)."
            ),
            "ck_appointment_starts_at_window": (
                "An appointment cannot be booked more than "
                f"{limits.APPOINTMENT_DAYS_AHEAD // 366} years ahead."
            ),
            "ck_appointment_kind_configured": (
                "This kind of appointment is not in the list set in Preferences."
            ),
            "ck_vasodilator_step_dose_at_most": (
                f"A dose must be between 0 and {limits.DOSE_MAX:,}."
            ),
            "ck_vasodilator_step_dose_in_range": (
                f"The dose is more than {limits.DOSE_HEADROOM} times the highest dose step "
                "set in Preferences for this agent."
            ),
        }
    )
    return messages


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b} {day.year}"


#: Constraint name -> plain sentence, for every constraint of migration 0011.
CONSTRAINT_MESSAGES: Final = MappingProxyType(_build())
register_constraint_messages(CONSTRAINT_MESSAGES)


# --------------------------------------------------------------------------- checks


def _is_control(ch: str, lines: str) -> bool:
    if lines == MULTI and ch in "\n\t":
        return False
    return unicodedata.category(ch) == "Cc"


def has_letter(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def clean_text(text: str) -> str:
    """Windows line ends (CR LF) and lone CRs become LF; nothing else changes."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_problem(table: str, column: str, text: str | None) -> str | None:
    """What is wrong with ``text`` for ``table.column``, in words; None when fine."""
    if text is None:
        return None
    limit = TEXT_LIMITS[table][column]
    if "\x00" in text:
        return (
            f"{limit.label} contains a NUL character (an invisible code, often from a "
            "pasted or damaged text). Remove it."
        )
    if len(text) > limit.max_length:
        return _length_message(limit)
    if limit.lines != limits.STAMP and any(_is_control(ch, limit.lines) for ch in text):
        return _control_message(limit)
    if limit.needs_letter and text.strip() and not has_letter(text):
        return _letter_message(limit)
    return None


def _text_rule(table: str, column: str, problem: str) -> str:
    limit = TEXT_LIMITS[table][column]
    if "NUL" in problem or "control" in problem:
        return f"ck_{table}_{column}_characters"
    if "letter" in problem and limit.needs_letter:
        return f"ck_{table}_{column}_has_letter"
    return f"ck_{table}_{column}_length"


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


#: The shapes of ``ck_patient_email_shape`` and ``ck_patient_phone_shape``.
SHAPES: Final = MappingProxyType(
    {
        ("patient", "email"): re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
        ("patient", "phone"): re.compile(r"^[0-9 +()./-]*[0-9][0-9 +()./-]*$"),
    }
)


def check_row(table: str, values: Mapping[str, object]) -> None:
    """Raise :class:`InvalidInput` for the first value of ``values`` the limits refuse.

    Texts (length, control characters, letters), dates (bounds) and exact numbers
    (finite, at most MAX_DECIMALS places); what the database compares with other
    rows or the settings is left to it.
    """
    texts: Mapping[str, TextLimit] = TEXT_LIMITS.get(table, {})
    for column, value in values.items():
        if isinstance(value, str) and column in texts:
            problem = text_problem(table, column, value)
            if problem is not None:
                raise InvalidInput(column, problem, _text_rule(table, column, problem))
            shape = SHAPES.get((table, column))
            if shape is not None and not shape.match(value):
                name = f"ck_{table}_{column}_shape"
                raise InvalidInput(column, CONSTRAINT_MESSAGES[name], name)
        elif isinstance(value, dt.date) and column in limits.DATE_COLUMNS.get(table, ()):
            day = value.date() if isinstance(value, dt.datetime) else value
            if not limits.DATE_MIN <= day <= limits.DATE_MAX:
                name = f"ck_{table}_{column}_bounds"
                raise InvalidInput(column, CONSTRAINT_MESSAGES[name], name)
        elif isinstance(value, Decimal) and column in limits.DECIMAL_COLUMNS.get(table, ()):
            if not value.is_finite() or abs(value) >= 10**9:
                raise InvalidInput(column, "The number is not a plausible value.", "")
            if _decimal_places(value) > limits.MAX_DECIMALS:
                name = f"ck_{table}_{column}_decimals"
                raise InvalidInput(column, CONSTRAINT_MESSAGES[name], name)


def cap_search(text: str) -> str:
    """The first MAX_SEARCH characters of a search text (the rest is not read)."""
    return text[: limits.MAX_SEARCH]


def constraint_fields(table: str, *, stamps: bool = True) -> dict[str, tuple[str, str]]:
    """``ck_<table>_…`` of 0011 -> (the column it concerns, or "" for the entry; sentence).

    Columns the database writes itself (stamps) concern the entry (""); with
    ``stamps=False`` they are left out.
    """
    prefix = f"ck_{table}_"
    columns = sorted(
        {
            *TEXT_LIMITS.get(table, {}),
            *limits.DATE_COLUMNS.get(table, ()),
            *limits.DECIMAL_COLUMNS.get(table, ()),
            "email",
            "phone",
        },
        key=len,
        reverse=True,
    )
    texts: Mapping[str, TextLimit] = TEXT_LIMITS.get(table, {})
    fields: dict[str, tuple[str, str]] = {}
    for name, message in CONSTRAINT_MESSAGES.items():
        if not name.startswith(prefix):
            continue
        rest = name.removeprefix(prefix)
        column = next((c for c in columns if rest.startswith(c + "_")), "")
        limit = texts.get(column)
        if limit is not None and limit.lines == limits.STAMP:
            if not stamps:
                continue
            column = ""  # written by the database, never by a form
        fields[name] = (column, message)
    return fields


def field_problems(table: str, values: Mapping[str, object]) -> dict[str, str]:
    """Every value of ``values`` the limits refuse: column -> sentence (for a form)."""
    problems: dict[str, str] = {}
    for column, value in values.items():
        try:
            check_row(table, {column: value})
        except InvalidInput as refused:
            problems[column] = refused.message
    return problems
