"""The registry export format: the one thing PHMS and the registry service share.

``phms_client.services.registry_export`` builds documents in this format;
``phms_registry`` (the registry's receiving service) validates them against it.
Neither imports the other. A field is exported only when it is listed here.

An upload *batch* (``BATCH_FORMAT``) is one JSON object::

    {"format": BATCH_FORMAT, "export_format": FORMAT, "batch_id": "<uuid>",
     "hospital_id": "...", "generated_on": "YYYY-MM-DD", "ph_only": bool,
     "dates_shifted": bool, "birth_year_band": 1|5|10,
     "patients": [<patient>, ...], "removed": ["<patient_key>", ...]}

``patients`` replace what the registry holds for those keys (a whole patient,
never a part); ``removed`` are keys the hospital no longer sends (deleted,
no longer in the selection). The body's SHA-256 travels in the
``Content-SHA256`` header.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

#: /2 (migration 0012): risk at diagnosis, its variables and the therapy class.
FORMAT: Final = "phms-registry-export/2"
BATCH_FORMAT: Final = "phms-registry-batch/1"
#: Birth-year generalisation the sender may apply (1 = exact year).
BIRTH_YEAR_BANDS: Final = (1, 5, 10)
SEXES: Final = ("female", "male", "other", "unknown")
STATUSES: Final = ("active", "deceased", "transferred")

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
