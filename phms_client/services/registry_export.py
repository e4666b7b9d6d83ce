"""Registry export: an anonymised extract for a national PH registry (PH_DOMAIN.md).

What goes out (an explicit allow-list of columns; a column added to a table
later is not exported until it is added here):

- per patient: ``patient_key`` = HMAC-SHA-256 of the site patient ID with the
  site's secret (hex), birth **year**, sex, PH group, PH subtype (only when it
  is one of the configured subtypes, else ``other``: the field allows free
  text), status and date of death;
- assessments and followups (measured and derived values; the risk on the scale
  that applies: ``risk_at_diagnosis_*``, ESC/ERS 2022 three strata, on the first
  assessment (``at_diagnosis``), ``risk_*``, COMPERA 2.0 four strata, on every later
  visit), walks
  (with % predicted), vasodilator challenges (result, steps with agent and
  dose) and PAH medicines (names from the ``pah_medicines`` setting only, with
  start and stop dates; doses and other free text are left out);
- the site's hospital ID, the export date and the options used.

What never goes out: names, patient ID, internal row ids, exact birth date,
phone, e-mail, address, free-text fields, who entered what. Patients are
listed in the order of their key, not of registration.

Every date of a patient moves by the same number of days (±1–182, derived
from the secret and the patient ID, so it is the same in every export and
intervals stay exact) unless ``shift_dates`` is false. The birth year is not
shifted. Before anything is written the export measures its k-anonymity and
generalises (birth-year bands, group without subtype) until every patient is
in a group of at least ``min_k``, or refuses (``registry_privacy``); the
header says what was done and declares the rung the values are written at
(``generalisation``, as ``phms_schema.registry_format`` defines it). The secret
comes from ``phms.registry_secret()`` (admins only, every read audited) or from
a file the admin gives; it is never written to the export.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical import therapy
from phms_client.db.environment import refuse_on_staging
from phms_client.services import registry_privacy
from phms_schema.anonymity import DEFAULT_MIN_K, Outcome
from phms_schema.registry_format import (
    ASSESSMENT_FIELDS,
    CHALLENGE_FIELDS,
    FORMAT,
    MEDICATION_FIELDS,
    PATIENT_COLUMNS,
    STEP_FIELDS,
    WALK_FIELDS,
    generalisation,
)

__all__ = [
    "FORMAT",
    "RegistryExport",
    "RegistryPatient",
    "RegistryRecord",
    "anonymity_header",
    "build_export",
    "date_shift_days",
    "export_csv",
    "export_json",
    "generalisation_header",
    "patient_document",
    "patient_key",
    "read_secret_file",
    "registry_secret",
    "write_export",
]

MIN_SECRET_BYTES: Final = 32
MAX_SHIFT_DAYS: Final = 182
DERIVED_PLACES: Final = 4

#: Assessment fields from the risk views, not the table: the four strata (COMPERA 2.0)
#: at follow-up only, the three strata (ESC/ERS 2022) at diagnosis only.
_RISK_FIELDS: Final = frozenset(
    {
        "at_diagnosis",
        "risk_stratum",
        "risk_label",
        "risk_at_diagnosis_stratum",
        "risk_at_diagnosis_label",
    }
)
_ROUNDED: Final = frozenset(
    {
        "bsa_m2",
        "cardiac_index_l_min_m2",
        "pvr_wu",
        "pvr_dyn_s_cm5",
        "svi_ml_m2",
        "tapse_spap_ratio",
        "predicted_m",
        "percent_predicted",
    }
)


@dataclass(frozen=True)
class RegistryRecord:
    #: 'assessment', 'six_minute_walk', 'vasodilator_challenge', 'vasodilator_step',
    #: 'medication'
    record_type: str
    #: 1, 2, … per patient and type, in date order.
    record_no: int
    #: Study date (for a medication: started on), shifted when asked.
    date: dt.date
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RegistryPatient:
    patient_key: str
    #: The year, or a band such as "1955-1959" when generalised.
    birth_year: int | str
    sex: str
    ph_group: int | None
    ph_subtype: str | None
    status: str
    deceased_date: dt.date | None
    records: tuple[RegistryRecord, ...]


@dataclass(frozen=True)
class RegistryExport:
    hospital_id: str
    generated_on: dt.date
    ph_only: bool
    dates_shifted: bool
    patients: tuple[RegistryPatient, ...]
    anonymity: Outcome


# ---------------------------------------------------------------------- keys


def registry_secret(session: Session) -> bytes:
    """The site's registry key (admins only; the read is audited). Never on a staging copy."""
    refuse_on_staging(session, "The registry export")
    value = session.execute(sa.text("SELECT phms.registry_secret()")).scalar()
    if not isinstance(value, bytes | memoryview) or len(bytes(value)) < MIN_SECRET_BYTES:
        raise RuntimeError("The site has no registry export key; run 'phms-admin db upgrade'.")
    return bytes(value)


