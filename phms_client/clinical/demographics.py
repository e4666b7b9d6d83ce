"""Demographics as people type them: friendly checks and display texts (no Qt, no DB).

The database enforces the same rules with CHECK constraints and a trigger; these
checks run first so that the form can say what is wrong next to the field, before
anything is sent to the server.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from phms_client.clinical.patient_id import PatientIdFormat

__all__ = [
    "EARLIEST_BIRTH_DATE",
    "PAH_SUBTYPES",
    "PH_GROUPS",
    "SEX_LABELS",
    "STATUS_LABELS",
    "CheckedDemographics",
    "DemographicsEntry",
    "age_on",
    "check_demographics",
    "describe_format",
    "format_day",
    "parse_day",
    "ph_group_label",
]

#: PH clinical groups (ESC/ERS 2022), as shown in pick lists.
PH_GROUPS: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "Pulmonary arterial hypertension (PAH)",
        2: "PH associated with left heart disease",
        3: "PH associated with lung diseases and/or hypoxia",
        4: "PH associated with pulmonary artery obstructions (CTEPH)",
        5: "PH with unclear and/or multifactorial mechanisms",
    }
)
#: Group 1 subtypes (pick list; free text is allowed too).
PAH_SUBTYPES: Final = (
    "idiopathic",
    "heritable",
    "drug- or toxin-induced",
    "associated with connective tissue disease",
    "associated with HIV infection",
    "associated with portal hypertension",
    "associated with congenital heart disease",
    "associated with schistosomiasis",
    "long-term responder to calcium channel blockers",
    "with features of venous/capillary involvement (PVOD/PCH)",
)
SEX_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}
)
STATUS_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {"active": "Active", "deceased": "Deceased", "transferred": "Transferred"}
)
EARLIEST_BIRTH_DATE: Final = dt.date(1880, 1, 1)

_DATE_FORMATS: Final = (
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y-%m-%d",
    "%d %b %Y",
    "%d %B %Y",
    "%d%m%Y",
)
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Separators a shown date may use; all of them are read back by :func:`parse_day`.
DATE_SEPARATORS: Final = (".", "/", "-")
_separator = "."
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE: Final = re.compile(r"^[0-9 +()./-]+$")
DATE_EXAMPLE: Final = "17.05.1960"


def parse_day(text: str) -> dt.date | None:
    """A date typed as day.month.year (also ``/`` or ``-``), ISO, ``17 May 1960`` or
    ``17051960``. Day first: clinics using PHMS write dates that way."""
    text = " ".join(text.split())
    if not text:
        return None
    if text.isdigit() and len(text) != 8:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def set_date_separator(separator: str) -> None:
    """Choose how every shown date is written (``17.05.1960``, ``17/05/1960`` ...).

    Set once at start from the workstation's locale (see ``phms_client.ui.shared.dates``).
    """
    global _separator
    if separator not in DATE_SEPARATORS:
        raise ValueError(f"date separator must be one of {DATE_SEPARATORS}")
    _separator = separator


def date_separator() -> str:
    return _separator


def format_day(day: dt.date | None) -> str:
    """``17.05.1960``: the one way PHMS shows a date, day first, as it is typed."""
    if day is None:
        return ""
    return f"{day.day:02d}{_separator}{day.month:02d}{_separator}{day.year:04d}"


def format_weekday(day: dt.date | None) -> str:
    """``Tue 17.05.1960``: where the day of the week matters (clinic day)."""
    if day is None:
        return ""
    return f"{_WEEKDAYS[day.weekday()]} {format_day(day)}"


def format_moment(moment: dt.datetime | None) -> str:
    """``17.05.1960 14:05`` in local time."""
    if moment is None:
        return ""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"{format_day(local.date())} {local:%H:%M}"


def describe_format(fmt: PatientIdFormat) -> str:
    """``Format NNNNNNN-N: N is a digit, e.g. 5260181-5`` — naming only the letters used."""
    meanings = [
        text
        for letter, text in (("N", "N is a digit"), ("A", "A is a capital letter"))
        if letter in fmt.pattern
    ]
    example = fmt.random_code(random.Random(7))
    return (
        f"Format {fmt.pattern}"
        + (": " + ", ".join(meanings) if meanings else "")
        + (f", e.g. {example}")
    )


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def ph_group_label(group: int | None) -> str:
    if group is None:
        return "Not diagnosed"
    name = PH_GROUPS.get(group)
    return f"Group {group} — {name}" if name else f"Group {group}"


@dataclass(frozen=True)
class DemographicsEntry:
    """The form's contents exactly as typed (dates as text)."""

    patient_code: str = ""
    family_name: str = ""
    given_name: str = ""
    sex: str = ""
    birth_date: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    ph_group: int | None = None
    ph_subtype: str = ""
    status: str = "active"
    deceased_date: str = ""


