"""The chart's frozen dataclasses: records, chart items, risk points, the chart itself.

What :mod:`phms_client.services.chart` gives out; nothing here queries. Values are
exact ``Decimal``s as stored; derived values come from the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm.exc import StaleDataError

from phms_client.clinical.therapy import Regimen, TherapyChange
from phms_client.services.chart_risk import FOLLOWUP_SCALE, DiagnosisRiskPoint

ItemKind = Literal["medication", "allergy", "comorbidity"]
RecordTable = Literal["assessment", "vasodilator_challenge", "six_minute_walk"]
#: A result row or a parsed JSON object.
Row = Mapping[Any, Any]
ITEM_KINDS: tuple[ItemKind, ...] = ("medication", "allergy", "comorbidity")
RECORD_TABLES: tuple[RecordTable, ...] = ("assessment", "vasodilator_challenge", "six_minute_walk")
STEP_REMOVED = "removed when the challenge was edited"

# ---------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Stamp:
    """Who entered the row and who changed it last (kept by the database)."""

    version: int
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str


@dataclass(frozen=True)
class AssessmentInput:
    patient_id: int
    study_date: dt.date
    kind: str = "assessment"  # or "followup"
    who_fc: int | None = None
    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    heart_rate_bpm: Decimal | None = None
    spo2_pct: Decimal | None = None
    bnp_pg_ml: Decimal | None = None
    nt_probnp_pg_ml: Decimal | None = None
    creatinine_umol_l: Decimal | None = None
    tapse_mm: Decimal | None = None
    ra_area_cm2: Decimal | None = None
    echo_spap_mmhg: Decimal | None = None
    #: none | minimal | moderate or large | present (size not recorded, before 0012)
    pericardial_effusion: str | None = None
    rhf_signs: bool | None = None
    symptom_progression: str | None = None  # none | slow | rapid
    syncope: str | None = None  # none | occasional | repeated
    peak_vo2_ml_min_kg: Decimal | None = None
    ve_vco2_slope: Decimal | None = None
    rap_mmhg: Decimal | None = None
    spap_mmhg: Decimal | None = None
    dpap_mmhg: Decimal | None = None
    mpap_mmhg: Decimal | None = None
    pawp_mmhg: Decimal | None = None
    co_l_min: Decimal | None = None
    svo2_pct: Decimal | None = None
    rhc_heart_rate_bpm: Decimal | None = None


@dataclass(frozen=True)
class Haemodynamics:
    """Derived by the database (full precision)."""

    bsa_m2: Decimal | None = None
    cardiac_index_l_min_m2: Decimal | None = None
    tpg_mmhg: Decimal | None = None
    dpg_mmhg: Decimal | None = None
    pvr_wu: Decimal | None = None
    pvr_dyn_s_cm5: Decimal | None = None
    ph_class: str | None = None
    svi_ml_m2: Decimal | None = None
    tapse_spap_ratio: Decimal | None = None


@dataclass(frozen=True)
class AssessmentRecord:
    id: int
    data: AssessmentInput
    derived: Haemodynamics
    stamp: Stamp


@dataclass(frozen=True)
class WalkInput:
    patient_id: int
    study_date: dt.date
    distance_m: Decimal
    #: None = room air.
    oxygen_l_min: Decimal | None = None
    stops: int | None = None
    spo2_before_pct: Decimal | None = None
    spo2_after_pct: Decimal | None = None
    heart_rate_before_bpm: Decimal | None = None
    heart_rate_after_bpm: Decimal | None = None
    borg_before: Decimal | None = None
    borg_after: Decimal | None = None


@dataclass(frozen=True)
class WalkPrediction:
    """Enright & Sherrill; height and weight from the nearest assessment (180 days)."""

    age_years: int | None = None
    body_assessment_id: int | None = None
    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    predicted_m: Decimal | None = None
    percent_predicted: Decimal | None = None


@dataclass(frozen=True)
class WalkRecord:
    id: int
    data: WalkInput
    predicted: WalkPrediction
    stamp: Stamp


@dataclass(frozen=True)
class StepInput:
    """Step 0 is the baseline (no agent); 1, 2, … are doses."""

    step_no: int
    mpap_mmhg: Decimal
    agent: str | None = None
    dose: Decimal | None = None
    dose_unit: str | None = None
    pawp_mmhg: Decimal | None = None
    co_l_min: Decimal | None = None
    spap_mmhg: Decimal | None = None
    dpap_mmhg: Decimal | None = None
    heart_rate_bpm: Decimal | None = None
    svo2_pct: Decimal | None = None


@dataclass(frozen=True)
class ChallengeInput:
    patient_id: int
    study_date: dt.date
    steps: tuple[StepInput, ...] = ()


@dataclass(frozen=True)
class ChallengeRecord:
    id: int
    data: ChallengeInput
    result: str  # 'positive' | 'negative' | 'insufficient data'
    positive_step_no: int | None
    stamp: Stamp


@dataclass(frozen=True)
class ItemInput:
    patient_id: int
    name: str
    started_on: dt.date
    details: str | None = None
    #: Medications only: the PAH therapy class of a list entry; None = free text.
    therapy_class: str | None = None


@dataclass(frozen=True)
class ChartItem:
    id: int
    kind: ItemKind
    data: ItemInput
    stopped_on: dt.date | None
    stop_reason: str | None
    stamp: Stamp


@dataclass(frozen=True)
class RiskPoint:
    """One row of ``phms.assessment_risk`` and the scale that applies to the visit.

    At diagnosis (``at_diagnosis``) the three strata of ``diagnosis`` apply and the
    four-strata ``risk_stratum``/``risk_label``/``mean_grade`` are None (not
    validated there); otherwise the four strata. ``stratum``/``label``/``scale``/
    ``n_strata`` are the applicable ones (see ``services.chart_risk``).
    """

    assessment_id: int
    study_date: dt.date
    kind: str
    who_fc: int | None = None
    fc_grade: int | None = None
    walk_id: int | None = None
    walk_date: dt.date | None = None
    six_mwd_m: Decimal | None = None
    walk_grade: int | None = None
    peptide: str | None = None
    peptide_value: Decimal | None = None
    peptide_grade: int | None = None
    n_variables: int = 0
    mean_grade: Decimal | None = None
    risk_stratum: int | None = None
    risk_label: str | None = None
    at_diagnosis: bool = False
    scale: str = FOLLOWUP_SCALE
    n_strata: int = 4
    stratum: int | None = None
    label: str | None = None
    diagnosis: DiagnosisRiskPoint | None = None


@dataclass(frozen=True)
class ChartPatient:
    id: int
    patient_code: str
    family_name: str
    given_name: str
    sex: str
    birth_date: dt.date
    status: str
    deceased_date: dt.date | None = None
    ph_group: int | None = None
    ph_subtype: str | None = None


AnyRecord = AssessmentRecord | WalkRecord | ChallengeRecord


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # 'assessment' | 'followup' | 'vasodilator_challenge' | 'six_minute_walk'
    record_id: int
    study_date: dt.date
    summary: str
    created_by: str
    updated_by: str
    updated_at: dt.datetime
    record: AnyRecord


@dataclass(frozen=True)
class Measured:
    """A latest value with the record it comes from."""

    value: Decimal | str
    study_date: dt.date
    record_id: int


@dataclass(frozen=True)
class LatestValues:
    bsa_m2: Measured | None = None
    cardiac_index_l_min_m2: Measured | None = None
    tpg_mmhg: Measured | None = None
    dpg_mmhg: Measured | None = None
    pvr_wu: Measured | None = None
    pvr_dyn_s_cm5: Measured | None = None
    ph_class: Measured | None = None
    svi_ml_m2: Measured | None = None
    tapse_spap_ratio: Measured | None = None
    walk_distance_m: Measured | None = None
    walk_percent_predicted: Measured | None = None
    risk: RiskPoint | None = None
    vasoreactivity: ChallengeRecord | None = None


@dataclass(frozen=True)
class CoursePoint:
    """One assessment's values that the trend charts draw."""

    assessment_id: int
    study_date: dt.date
    who_fc: int | None = None
    nt_probnp_pg_ml: Decimal | None = None
    bnp_pg_ml: Decimal | None = None
    mpap_mmhg: Decimal | None = None
    pvr_wu: Decimal | None = None