def read_secret_file(path: Path) -> bytes:
    """A secret kept outside the database: the file's bytes (at least 32)."""
    data = path.read_bytes().strip()
    if len(data) < MIN_SECRET_BYTES:
        raise ValueError(f"{path}: a registry secret must be at least {MIN_SECRET_BYTES} bytes")
    return data


def patient_key(secret: bytes, patient_code: str) -> str:
    """HMAC-SHA-256 of the site patient ID, hex: stable across exports, not reversible."""
    return hmac.new(secret, patient_code.encode("utf-8"), hashlib.sha256).hexdigest()


def date_shift_days(secret: bytes, patient_code: str) -> int:
    """The patient's date shift: ±1–182 days, the same in every export."""
    digest = hmac.new(secret, b"date-shift\x00" + patient_code.encode(), hashlib.sha256).digest()
    r = int.from_bytes(digest[:8], "big") % (2 * MAX_SHIFT_DAYS)
    days = r // 2 + 1
    return days if r % 2 else -days


# ------------------------------------------------------------------- queries

_PATIENTS = """SELECT p.id, p.patient_code, extract(year FROM p.birth_date)::integer AS birth_year,
       p.sex, p.ph_group, p.ph_subtype, p.status, p.deceased_date
  FROM phms.patient p {where}"""
_ASSESSMENTS = f"""SELECT a.patient_id, a.study_date, a.created_at,
       {", ".join(f"a.{f}" for f in ASSESSMENT_FIELDS if f not in _RISK_FIELDS)},
       d.at_diagnosis,
       CASE WHEN NOT d.at_diagnosis THEN r.risk_stratum END AS risk_stratum,
       CASE WHEN NOT d.at_diagnosis THEN r.risk_label END AS risk_label,
       CASE WHEN d.at_diagnosis THEN d.risk_stratum END AS risk_at_diagnosis_stratum,
       CASE WHEN d.at_diagnosis THEN d.risk_label END AS risk_at_diagnosis_label
  FROM phms.assessment a
  LEFT JOIN phms.assessment_risk r ON r.assessment_id = a.id
  LEFT JOIN phms.assessment_risk_at_diagnosis d ON d.assessment_id = a.id
 WHERE NOT a.entered_in_error"""
_WALKS = f"""SELECT w.patient_id, w.study_date, w.created_at,
       {", ".join(f"w.{f}" for f in WALK_FIELDS if f not in ("predicted_m", "percent_predicted"))},
       v.predicted_m, v.percent_predicted
  FROM phms.six_minute_walk w LEFT JOIN phms.six_minute_walk_predicted v ON v.walk_id = w.id
 WHERE NOT w.entered_in_error"""
_CHALLENGES = """SELECT c.id AS challenge_id, c.patient_id, c.study_date, c.created_at,
       v.result, v.positive_step_no
  FROM phms.vasodilator_challenge c JOIN phms.vasoreactivity v ON v.challenge_id = c.id
 WHERE NOT c.entered_in_error"""
_STEPS = f"""SELECT s.challenge_id, {", ".join(f"s.{f}" for f in STEP_FIELDS[1:])}
  FROM phms.vasodilator_step s
  JOIN phms.vasodilator_challenge c ON c.id = s.challenge_id
 WHERE NOT s.entered_in_error AND NOT c.entered_in_error
 ORDER BY s.challenge_id, s.step_no"""
_MEDICATIONS = """SELECT m.patient_id, m.name, m.therapy_class, m.started_on, m.stopped_on,
       m.created_at
  FROM phms.medication m WHERE NOT m.entered_in_error"""
_LISTS = """SELECT key, value FROM phms.setting WHERE key IN ('pah_medicines', 'ph_groups')"""


def _rows(session: Session, sql: str) -> list[Mapping[Any, Any]]:
    return list(session.execute(sa.text(sql)).mappings())


