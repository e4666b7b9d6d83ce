"""Live preview of the risk in the assessment form: the ESC/ERS 2022 risk at diagnosis,
and the COMPERA 2.0 four strata at every other visit (:func:`describe_risk`).

Which scale applies is decided as the database decides it
(``phms.assessment_risk_at_diagnosis``): an assessment is *at diagnosis* when no
other live assessment of the patient comes before it (earlier study date, or the
same date and entered before it). Every other visit shows the four strata.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

from phms_client.clinical import risk
from phms_client.clinical import risk_diagnosis as rd
from phms_client.clinical.demographics import format_day
from phms_client.clinical.matching import WALK_WINDOW_DAYS, nearest
from phms_client.ui.chart.record_forms.common import ROMAN, show_number
from phms_client.ui.chart.record_forms.study_header import PatientContext

__all__ = [
    "CHOICES",
    "describe_risk",
    "describe_risk_at_diagnosis",
    "is_at_diagnosis",
    "nearest_walk",
]

#: Column -> (label, ((text shown, stored value), ...)); the first entry is "not recorded".
CHOICES: Final = {
    "rhf_signs": (
        "Signs of right heart failure",
        (("not recorded", None), ("absent", False), ("present", True)),
    ),
    "symptom_progression": (
        "Progression of symptoms",
        (("not recorded", None), ("none", "none"), ("slow", "slow"), ("rapid", "rapid")),
    ),
    "syncope": (
        "Syncope",
        (
            ("not recorded", None),
            ("none", "none"),
            ("occasional (heavy exercise, orthostatic)", "occasional"),
            ("repeated, even with little activity", "repeated"),
        ),
    ),
    "pericardial_effusion": (
        "Pericardial effusion",
        (
            ("not recorded", None),
            ("none", "none"),
            ("minimal", "minimal"),
            ("moderate or large", "moderate or large"),
            ("present, size not recorded", "present"),
        ),
    ),
}
_UNITS: Final = {
    "walk": "m",
    "ra_area": "cm²",
    "peak_vo2": "mL/min/kg",
    "rap": "mmHg",
    "cardiac_index": "L/min/m²",
    "svi": "mL/m²",
    "svo2": "%",
}


def choice_text(column: str, value: object) -> str:
    """The text a stored choice is shown as ("—" when not recorded)."""
    if value is None:
        return "—"
    for text, v in CHOICES[column][1]:
        if v is not None and type(v) is type(value) and v == value:
            return text
    return str(value)


def is_at_diagnosis(timeline: Any, day: dt.date, record_id: int | None) -> bool:
    """True when no other assessment of this patient comes before this one."""
    for e in timeline:
        if e.kind != "assessment" or e.record_id == record_id:
            continue
        if e.study_date < day:
            return False
        if e.study_date == day and (record_id is None or e.record_id < record_id):
            return False
    return True


def _shown(key: str, inputs: rd.DiagnosisInputs, result: rd.DiagnosisRisk) -> str | None:
    """What was graded, in words (None when the variable is missing)."""
    v = inputs
    values: dict[str, object] = {
        "rhf": None if v.rhf_signs is None else ("present" if v.rhf_signs else "absent"),
        "progression": v.symptom_progression,
        "syncope": v.syncope,
        "who_fc": None if v.who_fc is None else ROMAN[v.who_fc],
        "walk": v.walk_m,
        "peptide": v.nt_probnp_pg_ml if v.nt_probnp_pg_ml is not None else v.bnp_pg_ml,
        "ra_area": v.ra_area_cm2,
        "tapse_spap": None,
        "effusion": v.pericardial_effusion,
        "peak_vo2": v.peak_vo2_ml_min_kg,
        "ve_vco2": v.ve_vco2_slope,
        "rap": v.rap_mmhg,
        "cardiac_index": result.cardiac_index,
        "svi": result.stroke_volume_index,
        "svo2": v.svo2_pct,
    }
    if key == "tapse_spap" and v.tapse_mm is not None and v.echo_spap_mmhg is not None:
        ratio = Decimal(v.tapse_mm) / Decimal(v.echo_spap_mmhg)
        return f"TAPSE/sPAP {show_number(ratio, 2)} mm/mmHg"
    value = values[key]
    if value is None:
        return None
    label = "WHO-FC" if key == "who_fc" else rd.VARIABLES[key]
    if key == "peptide":
        label = result.peptide or label
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        if key in ("cardiac_index", "svi"):
            number = show_number(value, 2 if key == "cardiac_index" else 1)
        else:  # as typed: a value at a cut-off must read as that value
            number = format(Decimal(str(value)).normalize(), "f").replace("-", "\N{MINUS SIGN}")
        unit = _UNITS.get(key, "pg/mL" if key == "peptide" else "")
        return f"{label} {number}{' ' + unit if unit else ''}"
    return f"{label} {value}"


def describe_risk_at_diagnosis(inputs: rd.DiagnosisInputs, walk: Any) -> tuple[str, str]:
    """(stratum text, the grade of each variable) for the live preview."""
    try:
        result = rd.assess(inputs)
    except rd.ImpossibleValue as exc:
        return f"cannot grade: {exc}", ""
    parts = []
    for key in rd.VARIABLES:
        grade = result.grades[key]
        shown = _shown(key, inputs, result)
        if shown is None:
            continue
        if key == "walk" and walk is not None:
            shown += f" ({format_day(walk.data.study_date)})"
        parts.append(f"{shown} → {grade if grade is not None else 'not graded'}")
    if walk is None:
        parts.append("no 6-minute walk within 14 days")
    how = "\n".join(parts)
    if result.stratum is None:
        return (
            f"not enough data ({result.n_variables} variables graded; 3 needed)",
            how,
        )
    mortality = rd.MORTALITY[result.stratum]
    return (
        f"{result.label} (stratum {result.stratum} of 3; 1-year mortality {mortality}; "
        f"mean of {result.n_variables} grades {show_number(result.mean_grade, 2)})",
        how,
    )


def nearest_walk(context: PatientContext, day: dt.date) -> Any:
    """The walk the risk at ``day`` uses (nearest within 14 days; the view's rule)."""
    walks = [e.record for e in context.chart.timeline if e.kind == "six_minute_walk"]
    return nearest(
        walks,
        day,
        WALK_WINDOW_DAYS,
        date_of=lambda w: w.data.study_date,
        id_of=lambda w: w.id,
    )


def describe_risk(
    who_fc: int | None,
    walk: Any,
    bnp: Decimal | None,
    nt_probnp: Decimal | None,
) -> tuple[str, str]:
    """(stratum text, how it was reached) for the live preview, COMPERA 2.0."""
    distance = walk.data.distance_m if walk is not None else None
    result = risk.assess(who_fc, distance, bnp, nt_probnp)
    parts = []
    if who_fc is not None:
        parts.append(f"WHO-FC {ROMAN[who_fc]} → {result.fc_grade}")
    if walk is not None:
        parts.append(
            f"6MWD {show_number(distance)} m ({format_day(walk.data.study_date)}) "
            f"→ {result.walk_grade}"
        )
    else:
        parts.append("no 6-minute walk within 14 days")
    if result.peptide is not None:
        parts.append(
            f"{result.peptide} {show_number(result.peptide_value)} pg/mL → {result.peptide_grade}"
        )
    how = " · ".join(parts)
    if result.stratum is None:
        return (
            f"not enough data ({result.n_variables} of WHO-FC, 6MWD, BNP/NT-proBNP; 2 needed)",
            how,
        )
    return f"{result.label} (stratum {result.stratum})", how
