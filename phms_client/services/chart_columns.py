"""What each kind of chart row carries on the wire, and where it comes from.

The column lists (:mod:`~phms_client.services.chart_wire`) follow the dataclasses of
:mod:`~phms_client.services.chart_types`; a row leaves out what the chart already
knows: the patient's id, ``entered_in_error`` and its reason (only live rows are
loaded), and on a risk row what its assessment holds. Each ``*_FROM`` is the row's
source, joined to the views that derive its values; ``{where}`` picks the rows.

Decoding gives rows shaped as the record builders of
:mod:`~phms_client.services.chart_assembly` read them (walks with their prediction,
challenges with ``steps``, items with ``kind``, risk rows with ``diagnosis``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from phms_client.services.chart_risk import DiagnosisRiskPoint
from phms_client.services.chart_types import (
    AssessmentInput,
    Haemodynamics,
    ItemInput,
    ItemKind,
    RiskPoint,
    StepInput,
    WalkInput,
    WalkPrediction,
)
from phms_client.services.chart_wire import Column, RowSpec, columns_of, stamp_columns
from phms_client.services.patients import PatientDetails

ASSESSMENT: Final = RowSpec(
    (
        Column("id", "a.id"),
        *columns_of(AssessmentInput, "a", skip=("patient_id",)),
        *columns_of(Haemodynamics, "a"),
        *stamp_columns("a"),
    )
)
ASSESSMENT_FROM: Final = "FROM phms.assessment a WHERE NOT a.entered_in_error AND {where}"

WALK: Final = RowSpec(
    (
        Column("id", "w.id"),
        *columns_of(WalkInput, "w", skip=("patient_id",)),
        *columns_of(WalkPrediction, "v"),
        *stamp_columns("w"),
    )
)
WALK_FROM: Final = """FROM phms.six_minute_walk w
  LEFT JOIN phms.six_minute_walk_predicted v ON v.walk_id = w.id
 WHERE NOT w.entered_in_error AND {where}"""

CHALLENGE: Final = RowSpec(
    (
        Column("id", "c.id"),
        Column("study_date", "c.study_date", "date"),
        Column("result", "v.result"),
        Column("positive_step_no", "v.positive_step_no"),
        *stamp_columns("c"),
    )
)
CHALLENGE_FROM: Final = """FROM phms.vasodilator_challenge c
  JOIN phms.vasoreactivity v ON v.challenge_id = c.id
 WHERE NOT c.entered_in_error AND {where}"""
#: A step names its challenge; ``{where}`` picks the challenges (alias ``c``).
STEP: Final = RowSpec((Column("challenge_id", "s.challenge_id"), *columns_of(StepInput, "s")))
STEP_FROM: Final = """FROM phms.vasodilator_step s
  JOIN phms.vasodilator_challenge c ON c.id = s.challenge_id
 WHERE NOT s.entered_in_error AND NOT c.entered_in_error AND {where}"""


def _item_spec(kind: ItemKind) -> RowSpec:
    skip = ("patient_id",) if kind == "medication" else ("patient_id", "therapy_class")
    return RowSpec(
        (
            Column("id", "i.id"),
            *columns_of(ItemInput, "i", skip=skip),
            Column("stopped_on", "i.stopped_on", "date"),
            Column("stop_reason", "i.stop_reason"),
            *stamp_columns("i"),
        )
    )


ITEMS: Final[dict[ItemKind, RowSpec]] = {
    "medication": _item_spec("medication"),
    "allergy": _item_spec("allergy"),
    "comorbidity": _item_spec("comorbidity"),
}


def item_from(kind: ItemKind) -> str:
    return f"FROM phms.{kind} i WHERE NOT i.entered_in_error AND {{where}}"


#: The three-strata row's own columns (``dx_`` before the name); what it shares with
#: the four-strata row (the assessment's date, its walk and peptide) travels once.
_DX_SHARED: Final = (
    "assessment_id", "study_date", "walk_id", "walk_date", "six_mwd_m", "peptide",
    "peptide_value",
)  # fmt: skip
#: Values of the assessment itself, which the chart's assessment rows carry already.
DX_FROM_ASSESSMENT: Final = ("cardiac_index_l_min_m2", "svi_ml_m2", "tapse_spap_ratio")
_RISK_COLUMNS: Final = (
    *columns_of(
        RiskPoint,
        "r",
        skip=("at_diagnosis", "scale", "n_strata", "stratum", "label", "diagnosis"),
        trimmed=("mean_grade",),
    ),
    *(
        Column(f"dx_{c.name}", c.sql, c.encoding)
        for c in columns_of(
            DiagnosisRiskPoint,
            "d",
            skip=(*_DX_SHARED, *DX_FROM_ASSESSMENT),
            trimmed=("mean_grade",),
        )
    ),
)
#: A risk row where the assessment's row is loaded beside it.
RISK: Final = RowSpec(_RISK_COLUMNS)
#: A risk row alone (the whole course, for the risk table and the trend charts).
RISK_ALONE: Final = RowSpec(
    (*_RISK_COLUMNS, *(Column(f"dx_{n}", f"d.{n}") for n in DX_FROM_ASSESSMENT))
)
RISK_FROM: Final = """FROM phms.assessment_risk r
  JOIN phms.assessment_risk_at_diagnosis d
    ON d.assessment_id = r.assessment_id AND d.patient_id = r.patient_id
 WHERE {where}"""

PATIENT: Final = RowSpec(columns_of(PatientDetails, "p"))
PATIENT_FROM: Final = "FROM phms.patient p WHERE {where}"

#: The few values of every assessment and walk the trend charts draw.
COURSE_ASSESSMENT: Final = RowSpec(
    (
        Column("assessment_id", "a.id"),
        Column("study_date", "a.study_date", "date"),
        Column("who_fc", "a.who_fc"),
        Column("nt_probnp_pg_ml", "a.nt_probnp_pg_ml"),
        Column("bnp_pg_ml", "a.bnp_pg_ml"),
        Column("mpap_mmhg", "a.mpap_mmhg"),
        Column("pvr_wu", "a.pvr_wu"),
    )
)
COURSE_WALK: Final = RowSpec(
    (
        Column("walk_id", "w.id"),
        Column("study_date", "w.study_date", "date"),
        Column("distance_m", "w.distance_m"),
    )
)


# ------------------------------------------------------------------ decoding


def assessments(text: str | None, patient_id: int) -> list[dict[str, Any]]:
    return [{**row, "patient_id": patient_id} for row in ASSESSMENT.decode_all(text)]


def walks(text: str | None, patient_id: int) -> list[dict[str, Any]]:
    return [{**row, "patient_id": patient_id} for row in WALK.decode_all(text)]


def challenges(text: str | None, steps: str | None, patient_id: int) -> list[dict[str, Any]]:
    by_challenge: dict[int, list[dict[str, Any]]] = {}
    for step in STEP.decode_all(steps):
        by_challenge.setdefault(step["challenge_id"], []).append(step)
    return [
        {
            **row,
            "patient_id": patient_id,
            "steps": sorted(by_challenge.get(row["id"], ()), key=lambda s: s["step_no"]),
        }
        for row in CHALLENGE.decode_all(text)
    ]


def items(texts: Mapping[ItemKind, str | None], patient_id: int) -> list[dict[str, Any]]:
    return [
        {"therapy_class": None, **row, "kind": kind, "patient_id": patient_id}
        for kind, spec in ITEMS.items()
        for row in spec.decode_all(texts.get(kind))
    ]


def risks(
    text: str | None,
    assessment_rows: Iterable[Mapping[str, Any]] = (),
    *,
    alone: bool = False,
) -> list[dict[str, Any]]:
    """Risk rows with ``diagnosis``; its assessment's values from ``assessment_rows``
    (or from the row itself when ``alone``)."""
    own = {a["id"]: a for a in assessment_rows}
    out = []
    for row in (RISK_ALONE if alone else RISK).decode_all(text):
        plain = {k: v for k, v in row.items() if not k.startswith("dx_")}
        dx = {k[3:]: v for k, v in row.items() if k.startswith("dx_")}
        dx.update({k: row[k] for k in _DX_SHARED})
        if not alone:
            assessment = own.get(row["assessment_id"], {})
            dx.update({k: assessment.get(k) for k in DX_FROM_ASSESSMENT})
        out.append({**plain, "diagnosis": dx})
    return out


__all__ = [
    "ASSESSMENT",
    "ASSESSMENT_FROM",
    "CHALLENGE",
    "CHALLENGE_FROM",
    "COURSE_ASSESSMENT",
    "COURSE_WALK",
    "DX_FROM_ASSESSMENT",
    "ITEMS",
    "PATIENT",
    "PATIENT_FROM",
    "RISK",
    "RISK_ALONE",
    "RISK_FROM",
    "STEP",
    "STEP_FROM",
    "WALK",
    "WALK_FROM",
    "assessments",
    "challenges",
    "item_from",
    "items",
    "risks",
    "walks",
]