@dataclass(frozen=True)
class CourseWalk:
    walk_id: int
    study_date: dt.date
    distance_m: Decimal


@dataclass(frozen=True)
class ChartCourse:
    """The whole course of a chart, oldest first: every risk point (the risk table) and
    the few values of every assessment and walk (the trend charts)."""

    risk_course: tuple[RiskPoint, ...]
    assessments: tuple[CoursePoint, ...]
    walks: tuple[CourseWalk, ...]


@dataclass(frozen=True)
class OlderRecords:
    """A page of the timeline older than what a chart holds (``Chart.with_older``)."""

    #: Newest first, as the timeline.
    entries: tuple[TimelineEntry, ...]
    #: The risk points of the page's assessments, oldest first.
    risks: tuple[RiskPoint, ...]
    #: Records older still, not loaded.
    older_records: int


@dataclass(frozen=True)
class Chart:
    """A patient's chart as of a day.

    A chart loaded whole holds every record. A chart's first screen (``load_chart``
    with ``newest``) holds the newest records and the latest values of all of them;
    ``older_records`` says how many records it does not hold yet (pages come with
    ``load_older``), and the whole course for the risk table and the trend charts comes
    with ``load_course`` (``course``).
    """

    patient: ChartPatient
    as_of: dt.date
    #: Assessments, followups, challenges and walks, newest first (all, or the newest).
    timeline: tuple[TimelineEntry, ...]
    #: Current on ``as_of`` (started on or before it, not stopped on or before it).
    medications: tuple[ChartItem, ...]
    allergies: tuple[ChartItem, ...]
    comorbidities: tuple[ChartItem, ...]
    #: Stopped on or before ``as_of``, all kinds, most recently stopped first.
    stopped_items: tuple[ChartItem, ...]
    #: Started after ``as_of`` (when looking at the chart as of an earlier date).
    later_items: tuple[ChartItem, ...]
    #: Of every record, loaded or not.
    latest: LatestValues
    #: Risk per assessment, oldest first (for the course over time): of every assessment
    #: when the chart is whole or its ``course`` is loaded, else of the timeline's.
    risk_course: tuple[RiskPoint, ...]
    #: PAH therapy on ``as_of`` (none / mono / double / triple combination).
    pah_therapy: Regimen | None = None
    #: Every day the PAH therapy changed, oldest first.
    therapy_changes: tuple[TherapyChange, ...] = ()
    #: Records older than the timeline's last entry that are not loaded.
    older_records: int = 0
    #: The whole course, once loaded for a chart that is not whole.
    course: ChartCourse | None = None

    @property
    def whole(self) -> bool:
        """Every record is in the timeline."""
        return self.older_records == 0

    def with_older(self, older: OlderRecords) -> Chart:
        """This chart with the next page of older records at the timeline's end."""
        risks = self.risk_course
        if self.course is None:
            risks = tuple(
                sorted((*risks, *older.risks), key=lambda r: (r.study_date, r.assessment_id))
            )
        return replace(
            self,
            timeline=self.timeline + older.entries,
            risk_course=risks,
            older_records=older.older_records,
        )

    def with_course(self, course: ChartCourse) -> Chart:
        """This chart with its whole course (the risk table and the trend charts)."""
        return replace(self, risk_course=course.risk_course, course=course)


class StaleEntry(StaleDataError):
    """Someone saved this entry after it was loaded; ``theirs`` is the server's copy."""

    def __init__(self, table: str, entry_id: int, theirs: AnyRecord | ChartItem) -> None:
        super().__init__(f"{table} {entry_id} was changed by {theirs.stamp.updated_by}")
        self.table = table
        self.entry_id = entry_id
        self.theirs = theirs


class EntryNotFound(LookupError):
    """No such entry, or it was deleted as entered in error."""