def _by_patient(rows: Iterable[Mapping[Any, Any]]) -> dict[int, list[Mapping[Any, Any]]]:
    out: dict[int, list[Mapping[Any, Any]]] = defaultdict(list)
    for r in rows:
        out[int(r["patient_id"])].append(r)
    return out


def _value(name: str, value: Any) -> Any:
    if isinstance(value, Decimal) and name in _ROUNDED:
        return value.quantize(Decimal(1).scaleb(-DERIVED_PLACES), rounding=ROUND_HALF_UP)
    return value


def _subtypes(raw: Any) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("group"), int):
            out[entry["group"]] = {str(s) for s in entry.get("subtypes") or ()}
    return out


def build_export(
    session: Session,
    *,
    secret: bytes,
    hospital_id: str,
    ph_only: bool = False,
    shift_dates: bool = True,
    min_k: int = DEFAULT_MIN_K,
    birth_band_at_least: int = 1,
    today: dt.date | None = None,
) -> RegistryExport:
    """Read everything needed (a handful of statements) and anonymise it.

    Raises ``registry_privacy.NotAnonymous`` (a ValueError) with the reason when
    no generalisation puts every patient in a group of ``min_k``;
    ``birth_band_at_least`` starts the ladder at that birth-year band.
    """
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"The registry secret must be at least {MIN_SECRET_BYTES} bytes")
    # A staging copy's patients must never reach the registry (raises OnStaging).
    refuse_on_staging(session, "The registry export")
    if not hospital_id.strip():
        raise ValueError("A hospital ID is needed for the registry export")
    where = "WHERE p.ph_group IS NOT NULL" if ph_only else ""
    patients = _rows(session, _PATIENTS.format(where=where))
    lists = {r["key"]: r["value"] for r in _rows(session, _LISTS)}
    medicines = {str(m).casefold(): str(m) for m in lists.get("pah_medicines") or ()}
    subtypes = _subtypes(lists.get("ph_groups"))
    assessments = _by_patient(_rows(session, _ASSESSMENTS))
    walks = _by_patient(_rows(session, _WALKS))
    challenges = _by_patient(_rows(session, _CHALLENGES))
    steps: dict[int, list[Mapping[Any, Any]]] = defaultdict(list)
    for s in _rows(session, _STEPS):
        steps[int(s["challenge_id"])].append(s)
    medications = _by_patient(
        r for r in _rows(session, _MEDICATIONS) if str(r["name"]).strip().casefold() in medicines
    )

    out: list[RegistryPatient] = []
    for p in patients:
        pid, code = int(p["id"]), str(p["patient_code"])
        shift = dt.timedelta(days=date_shift_days(secret, code) if shift_dates else 0)

        def moved(day: dt.date | None, shift: dt.timedelta = shift) -> dt.date | None:
            return None if day is None else day + shift

        records: list[RegistryRecord] = []
        records += _records(
            "assessment", assessments.get(pid, []), ASSESSMENT_FIELDS, "study_date", moved
        )
        records += _records("six_minute_walk", walks.get(pid, []), WALK_FIELDS, "study_date", moved)
        ordered_challenges = _in_order(challenges.get(pid, []), "study_date")
        records += _records(
            "vasodilator_challenge", ordered_challenges, CHALLENGE_FIELDS, "study_date", moved
        )
        n = 0
        for challenge_no, c in enumerate(ordered_challenges, start=1):
            for s in steps.get(int(c["challenge_id"]), []):
                n += 1
                values = {f: _value(f, s[f]) for f in STEP_FIELDS[1:]}
                values["challenge_no"] = challenge_no
                day = moved(c["study_date"])
                assert day is not None
                records.append(RegistryRecord("vasodilator_step", n, day, MappingProxyType(values)))
        meds = [
            {
                **m,
                "name": medicines[str(m["name"]).strip().casefold()],
                # Every exported medicine is on the list: its class, also for rows
                # entered before classes were recorded.
                "therapy_class": m["therapy_class"]
                or therapy.class_of_listed(medicines[str(m["name"]).strip().casefold()]),
                "stopped_on": moved(m["stopped_on"]),
            }
            for m in medications.get(pid, [])
        ]
        records += _records("medication", meds, MEDICATION_FIELDS, "started_on", moved)
        subtype = p["ph_subtype"]
        if subtype is not None and subtype not in subtypes.get(p["ph_group"], set()):
            subtype = "other"
        out.append(
            RegistryPatient(
                patient_key=patient_key(secret, code),
                birth_year=int(p["birth_year"]),
                sex=str(p["sex"]),
                ph_group=p["ph_group"],
                ph_subtype=subtype,
                status=str(p["status"]),
                deceased_date=moved(p["deceased_date"]),
                records=tuple(records),
            )
        )
    out.sort(key=lambda rp: rp.patient_key)
    protected, outcome = registry_privacy.protect(
        out, min_k=min_k, exact_dates=not shift_dates, birth_band_at_least=birth_band_at_least
    )
    return RegistryExport(
        hospital_id=hospital_id.strip(),
        generated_on=today or dt.date.today(),
        ph_only=ph_only,
        dates_shifted=shift_dates,
        patients=tuple(protected),
        anonymity=outcome,
    )


