"""The registry export format: the one thing PHMS and the registry service share.

``phms_client.services.registry_export`` builds documents in this format;
``phms_registry`` (the registry's receiving service) validates them against it.
Neither imports the other. A field is exported only when it is listed here.

An upload *batch* (``BATCH_FORMAT``) is one JSON object::

    {"format": BATCH_FORMAT, "export_format": FORMAT, "batch_id": "<uuid>",
     "hospital_id": "...", "generated_on": "YYYY-MM-DD", "ph_only": bool,
     "dates_shifted": bool,
     "generalisation": {"birth_year_band": 1|5|10, "ph_subtype_kept": bool},
     "patients": [<patient>, ...], "removed": ["<patient_key>", ...]}

``patients`` replace what the registry holds for those keys (a whole patient,
never a part); ``removed`` are keys the hospital no longer sends (deleted,
no longer in the selection). The body's SHA-256 travels in the
``Content-SHA256`` header.

**Generalised values** (export /3). The sender generalises its whole cohort at
one rung of ``phms_schema.anonymity.LADDER`` and *declares* it in
``generalisation`` (the export file carries the same object):

- ``birth_year_band`` 1: ``birth_year`` is the year, a number (``1962``);
  5 or 10: it is the band as text, ``"1960-1964"`` / ``"1960-1969"``, starting
  at a multiple of the width (:func:`birth_year_text`, :func:`parse_birth_year`);
- ``ph_subtype_kept`` false: every ``ph_subtype`` is ``null`` (the group is
  sent without its subtype).

A value that does not match the declaration is refused, as is an undeclared one.

**Compatibility.** A registry accepts the current pair (``BATCH_FORMAT`` carrying
``FORMAT``) and the previous one (``LEGACY_BATCH_FORMAT`` carrying
``LEGACY_FORMAT``: a top-level ``birth_year_band`` instead of ``generalisation``,
``birth_year`` always a number, the first year of its band, subtypes always
kept), and stores and judges both alike (``phms_schema.registry_anonymity``). A
sender writes only the current pair (a batch it stored before its upgrade and
resends unchanged is the previous one). The next version must keep accepting the
one before it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from phms_schema import anonymity

#: /3: generalised values (birth-year bands as text, subtype withheld) declared in
#: ``generalisation``. /2 (migration 0012): risk at diagnosis, its variables and the
#: therapy class.
FORMAT: Final = "phms-registry-export/3"
BATCH_FORMAT: Final = "phms-registry-batch/2"
LEGACY_FORMAT: Final = "phms-registry-export/2"
LEGACY_BATCH_FORMAT: Final = "phms-registry-batch/1"
#: batch format -> the export format it carries; what a registry accepts.
ACCEPTED_FORMATS: Final[Mapping[str, str]] = {
    BATCH_FORMAT: FORMAT,
    LEGACY_BATCH_FORMAT: LEGACY_FORMAT,
}
#: Birth-year generalisation the sender may apply (1 = exact year).
BIRTH_YEAR_BANDS: Final = (1, 5, 10)
GENERALISATION_FIELDS: Final = ("birth_year_band", "ph_subtype_kept")
SEXES: Final = ("female", "male", "other", "unknown")
STATUSES: Final = ("active", "deceased", "transferred")
_BAND_TEXT = re.compile(r"(\d{4})-(\d{4})")

ASSESSMENT_FIELDS: Final = (
    "kind",
    "who_fc",
    "height_cm",
    "weight_kg",
    "heart_rate_bpm",
    "spo2_pct",
    "bnp_pg_ml",
    "nt_probnp_pg_ml",
    "creatinine_umol_l",
    "tapse_mm",
    "ra_area_cm2",
    "echo_spap_mmhg",
    "pericardial_effusion",
    "rhf_signs",
    "symptom_progression",
    "syncope",
    "peak_vo2_ml_min_kg",
    "ve_vco2_slope",
    "rap_mmhg",
    "spap_mmhg",
    "dpap_mmhg",
    "mpap_mmhg",
    "pawp_mmhg",
    "co_l_min",
    "svo2_pct",
    "rhc_heart_rate_bpm",
    "bsa_m2",
    "cardiac_index_l_min_m2",
    "tpg_mmhg",
    "dpg_mmhg",
    "pvr_wu",
    "pvr_dyn_s_cm5",
    "ph_class",
    "svi_ml_m2",
    "tapse_spap_ratio",
    "at_diagnosis",
    "risk_stratum",
    "risk_label",
    "risk_at_diagnosis_stratum",
    "risk_at_diagnosis_label",
)
WALK_FIELDS: Final = (
    "distance_m",
    "oxygen_l_min",
    "stops",
    "spo2_before_pct",
    "spo2_after_pct",
    "heart_rate_before_bpm",
    "heart_rate_after_bpm",
    "borg_before",
    "borg_after",
    "predicted_m",
    "percent_predicted",
)
CHALLENGE_FIELDS: Final = ("result", "positive_step_no")
STEP_FIELDS: Final = (
    "challenge_no",
    "step_no",
    "agent",
    "dose",
    "dose_unit",
    "mpap_mmhg",
    "pawp_mmhg",
    "co_l_min",
    "spap_mmhg",
    "dpap_mmhg",
    "heart_rate_bpm",
    "svo2_pct",
)
MEDICATION_FIELDS: Final = ("name", "therapy_class", "stopped_on")

#: record type -> its fields (besides ``type``, ``no`` and ``date``).
RECORD_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "assessment": ASSESSMENT_FIELDS,
    "six_minute_walk": WALK_FIELDS,
    "vasodilator_challenge": CHALLENGE_FIELDS,
    "vasodilator_step": STEP_FIELDS,
    "medication": MEDICATION_FIELDS,
}
#: Fields of a patient in the JSON document.
PATIENT_FIELDS: Final = (
    "patient_key",
    "birth_year",
    "sex",
    "ph_group",
    "ph_subtype",
    "status",
    "deceased_date",
    "records",
)
PATIENT_COLUMNS: Final = (
    "hospital_id",
    "patient_key",
    "birth_year",
    "sex",
    "ph_group",
    "ph_subtype",
    "status",
    "deceased_date",
)


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generalisation(birth_year_band: int, ph_subtype_kept: bool) -> dict[str, Any]:
    """The ``generalisation`` object of a batch or an export file."""
    if birth_year_band not in BIRTH_YEAR_BANDS:
        raise ValueError(f"A birth-year band is one of {BIRTH_YEAR_BANDS}")
    return {"birth_year_band": birth_year_band, "ph_subtype_kept": bool(ph_subtype_kept)}


def birth_year_text(year: int, band: int) -> int | str:
    """``year`` as written at ``band``: itself for 1, else its aligned band as text."""
    if band not in BIRTH_YEAR_BANDS:
        raise ValueError(f"A birth-year band is one of {BIRTH_YEAR_BANDS}")
    return anonymity.band(year, band)


def parse_birth_year(value: Any, band: int) -> int:
    """The first year of a written birth year at the declared ``band``; ValueError if it
    is not written that way (a number for 1, an aligned "YYYY-YYYY" of that width else)."""
    if band == 1:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected the year, a whole number (birth_year_band 1)")
        return value
    match = _BAND_TEXT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a {band}-year band such as "1960-{1960 + band - 1}"')
    start, end = int(match[1]), int(match[2])
    if start % band or end != start + band - 1:
        raise ValueError(
            f"not a {band}-year band: it starts at a multiple of {band} and spans {band} years"
        )
    return start


def declared_generalisation(body: Mapping[str, Any]) -> tuple[int, bool]:
    """(birth-year band, subtype kept) of a batch that passed validation, either version."""
    if body.get("format") == LEGACY_BATCH_FORMAT:
        return int(body["birth_year_band"]), True
    g = body["generalisation"]
    return int(g["birth_year_band"]), bool(g["ph_subtype_kept"])
