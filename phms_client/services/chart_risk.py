"""The chart's two risk scales and its PAH therapy, from what the chart query loaded.

- **At diagnosis** (the patient's first assessment: the earliest live row of kind
  'assessment', by study date, then id): the ESC/ERS 2022 three strata from
  ``phms.assessment_risk_at_diagnosis``. Its four-strata stratum is not shown
  (COMPERA 2.0 is validated at follow-up only): the point's ``risk_stratum`` and
  ``risk_label`` are None, its grades stay.
- **At follow-up** (every later visit): the COMPERA 2.0 four strata of
  ``phms.assessment_risk``, as before.

``RiskPoint.stratum`` / ``label`` / ``scale`` / ``n_strata`` say which applies, so
no screen, report or export has to decide again.

PAH therapy on a date and its changes come from the chart's medication entries
(current, stopped and later ones: every live entry), by
:mod:`phms_client.clinical.therapy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from phms_client.clinical import therapy
from phms_client.clinical.risk_diagnosis import SCALE as DIAGNOSIS_SCALE

__all__ = [
    "DIAGNOSIS_SCALE",
    "FOLLOWUP_SCALE",
    "GRADE_COLUMNS",
    "DiagnosisRiskPoint",
    "therapy_context",
    "therapy_course",
    "treatments",
]

FOLLOWUP_SCALE: Final = "COMPERA 2.0 follow-up risk (4 strata)"

#: View column -> variable key of ``risk_diagnosis.VARIABLES``.
GRADE_COLUMNS: Final = {
    "rhf_grade": "rhf",
    "progression_grade": "progression",
    "syncope_grade": "syncope",
    "fc_grade": "who_fc",
    "walk_grade": "walk",
    "peptide_grade": "peptide",
    "ra_area_grade": "ra_area",
    "tapse_spap_grade": "tapse_spap",
    "effusion_grade": "effusion",
    "peak_vo2_grade": "peak_vo2",
    "ve_vco2_grade": "ve_vco2",
    "rap_grade": "rap",
    "ci_grade": "cardiac_index",
    "svi_grade": "svi",
    "svo2_grade": "svo2",
}


@dataclass(frozen=True)
class DiagnosisRiskPoint:
    """One row of ``phms.assessment_risk_at_diagnosis`` (three strata)."""

    assessment_id: int
    study_date: dt.date
    at_diagnosis: bool = False
    walk_id: int | None = None
    walk_date: dt.date | None = None
    six_mwd_m: Decimal | None = None
    peptide: str | None = None
    peptide_value: Decimal | None = None
    cardiac_index_l_min_m2: Decimal | None = None
    svi_ml_m2: Decimal | None = None
    tapse_spap_ratio: Decimal | None = None
    rhf_grade: int | None = None
    progression_grade: int | None = None
    syncope_grade: int | None = None
    fc_grade: int | None = None
    walk_grade: int | None = None
    peptide_grade: int | None = None
    ra_area_grade: int | None = None
    tapse_spap_grade: int | None = None
    effusion_grade: int | None = None
    peak_vo2_grade: int | None = None
    ve_vco2_grade: int | None = None
    rap_grade: int | None = None
    ci_grade: int | None = None
    svi_grade: int | None = None
    svo2_grade: int | None = None
    n_variables: int = 0
    mean_grade: Decimal | None = None
    risk_stratum: int | None = None
    risk_label: str | None = None

    def grades(self) -> dict[str, int | None]:
        """Variable key (``risk_diagnosis.VARIABLES``) -> grade."""
        return {key: getattr(self, column) for column, key in GRADE_COLUMNS.items()}


def treatments(items: Iterable[object]) -> list[therapy.Treatment]:
    """Medication entries (``chart.ChartItem``) as therapy periods."""
    out = []
    for item in items:
        if getattr(item, "kind", None) != "medication":
            continue
        data = item.data  # type: ignore[attr-defined]
        out.append(
            therapy.Treatment(
                name=data.name,
                therapy_class=data.therapy_class,
                started_on=data.started_on,
                stopped_on=item.stopped_on,  # type: ignore[attr-defined]
            )
        )
    return out


def therapy_context(chart: Any, freeze: Callable[[Any], Any]) -> dict[str, Any]:
    """Report fields: ``pah_therapy``, ``therapy_changes``, and ``risk_course`` (the
    points with a stratum on their scale, each with ``therapy``: the regimen that day)."""
    periods = treatments((*chart.medications, *chart.stopped_items, *chart.later_items))
    regimen = chart.pah_therapy or therapy.regimen_on(periods, chart.as_of)
    return {
        "pah_therapy": {
            "text": regimen.text,
            "level": regimen.level,
            "classes": tuple(therapy.CLASS_LABELS[k] for k in regimen.classes),
            "medicines": regimen.medicines,
        },
        "therapy_changes": tuple(
            {"day": t.day, "direction": t.direction, "text": t.text} for t in chart.therapy_changes
        ),
        "risk_course": tuple(
            {**freeze(r), "therapy": therapy.regimen_on(periods, r.study_date).text}
            for r in chart.risk_course
            if r.stratum is not None
        ),
    }


def therapy_course(chart: Any) -> dict[int, tuple[str, tuple[therapy.TherapyChange, ...]]]:
    """Per risk point (assessment id): the PAH regimen on its day, and the therapy changes
    since the previous point (after its day, up to and including this one's)."""
    periods = treatments((*chart.medications, *chart.stopped_items, *chart.later_items))
    out: dict[int, tuple[str, tuple[therapy.TherapyChange, ...]]] = {}
    previous: dt.date | None = None
    for point in sorted(chart.risk_course, key=lambda p: (p.study_date, p.assessment_id)):
        since = (
            ()
            if previous is None
            else tuple(c for c in chart.therapy_changes if previous < c.day <= point.study_date)
        )
        out[point.assessment_id] = (therapy.regimen_on(periods, point.study_date).text, since)
        previous = point.study_date
    return out