def anonymity_header(outcome: Outcome) -> dict[str, Any]:
    """What the export says about its own privacy."""
    return {
        "k": outcome.k,
        "min_k": outcome.min_k,
        "quasi_identifiers": sorted(outcome.present),
        "generalised": outcome.generalised,
    }


def generalisation_header(outcome: Outcome) -> dict[str, Any]:
    """The generalisation the values are written at, declared as the format wants it."""
    return generalisation(outcome.level.birth_band, outcome.level.keep_subtype)


def _in_order(rows: Sequence[Mapping[Any, Any]], date_key: str) -> list[Mapping[Any, Any]]:
    return sorted(rows, key=lambda r: (r[date_key], r["created_at"]))


def _records(
    record_type: str,
    rows: Sequence[Mapping[Any, Any]],
    names: Sequence[str],
    date_key: str,
    moved: Any,
) -> list[RegistryRecord]:
    return [
        RegistryRecord(
            record_type,
            n,
            moved(r[date_key]),
            MappingProxyType({f: _value(f, r[f]) for f in names}),
        )
        for n, r in enumerate(_in_order(rows, date_key), start=1)
    ]


# --------------------------------------------------------------------- files


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def patient_document(p: RegistryPatient) -> dict[str, Any]:
    """One patient as a JSON object of the export format (plain JSON values)."""
    return {
        "patient_key": p.patient_key,
        "birth_year": p.birth_year,
        "sex": p.sex,
        "ph_group": p.ph_group,
        "ph_subtype": p.ph_subtype,
        "status": p.status,
        "deceased_date": _plain(p.deceased_date),
        "records": [
            {
                "type": r.record_type,
                "no": r.record_no,
                "date": r.date.isoformat(),
                **{k: _plain(v) for k, v in r.values.items()},
            }
            for r in p.records
        ],
    }


def export_json(export: RegistryExport) -> bytes:
    """One JSON document: the header and every patient with their records."""
    doc = {
        "format": FORMAT,
        "hospital_id": export.hospital_id,
        "generated_on": export.generated_on.isoformat(),
        "ph_only": export.ph_only,
        "dates_shifted": export.dates_shifted,
        "generalisation": generalisation_header(export.anonymity),
        "anonymity": anonymity_header(export.anonymity),
        "patients": [patient_document(p) for p in export.patients],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def csv_columns() -> tuple[str, ...]:
    record_fields: list[str] = []
    for names in (ASSESSMENT_FIELDS, WALK_FIELDS, CHALLENGE_FIELDS, STEP_FIELDS, MEDICATION_FIELDS):
        record_fields += [n for n in names if n not in record_fields]
    return (*PATIENT_COLUMNS, "record_type", "record_no", "date", *record_fields)


def export_csv(export: RegistryExport) -> bytes:
    """One row per record (a ``patient`` row first for every patient), UTF-8."""
    columns = csv_columns()
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for p in export.patients:
        base = {
            "hospital_id": export.hospital_id,
            "patient_key": p.patient_key,
            "birth_year": p.birth_year,
            "sex": p.sex,
            "ph_group": p.ph_group,
            "ph_subtype": p.ph_subtype,
            "status": p.status,
            "deceased_date": _plain(p.deceased_date),
        }
        writer.writerow({**base, "record_type": "patient"})
        for r in p.records:
            writer.writerow(
                {
                    **base,
                    "record_type": r.record_type,
                    "record_no": r.record_no,
                    "date": r.date.isoformat(),
                    **{k: _plain(v) for k, v in r.values.items()},
                }
            )
    return out.getvalue().encode("utf-8")


def write_export(path: Path, data: bytes) -> None:
    """Write atomically, readable by the owner only (mkstemp makes the file 0600)."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
