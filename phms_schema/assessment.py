"""One visit: an assessment or a followup, with haemodynamics derived by the database.

A followup needs an earlier assessment of the same patient (trigger
``phms.record_rules``, constraint name ``ck_assessment_followup_needs_assessment``).

Derived values are STORED generated columns at full ``numeric`` precision
(round only for display); ``phms_client.clinical.formulas`` computes the same
for the form's preview. The expressions guard against a zero or negative input
so that an implausible value is reported by its range check, not as a division
by zero.

``ph_class`` (ESC/ERS 2022), exactly:

- mPAP missing → NULL; mPAP ≤ 20 → 'no PH' (whatever PAWP/CO are);
- mPAP > 20 and PAWP or CO missing → NULL (cannot be classified);
- PAWP ≤ 15 and PVR > 2 → 'pre-capillary'; PAWP ≤ 15 and PVR ≤ 2 → 'unclassified';
- PAWP > 15 and PVR ≤ 2 → 'isolated post-capillary';
- PAWP > 15 and PVR > 2 → 'combined post- and pre-capillary'.

So 20 mmHg is not PH, PAWP 15 is on the pre-capillary side and PVR 2.0 WU is not
raised. PVR > 2 is tested as ``mpap - pawp > 2 * co`` (exact, no division).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Computed, Index, Numeric, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, Str
from phms_schema.clinical_common import (
    Derived,
    EnteredInError,
    ForPatient,
    Measure,
    entry_checks,
    range_checks,
)
from phms_schema.ddl_diagnosis import CONSISTENCY, ENUM_CHECKS, SVI_SQL, TAPSE_SPAP_SQL
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

KINDS = ("assessment", "followup")

#: Plausible ranges (PH_DOMAIN.md; the rest are PHMS decisions) = phms_client.clinical.ranges.
RANGES = {
    "who_fc": ("1", "4"),
    "height_cm": ("30", "250"),
    "weight_kg": ("1", "400"),
    "heart_rate_bpm": ("20", "250"),
    "spo2_pct": ("40", "100"),
    "bnp_pg_ml": ("0", "50000"),
    "nt_probnp_pg_ml": ("0", "100000"),
    "creatinine_umol_l": ("5", "3000"),
    "tapse_mm": ("1", "60"),
    "ra_area_cm2": ("1", "100"),
    "rap_mmhg": ("-5", "40"),
    "spap_mmhg": ("0", "250"),
    "dpap_mmhg": ("0", "150"),
    "mpap_mmhg": ("0", "150"),
    "pawp_mmhg": ("0", "60"),
    "co_l_min": ("0.5", "20"),
    "svo2_pct": ("10", "100"),
    "rhc_heart_rate_bpm": ("20", "250"),
    # 0012 (ours)
    "echo_spap_mmhg": ("5", "250"),
    "peak_vo2_ml_min_kg": ("1", "80"),
    "ve_vco2_slope": ("10", "100"),
}

_BODY_OK = "height_cm > 0 AND weight_kg > 0"
_BSA = "sqrt(height_cm * weight_kg / 3600)"
BSA_SQL = f"CASE WHEN {_BODY_OK} THEN {_BSA} ELSE NULL END"
CARDIAC_INDEX_SQL = f"CASE WHEN {_BODY_OK} THEN co_l_min / {_BSA} ELSE NULL END"
TPG_SQL = "mpap_mmhg - pawp_mmhg"
DPG_SQL = "dpap_mmhg - pawp_mmhg"
PVR_WU_SQL = "(mpap_mmhg - pawp_mmhg) / NULLIF(co_l_min, 0)"
PVR_DYN_SQL = "(mpap_mmhg - pawp_mmhg) * 80 / NULLIF(co_l_min, 0)"
PH_CLASS_SQL = (
    "CASE"
    " WHEN mpap_mmhg IS NULL THEN NULL"
    " WHEN mpap_mmhg <= 20 THEN 'no PH'"
    " WHEN pawp_mmhg IS NULL OR co_l_min IS NULL THEN NULL"
    " WHEN pawp_mmhg <= 15 AND mpap_mmhg - pawp_mmhg > 2 * co_l_min THEN 'pre-capillary'"
    " WHEN pawp_mmhg <= 15 THEN 'unclassified'"
    " WHEN mpap_mmhg - pawp_mmhg > 2 * co_l_min THEN 'combined post- and pre-capillary'"
    " ELSE 'isolated post-capillary'"
    " END"
)
PRESSURES_ORDERED_SQL = (
    "(dpap_mmhg IS NULL OR mpap_mmhg IS NULL OR dpap_mmhg <= mpap_mmhg)"
    " AND (mpap_mmhg IS NULL OR spap_mmhg IS NULL OR mpap_mmhg <= spap_mmhg)"
    " AND (dpap_mmhg IS NULL OR spap_mmhg IS NULL OR dpap_mmhg <= spap_mmhg)"
)


def _derived(sql: str) -> Mapped[Derived]:
    return mapped_column(Numeric, Computed(sql, persisted=True))


class Assessment(ForPatient, EnteredInError, Audited, Base):
    __tablename__ = "assessment"

    id: Mapped[BigId]
    kind: Mapped[Str]
    study_date: Mapped[dt.date]
    who_fc: Mapped[int | None] = mapped_column(SmallInteger)
    # vitals
    height_cm: Mapped[Measure]
    weight_kg: Mapped[Measure]
    heart_rate_bpm: Mapped[Measure]
    spo2_pct: Mapped[Measure]
    # laboratory
    bnp_pg_ml: Mapped[Measure]
    nt_probnp_pg_ml: Mapped[Measure]
    creatinine_umol_l: Mapped[Measure]
    # echocardiography
    tapse_mm: Mapped[Measure]
    ra_area_cm2: Mapped[Measure]
    echo_spap_mmhg: Mapped[Measure]
    #: none | minimal | moderate or large | present (size not recorded, before 0012)
    pericardial_effusion: Mapped[str | None] = mapped_column(Text)
    # clinical signs (risk at diagnosis, 0012)
    rhf_signs: Mapped[bool | None] = mapped_column(Boolean)
    symptom_progression: Mapped[str | None] = mapped_column(Text)  # none | slow | rapid
    syncope: Mapped[str | None] = mapped_column(Text)  # none | occasional | repeated
    # exercise test (optional CPET, 0012)
    peak_vo2_ml_min_kg: Mapped[Measure]
    ve_vco2_slope: Mapped[Measure]
    # right heart catheter
    rap_mmhg: Mapped[Measure]
    spap_mmhg: Mapped[Measure]
    dpap_mmhg: Mapped[Measure]
    mpap_mmhg: Mapped[Measure]
    pawp_mmhg: Mapped[Measure]
    co_l_min: Mapped[Measure]
    svo2_pct: Mapped[Measure]
    rhc_heart_rate_bpm: Mapped[Measure]
    # derived by the database
    bsa_m2: Mapped[Derived] = _derived(BSA_SQL)
    cardiac_index_l_min_m2: Mapped[Derived] = _derived(CARDIAC_INDEX_SQL)
    tpg_mmhg: Mapped[Derived] = _derived(TPG_SQL)
    dpg_mmhg: Mapped[Derived] = _derived(DPG_SQL)
    pvr_wu: Mapped[Derived] = _derived(PVR_WU_SQL)
    pvr_dyn_s_cm5: Mapped[Derived] = _derived(PVR_DYN_SQL)
    ph_class: Mapped[str | None] = mapped_column(Text, Computed(PH_CLASS_SQL, persisted=True))
    svi_ml_m2: Mapped[Derived] = _derived(SVI_SQL)
    tapse_spap_ratio: Mapped[Derived] = _derived(TAPSE_SPAP_SQL)

    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="kind_known"),
        # Named to sort after the range checks: PostgreSQL tests CHECKs by name, and an
        # implausible value is better reported by its range than by the order.
        CheckConstraint(PRESSURES_ORDERED_SQL, name="valid_pressure_order"),
        *range_checks(RANGES),
        *entry_checks(),
        *model_checks("assessment"),
        *(CheckConstraint(sql, name=name) for name, sql in ENUM_CHECKS["assessment"].items()),
        *(CheckConstraint(sql, name=name) for name, sql in CONSISTENCY.items()),
        Index("ix_assessment_patient_id_study_date", "patient_id", "study_date"),
    )
