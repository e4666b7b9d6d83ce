"""Risk at diagnosis: the ESC/ERS 2022 three strata (Humbert et al., Eur Heart J 2022).

The same rules as the database view ``phms.assessment_risk_at_diagnosis`` (and its
grade functions ``phms.risk3_grade_*``); the view is the record, this is the
form's live preview. The four strata of :mod:`phms_client.clinical.risk` are
validated at follow-up only; this scale is for the patient's **first assessment**
(the earliest live row of kind 'assessment', by study date, then by id).

Every variable that is present is graded on its own, 1 (low), 2 (intermediate)
or 3 (high); the stratum is the mean of the grades rounded half up
(⌊(2·sum + n) / (2·n)⌋, so 1.5 → 2 and 2.5 → 3) and needs at least three
graded variables (the Swedish/COMPERA method, Kylhammar 2018, Hoeper 2017).

| variable                        | 1 low   | 2 intermediate      | 3 high            |
|---------------------------------|---------|---------------------|-------------------|
| signs of right heart failure    | absent  | absent              | present           |
| progression of symptoms         | none    | slow                | rapid             |
| syncope                         | none    | occasional          | repeated          |
| WHO-FC                          | I, II   | III                 | IV                |
| 6MWD (m)                        | > 440   | 165–440             | < 165             |
| BNP / NT-proBNP (pg/mL)         | < 50 / < 300 | 50–800 / 300–1100 | > 800 / > 1100 |
| RA area, echo (cm²)             | < 18    | 18–26               | > 26              |
| TAPSE (mm) / sPAP echo (mmHg)   | > 0.32  | 0.19–0.32           | < 0.19            |
| pericardial effusion            | none    | minimal             | moderate or large |
| peak VO2 (mL/min/kg)            | > 15    | 11–15               | < 11              |
| VE/VCO2 slope                   | < 36    | 36–44               | > 44              |
| RAP (mmHg)                      | < 8     | 8–14                | > 14              |
| cardiac index (L/min/m²)        | ≥ 2.5   | 2.0–< 2.5           | < 2.0             |
| stroke volume index (mL/m²)     | > 38    | 31–38               | < 31              |
| SvO2 (%)                        | > 65    | 60–65               | < 60              |

Between the printed bounds a value belongs to the middle band, and both printed
bounds of a middle band belong to it (6MWD 440 and 165 → 2, 164.9 → 3; RAP 14 →
2, 14.1 → 3; CI 2.45 → 2). Signs of right heart failure: absent → 1 (the table
gives "absent" for low and intermediate), present → 3. NT-proBNP is used when both
peptides were measured. TAPSE/sPAP is compared without dividing (TAPSE > 0.32 ×
sPAP), so the grade at a cut-off is exact. Stroke volume index = CI × 1000 / the
catheter heart rate. A pericardial effusion recorded before sizes were recorded
('present', size unknown) is not graded.

Impossible values (outside the plausible ranges of :mod:`phms_client.clinical.ranges`)
are refused with :class:`ImpossibleValue`, never graded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Final

from phms_client.clinical import ranges
from phms_client.clinical.formulas import Number, exact
from phms_client.clinical.ranges import ImpossibleValue

__all__ = [
    "EFFUSIONS",
    "LABELS",
    "MIN_VARIABLES",
    "PROGRESSIONS",
    "SCALE",
    "SYNCOPES",
    "VARIABLES",
    "DiagnosisInputs",
    "DiagnosisRisk",
    "ImpossibleValue",
    "assess",
    "stratum",
    "stroke_volume_index",
]

SCALE: Final = "ESC/ERS 2022 risk at diagnosis (3 strata)"
LABELS: Final = {1: "low", 2: "intermediate", 3: "high"}
MORTALITY: Final = {1: "< 5 %", 2: "5–20 %", 3: "> 20 %"}
MIN_VARIABLES: Final = 3

PROGRESSIONS: Final = ("none", "slow", "rapid")
SYNCOPES: Final = ("none", "occasional", "repeated")
#: 'present' = recorded before the size was asked (migration 0012); not graded.
EFFUSIONS: Final = ("none", "minimal", "moderate or large", "present")

#: Variable key -> label, in the guideline's order.
VARIABLES: Final = {
    "rhf": "Signs of right heart failure",
    "progression": "Progression of symptoms",
    "syncope": "Syncope",
    "who_fc": "WHO-FC",
    "walk": "6MWD",
    "peptide": "BNP / NT-proBNP",
    "ra_area": "RA area",
    "tapse_spap": "TAPSE/sPAP",
    "effusion": "Pericardial effusion",
    "peak_vo2": "Peak VO2",
    "ve_vco2": "VE/VCO2 slope",
    "rap": "RAP",
    "cardiac_index": "Cardiac index",
    "svi": "Stroke volume index",
    "svo2": "SvO2",
}

_CTX = Context(prec=40)
#: Plausible limits of the variables not in ``ranges`` (derived, or ours).
_CI_MAX = Decimal(100)


def _checked(value: Number, limits: ranges.Range) -> Decimal:
    return limits.checked(exact(value))


def _choice(value: str, options: tuple[str, ...], what: str) -> str:
    if value not in options:
        raise ImpossibleValue(f"{what}: “{value}” is not one of {', '.join(options)}")
    return value


def _band(value: Decimal, low_above: Decimal, high_below: Decimal) -> int:
    """Higher is better: > low_above → 1, < high_below → 3, else 2."""
    if value > low_above:
        return 1
    if value < high_below:
        return 3
    return 2


def _band_rising(value: Decimal, low_below: Decimal, high_above: Decimal) -> int:
    """Higher is worse: < low_below → 1, > high_above → 3, else 2."""
    if value < low_below:
        return 1
    if value > high_above:
        return 3
    return 2


# ------------------------------------------------------------------ grades


def grade_rhf(signs: bool | None) -> int | None:
    return None if signs is None else (3 if signs else 1)


def grade_progression(progression: str | None) -> int | None:
    if progression is None:
        return None
    return PROGRESSIONS.index(_choice(progression, PROGRESSIONS, "Progression of symptoms")) + 1


def grade_syncope(syncope: str | None) -> int | None:
    if syncope is None:
        return None
    return SYNCOPES.index(_choice(syncope, SYNCOPES, "Syncope")) + 1


def grade_who_fc(who_fc: int | None) -> int | None:
    if who_fc is None:
        return None
    _checked(who_fc, ranges.WHO_FC)
    if who_fc != int(who_fc):
        raise ImpossibleValue(ranges.WHO_FC.message)
    return {1: 1, 2: 1, 3: 2, 4: 3}[int(who_fc)]


def grade_walk(distance_m: Number | None) -> int | None:
    if distance_m is None:
        return None
    return _band(_checked(distance_m, ranges.WALK_DISTANCE), Decimal(440), Decimal(165))


def grade_bnp(bnp: Number | None) -> int | None:
    if bnp is None:
        return None
    return _band_rising(_checked(bnp, ranges.BNP), Decimal(50), Decimal(800))


def grade_nt_probnp(nt_probnp: Number | None) -> int | None:
    if nt_probnp is None:
        return None
    return _band_rising(_checked(nt_probnp, ranges.NT_PROBNP), Decimal(300), Decimal(1100))


def grade_ra_area(area_cm2: Number | None) -> int | None:
    if area_cm2 is None:
        return None
    return _band_rising(_checked(area_cm2, ranges.RA_AREA), Decimal(18), Decimal(26))


def grade_tapse_spap(tapse_mm: Number | None, spap_mmhg: Number | None) -> int | None:
    """TAPSE (mm) / sPAP (mmHg): > 0.32 → 1, 0.19–0.32 → 2, < 0.19 → 3 (no division)."""
    if tapse_mm is None or spap_mmhg is None:
        return None
    tapse = _checked(tapse_mm, ranges.TAPSE)
    spap = _checked(spap_mmhg, ranges.ECHO_SPAP)
    if tapse > Decimal("0.32") * spap:
        return 1
    if tapse < Decimal("0.19") * spap:
        return 3
    return 2


def grade_effusion(effusion: str | None) -> int | None:
    if effusion is None:
        return None
    _choice(effusion, EFFUSIONS, "Pericardial effusion")
    return {"none": 1, "minimal": 2, "moderate or large": 3}.get(effusion)


def grade_peak_vo2(vo2: Number | None) -> int | None:
    if vo2 is None:
        return None
    return _band(_checked(vo2, ranges.PEAK_VO2), Decimal(15), Decimal(11))


def grade_ve_vco2(slope: Number | None) -> int | None:
    if slope is None:
        return None
    return _band_rising(_checked(slope, ranges.VE_VCO2), Decimal(36), Decimal(44))


def grade_rap(rap_mmhg: Number | None) -> int | None:
    if rap_mmhg is None:
        return None
    return _band_rising(_checked(rap_mmhg, ranges.RAP), Decimal(8), Decimal(14))


def grade_cardiac_index(ci: Number | None) -> int | None:
    """≥ 2.5 → 1, 2.0–< 2.5 → 2, < 2.0 → 3 (2.5 itself is low risk)."""
    if ci is None:
        return None
    value = exact(ci)
    if not Decimal(0) < value <= _CI_MAX:
        raise ImpossibleValue("The cardiac index must be above 0 L/min/m²")
    if value >= Decimal("2.5"):
        return 1
    if value >= Decimal("2.0"):
        return 2
    return 3


def grade_svi(svi: Number | None) -> int | None:
    if svi is None:
        return None
    value = exact(svi)
    if value <= 0:
        raise ImpossibleValue("The stroke volume index must be above 0 mL/m²")
    return _band(value, Decimal(38), Decimal(31))


def grade_svo2(svo2: Number | None) -> int | None:
    if svo2 is None:
        return None
    return _band(_checked(svo2, ranges.SVO2), Decimal(65), Decimal(60))


# ---------------------------------------------------------------- derived


def _bsa(height_cm: Number, weight_kg: Number) -> Decimal | None:
    h, w = exact(height_cm), exact(weight_kg)
    if h <= 0 or w <= 0:
        return None
    return _CTX.sqrt(_CTX.divide(_CTX.multiply(h, w), Decimal(3600)))


def cardiac_index(
    co_l_min: Number | None, height_cm: Number | None, weight_kg: Number | None
) -> Decimal | None:
    """CO / BSA (Mosteller) as a Decimal (the grade compares it exactly)."""
    if co_l_min is None or height_cm is None or weight_kg is None:
        return None
    area = _bsa(height_cm, weight_kg)
    return None if area is None else _CTX.divide(exact(co_l_min), area)


def stroke_volume_index(
    co_l_min: Number | None,
    height_cm: Number | None,
    weight_kg: Number | None,
    heart_rate_bpm: Number | None,
) -> Decimal | None:
    """Stroke volume index, mL/m²: CI × 1000 / heart rate (the catheter's)."""
    ci = cardiac_index(co_l_min, height_cm, weight_kg)
    if ci is None or heart_rate_bpm is None or exact(heart_rate_bpm) <= 0:
        return None
    return _CTX.divide(_CTX.multiply(ci, Decimal(1000)), exact(heart_rate_bpm))


# ---------------------------------------------------------------- stratum


def stratum(grades: list[int | None]) -> int | None:
    """Mean of the known grades rounded half up; None with fewer than three."""
    known = [g for g in grades if g is not None]
    if len(known) < MIN_VARIABLES:
        return None
    return (2 * sum(known) + len(known)) // (2 * len(known))


@dataclass(frozen=True)
class DiagnosisInputs:
    """What one first assessment holds (the walk is the nearest within 14 days)."""

    rhf_signs: bool | None = None
    symptom_progression: str | None = None
    syncope: str | None = None
    who_fc: int | None = None
    walk_m: Number | None = None
    bnp_pg_ml: Number | None = None
    nt_probnp_pg_ml: Number | None = None
    ra_area_cm2: Number | None = None
    tapse_mm: Number | None = None
    echo_spap_mmhg: Number | None = None
    pericardial_effusion: str | None = None
    peak_vo2_ml_min_kg: Number | None = None
    ve_vco2_slope: Number | None = None
    rap_mmhg: Number | None = None
    co_l_min: Number | None = None
    height_cm: Number | None = None
    weight_kg: Number | None = None
    rhc_heart_rate_bpm: Number | None = None
    svo2_pct: Number | None = None


@dataclass(frozen=True)
class DiagnosisRisk:
    #: Variable key (see VARIABLES) -> grade 1–3, or None when not graded.
    grades: dict[str, int | None]
    peptide: str | None  # 'NT-proBNP' | 'BNP' | None
    cardiac_index: Decimal | None
    stroke_volume_index: Decimal | None
    n_variables: int
    mean_grade: Decimal | None
    stratum: int | None

    @property
    def label(self) -> str | None:
        return None if self.stratum is None else LABELS[self.stratum]


def assess(v: DiagnosisInputs) -> DiagnosisRisk:
    """Every variable's grade and the stratum (NT-proBNP preferred over BNP)."""
    if v.nt_probnp_pg_ml is not None:
        peptide, peptide_grade = "NT-proBNP", grade_nt_probnp(v.nt_probnp_pg_ml)
    elif v.bnp_pg_ml is not None:
        peptide, peptide_grade = "BNP", grade_bnp(v.bnp_pg_ml)
    else:
        peptide, peptide_grade = None, None
    ci = cardiac_index(v.co_l_min, v.height_cm, v.weight_kg)
    svi = stroke_volume_index(v.co_l_min, v.height_cm, v.weight_kg, v.rhc_heart_rate_bpm)
    grades = {
        "rhf": grade_rhf(v.rhf_signs),
        "progression": grade_progression(v.symptom_progression),
        "syncope": grade_syncope(v.syncope),
        "who_fc": grade_who_fc(v.who_fc),
        "walk": grade_walk(v.walk_m),
        "peptide": peptide_grade,
        "ra_area": grade_ra_area(v.ra_area_cm2),
        "tapse_spap": grade_tapse_spap(v.tapse_mm, v.echo_spap_mmhg),
        "effusion": grade_effusion(v.pericardial_effusion),
        "peak_vo2": grade_peak_vo2(v.peak_vo2_ml_min_kg),
        "ve_vco2": grade_ve_vco2(v.ve_vco2_slope),
        "rap": grade_rap(v.rap_mmhg),
        "cardiac_index": grade_cardiac_index(ci),
        "svi": grade_svi(svi),
        "svo2": grade_svo2(v.svo2_pct),
    }
    known = [g for g in grades.values() if g is not None]
    enough = len(known) >= MIN_VARIABLES
    return DiagnosisRisk(
        grades=grades,
        peptide=peptide,
        cardiac_index=ci,
        stroke_volume_index=svi,
        n_variables=len(known),
        mean_grade=Decimal(sum(known)) / len(known) if enough else None,
        stratum=stratum(list(grades.values())),
    )