@dataclass(frozen=True)
class CheckedDemographics:
    """Parsed values (names as the service's ``PatientInput`` fields) and per-field errors."""

    values: Mapping[str, object] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _optional(text: str) -> str | None:
    text = text.strip()
    return text or None


def _check_date(text: str, what: str, errors: dict[str, str], name: str) -> dt.date | None:
    day = parse_day(text)
    if day is None:
        errors[name] = (
            f"“{text.strip()}” is not a date. Type the {what} as day.month.year, "
            f"e.g. {DATE_EXAMPLE}."
        )
    return day


def check_demographics(
    entry: DemographicsEntry, id_format: PatientIdFormat, today: dt.date
) -> CheckedDemographics:
    """Check what was typed; every problem gets a sentence for the field it belongs to."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}

    code = id_format.normalise(entry.patient_code)
    if not code:
        errors["patient_code"] = f"Enter the patient ID (format {id_format.pattern})."
    elif not id_format.is_valid(code):
        errors["patient_code"] = (
            f"“{entry.patient_code.strip()}” is not a valid patient ID (format "
            f"{id_format.pattern})."
        )
    values["patient_code"] = code

    for name, label in (("family_name", "family name"), ("given_name", "given name")):
        text = " ".join(getattr(entry, name).split())
        if not text:
            errors[name] = f"Enter the {label}."
        values[name] = text

    if entry.sex not in SEX_LABELS:
        errors["sex"] = "Choose the sex (“Unknown” if it is not known)."
    values["sex"] = entry.sex

    born: dt.date | None = None
    if not entry.birth_date.strip():
        errors["birth_date"] = f"Enter the date of birth, e.g. {DATE_EXAMPLE}."
    else:
        born = _check_date(entry.birth_date, "date of birth", errors, "birth_date")
        if born is not None and born > today:
            errors["birth_date"] = "The date of birth cannot be in the future."
        elif born is not None and born < EARLIEST_BIRTH_DATE:
            errors["birth_date"] = (
                f"The date of birth must be {format_day(EARLIEST_BIRTH_DATE)} or later."
            )
    values["birth_date"] = born

    phone = _optional(entry.phone)
    if phone is not None and (not _PHONE.match(phone) or not any(c.isdigit() for c in phone)):
        errors["phone"] = "A phone number may contain only digits, spaces and + ( ) - / ."
    values["phone"] = phone

    email = _optional(entry.email)
    if email is not None and not _EMAIL.match(email):
        errors["email"] = "This does not look like an email address (name@example.org)."
    values["email"] = email

    values["address"] = _optional(entry.address)

    if entry.ph_group is not None and entry.ph_group not in PH_GROUPS:
        errors["ph_group"] = "Choose a PH group from 1 to 5."
    values["ph_group"] = entry.ph_group
    subtype = _optional(entry.ph_subtype)
    if subtype is not None and entry.ph_group is None:
        errors["ph_subtype"] = "Choose the PH group first (a subtype belongs to a group)."
    values["ph_subtype"] = subtype

    if entry.status not in STATUS_LABELS:
        errors["status"] = "Choose the status."
    values["status"] = entry.status

    died: dt.date | None = None
    if entry.deceased_date.strip():
        died = _check_date(entry.deceased_date, "date of death", errors, "deceased_date")
        if died is not None:
            if entry.status != "deceased":
                errors["deceased_date"] = (
                    "A date of death can only be entered when the status is “Deceased”."
                )
            elif died > today:
                errors["deceased_date"] = "The date of death cannot be in the future."
            elif born is not None and died < born:
                errors["deceased_date"] = "The date of death cannot be before the date of birth."
    values["deceased_date"] = died

    return CheckedDemographics(MappingProxyType(values), MappingProxyType(errors))
