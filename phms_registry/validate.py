"""Check an uploaded batch against the export format before anything of it is stored.

The format (``phms_schema.registry_format``) is an allow-list: an unknown key
anywhere is refused, so a sender cannot slip a name or a free-text field in.
Every message names the place (``patients[3].records[0].date``) and the fault.
Both accepted versions are checked (``ACCEPTED_FORMATS``): the current one with
its declared ``generalisation``, which every patient's values must match, and
the previous one with its top-level ``birth_year_band``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from phms_schema.registry_format import (
    ACCEPTED_FORMATS,
    BATCH_FORMAT,
    BIRTH_YEAR_BANDS,
    FORMAT,
    GENERALISATION_FIELDS,
    LEGACY_BATCH_FORMAT,
    LEGACY_FORMAT,
    PATIENT_FIELDS,
    RECORD_FIELDS,
    SEXES,
    STATUSES,
    declared_generalisation,
    parse_birth_year,
)

_COMMON_KEYS: Final = frozenset(
    {
        "format",
        "export_format",
        "batch_id",
        "hospital_id",
        "generated_on",
        "ph_only",
        "dates_shifted",
        "patients",
        "removed",
    }
)
BATCH_KEYS: Final = _COMMON_KEYS | {"generalisation"}
LEGACY_BATCH_KEYS: Final = _COMMON_KEYS | {"birth_year_band"}
MAX_PATIENTS: Final = 10_000
MAX_RECORDS: Final = 5_000
MAX_TEXT: Final = 100
_KEY = re.compile(r"[0-9a-f]{64}")


class SchemaError(ValueError):
    """The batch does not follow the export format; ``str()`` says where and why."""


def _fail(where: str, why: str) -> SchemaError:
    return SchemaError(f"{where}: {why}")


def _date(where: str, value: Any) -> dt.date:
    if not isinstance(value, str):
        raise _fail(where, "expected a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(where, f"not a date: {value[:20]!r}") from None


def _int(where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(where, f"expected a whole number from {low} to {high}")
    return value


def _band(where: str, value: Any) -> None:
    if value not in BIRTH_YEAR_BANDS or isinstance(value, bool):
        raise _fail(where, f"one of {BIRTH_YEAR_BANDS}")


def _keys(where: str, obj: Any, allowed: frozenset[str], required: frozenset[str]) -> None:
    if not isinstance(obj, Mapping):
        raise _fail(where, "expected an object")
    unknown = set(obj) - allowed
    if unknown:
        raise _fail(where, f"field(s) not in the export format: {', '.join(sorted(unknown))}")
    missing = required - set(obj)
    if missing:
        raise _fail(where, f"missing field(s): {', '.join(sorted(missing))}")


def _scalar(where: str, value: Any) -> None:
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return
    raise _fail(where, f"expected a number, a short text (≤ {MAX_TEXT}) or null")


def _record(where: str, record: Any) -> None:
    if not isinstance(record, Mapping) or record.get("type") not in RECORD_FIELDS:
        raise _fail(where, f"a record's type is one of {', '.join(RECORD_FIELDS)}")
    fields = RECORD_FIELDS[record["type"]]
    _keys(
        where, record, frozenset({"type", "no", "date", *fields}), frozenset({"type", "no", "date"})
    )
    _int(f"{where}.no", record["no"], 1, 1_000_000)
    _date(f"{where}.date", record["date"])
    for name in fields:
        if name in record:
            _scalar(f"{where}.{name}", record[name])


def _birth_year(where: str, value: Any, band: int, legacy: bool, this_year: int) -> None:
    if legacy:  # the first year of the band, a number
        year = _int(where, value, 1880, this_year)
        if year % band:
            raise _fail(where, f"the first year of a {band}-year band (a multiple of {band})")
        return
    try:
        start = parse_birth_year(value, band)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    _int(where, start, 1880, this_year)


def _patient(where: str, p: Any, this_year: int, band: int, kept: bool, legacy: bool) -> str:
    _keys(where, p, frozenset(PATIENT_FIELDS), frozenset(PATIENT_FIELDS))
    key = p["patient_key"]
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _fail(f"{where}.patient_key", "expected 64 lower-case hex digits")
    _birth_year(f"{where}.birth_year", p["birth_year"], band, legacy, this_year)
    if p["sex"] not in SEXES:
        raise _fail(f"{where}.sex", f"one of {', '.join(SEXES)}")
    if p["ph_group"] is not None:
        _int(f"{where}.ph_group", p["ph_group"], 1, 5)
    sub = p["ph_subtype"]
    if sub is not None and (not isinstance(sub, str) or not 0 < len(sub) <= MAX_TEXT):
        raise _fail(f"{where}.ph_subtype", f"expected a short text (≤ {MAX_TEXT}) or null")
    if sub is not None and not kept:
        raise _fail(f"{where}.ph_subtype", "must be null: the batch declares ph_subtype_kept false")
    if p["status"] not in STATUSES:
        raise _fail(f"{where}.status", f"one of {', '.join(STATUSES)}")
    if p["deceased_date"] is not None:
        _date(f"{where}.deceased_date", p["deceased_date"])
    records = p["records"]
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise _fail(f"{where}.records", f"expected a list of at most {MAX_RECORDS} records")
    for i, r in enumerate(records):
        _record(f"{where}.records[{i}]", r)
    return key


def validate(body: Any, *, today: dt.date | None = None) -> None:
    """Raise :class:`SchemaError` unless ``body`` is a batch of an accepted format version."""
    if not isinstance(body, Mapping):
        raise _fail("batch", "expected an object")
    version = body.get("format")
    if (
        not isinstance(version, str)
        or version not in ACCEPTED_FORMATS
        or body.get("export_format") != ACCEPTED_FORMATS[version]
    ):
        raise _fail(
            "batch.format",
            f"expected {BATCH_FORMAT} carrying {FORMAT} (or the previous {LEGACY_BATCH_FORMAT} "
            f"carrying {LEGACY_FORMAT})",
        )
    legacy = version == LEGACY_BATCH_FORMAT
    keys = LEGACY_BATCH_KEYS if legacy else BATCH_KEYS
    _keys("batch", body, keys, keys)
    try:
        uuid.UUID(str(body["batch_id"]))
    except ValueError:
        raise _fail("batch.batch_id", "expected a UUID") from None
    hid = body["hospital_id"]
    if not isinstance(hid, str) or not 0 < len(hid) <= 64:
        raise _fail("batch.hospital_id", "expected 1 to 64 characters")
    generated = _date("batch.generated_on", body["generated_on"])
    for flag in ("ph_only", "dates_shifted"):
        if not isinstance(body[flag], bool):
            raise _fail(f"batch.{flag}", "expected true or false")
    if legacy:
        _band("batch.birth_year_band", body["birth_year_band"])
    else:
        g = body["generalisation"]
        fields = frozenset(GENERALISATION_FIELDS)
        _keys("batch.generalisation", g, fields, fields)
        _band("batch.generalisation.birth_year_band", g["birth_year_band"])
        if not isinstance(g["ph_subtype_kept"], bool):
            raise _fail("batch.generalisation.ph_subtype_kept", "expected true or false")
    band, kept = declared_generalisation(body)
    patients, removed = body["patients"], body["removed"]
    if not isinstance(patients, list) or not isinstance(removed, list):
        raise _fail("batch", "patients and removed are lists")
    if len(patients) + len(removed) > MAX_PATIENTS:
        raise _fail("batch", f"at most {MAX_PATIENTS} patients per batch")
    this_year = max(generated, today or dt.date.today()).year
    seen: set[str] = set()
    for i, p in enumerate(patients):
        key = _patient(f"patients[{i}]", p, this_year, band, kept, legacy)
        if key in seen:
            raise _fail(f"patients[{i}]", "this patient key appears twice")
        seen.add(key)
    for i, key in enumerate(removed):
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise _fail(f"removed[{i}]", "expected 64 lower-case hex digits")
        if key in seen:
            raise _fail(f"removed[{i}]", "a key both sent and removed, or removed twice")
        seen.add(key)
