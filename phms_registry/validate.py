"""Check an uploaded batch against the export format before anything of it is stored.

The format (``phms_schema.registry_format``) is an allow-list: an unknown key
anywhere is refused, so a sender cannot slip a name or a free-text field in.
Every message names the place (``patients[3].records[0].date``) and the fault.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from phms_schema.registry_format import (
    BATCH_FORMAT,
    BIRTH_YEAR_BANDS,
    FORMAT,
    PATIENT_FIELDS,
    RECORD_FIELDS,
    SEXES,
    STATUSES,
)

BATCH_KEYS: Final = frozenset(
    {
        "format",
        "export_format",
        "batch_id",
        "hospital_id",
        "generated_on",
        "ph_only",
        "dates_shifted",
        "birth_year_band",
        "patients",
        "removed",
    }
)
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


def _patient(where: str, p: Any, this_year: int) -> str:
    _keys(where, p, frozenset(PATIENT_FIELDS), frozenset(PATIENT_FIELDS))
    key = p["patient_key"]
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _fail(f"{where}.patient_key", "expected 64 lower-case hex digits")
    _int(f"{where}.birth_year", p["birth_year"], 1880, this_year)
    if p["sex"] not in SEXES:
        raise _fail(f"{where}.sex", f"one of {', '.join(SEXES)}")
    if p["ph_group"] is not None:
        _int(f"{where}.ph_group", p["ph_group"], 1, 5)
    sub = p["ph_subtype"]
    if sub is not None and (not isinstance(sub, str) or not 0 < len(sub) <= MAX_TEXT):
        raise _fail(f"{where}.ph_subtype", f"expected a short text (≤ {MAX_TEXT}) or null")
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
    """Raise :class:`SchemaError` unless ``body`` is a batch of the export format."""
    _keys("batch", body, BATCH_KEYS, BATCH_KEYS)
    if body["format"] != BATCH_FORMAT or body["export_format"] != FORMAT:
        raise _fail("batch.format", f"expected {BATCH_FORMAT} carrying {FORMAT}")
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
    if body["birth_year_band"] not in BIRTH_YEAR_BANDS or isinstance(body["birth_year_band"], bool):
        raise _fail("batch.birth_year_band", f"one of {BIRTH_YEAR_BANDS}")
    patients, removed = body["patients"], body["removed"]
    if not isinstance(patients, list) or not isinstance(removed, list):
        raise _fail("batch", "patients and removed are lists")
    if len(patients) + len(removed) > MAX_PATIENTS:
        raise _fail("batch", f"at most {MAX_PATIENTS} patients per batch")
    this_year = max(generated, today or dt.date.today()).year
    seen: set[str] = set()
    for i, p in enumerate(patients):
        key = _patient(f"patients[{i}]", p, this_year)
        if key in seen:
            raise _fail(f"patients[{i}]", "this patient key appears twice")
        seen.add(key)
    for i, key in enumerate(removed):
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise _fail(f"removed[{i}]", "expected 64 lower-case hex digits")
        if key in seen:
            raise _fail(f"removed[{i}]", "a key both sent and removed, or removed twice")
        seen.add(key)
