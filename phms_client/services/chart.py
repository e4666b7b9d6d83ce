"""The patient's chart: load it in one round trip; add, edit, stop and delete entries.

Every function takes a Session for one short unit of work (the caller commits,
e.g. ``Database.session()``) and returns frozen dataclasses; ORM objects never
leave this module. Values are exact ``Decimal``s as stored; derived values come
from the database (generated columns and the views ``phms.assessment_risk``,
``phms.six_minute_walk_predicted``, ``phms.vasoreactivity``), never recomputed
here. Round only for display.

Concurrency: every update names the ``version`` the user loaded; when the row
has moved on since, nothing is written and :class:`StaleEntry` (a
``sqlalchemy.orm.exc.StaleDataError``) carries the server's copy for the
compare dialog. Rules the database enforces (ranges, prerequisites, Stop/Del
semantics) surface as ``sqlalchemy.exc.IntegrityError`` naming the constraint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from phms_client.clinical.formulas import exact
from phms_client.clinical.matching import is_current
from phms_client.clinical.therapy import Regimen, TherapyChange, changes, regimen_on
from phms_client.services import input_rules
from phms_client.services.chart_risk import (
    DIAGNOSIS_SCALE,
    FOLLOWUP_SCALE,
    DiagnosisRiskPoint,
    treatments,
)
from phms_client.services.patients import PatientDetails
from phms_schema import Base

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
class Chart:
    patient: ChartPatient
    as_of: dt.date
    #: Assessments, followups, challenges and walks, newest first.
    timeline: tuple[TimelineEntry, ...]
    #: Current on ``as_of`` (started on or before it, not stopped on or before it).
    medications: tuple[ChartItem, ...]
    allergies: tuple[ChartItem, ...]
    comorbidities: tuple[ChartItem, ...]
    #: Stopped on or before ``as_of``, all kinds, most recently stopped first.
    stopped_items: tuple[ChartItem, ...]
    #: Started after ``as_of`` (when looking at the chart as of an earlier date).
    later_items: tuple[ChartItem, ...]
    latest: LatestValues
    #: Risk per assessment, oldest first (for the course over time).
    risk_course: tuple[RiskPoint, ...]
    #: PAH therapy on ``as_of`` (none / mono / double / triple combination).
    pah_therapy: Regimen | None = None
    #: Every day the PAH therapy changed, oldest first.
    therapy_changes: tuple[TherapyChange, ...] = ()


class StaleEntry(StaleDataError):
    """Someone saved this entry after it was loaded; ``theirs`` is the server's copy."""

    def __init__(self, table: str, entry_id: int, theirs: AnyRecord | ChartItem) -> None:
        super().__init__(f"{table} {entry_id} was changed by {theirs.stamp.updated_by}")
        self.table = table
        self.entry_id = entry_id
        self.theirs = theirs


class EntryNotFound(LookupError):
    """No such entry, or it was deleted as entered in error."""


# ---------------------------------------------------------- building records

T = TypeVar("T")


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    options = typing.get_args(hint) or (hint,)
    if Decimal in options and not isinstance(raw, Decimal):
        return Decimal(raw) if isinstance(raw, int) else exact(raw)
    if dt.datetime in options and isinstance(raw, str):
        return dt.datetime.fromisoformat(raw)
    if dt.date in options and isinstance(raw, str):
        return dt.date.fromisoformat(raw)
    return raw


def _build(cls: type[T], row: Row) -> T:
    """A flat dataclass from a row (database types or parsed JSON)."""
    target: Any = cls
    hints = _hints(target)
    names = [f.name for f in fields(target)]
    return cls(**{n: _convert(hints[n], row[n]) for n in names if n in row})


def _assessment(row: Row) -> AssessmentRecord:
    return AssessmentRecord(
        row["id"], _build(AssessmentInput, row), _build(Haemodynamics, row), _build(Stamp, row)
    )


def _walk(row: Row) -> WalkRecord:
    return WalkRecord(
        row["id"], _build(WalkInput, row), _build(WalkPrediction, row), _build(Stamp, row)
    )


def _challenge(row: Row) -> ChallengeRecord:
    steps = tuple(_build(StepInput, s) for s in row.get("steps") or ())
    data = ChallengeInput(row["patient_id"], _convert(dt.date, row["study_date"]), steps=steps)
    return ChallengeRecord(
        row["id"], data, row["result"], row["positive_step_no"], _build(Stamp, row)
    )


def _item(row: Row) -> ChartItem:
    return ChartItem(
        id=row["id"],
        kind=row["kind"],
        data=_build(ItemInput, row),
        stopped_on=_convert(dt.date, row["stopped_on"]),
        stop_reason=row["stop_reason"],
        stamp=_build(Stamp, row),
    )


# ------------------------------------------------------------------ queries
# Each selects one kind of record, live rows only, with what the views derive.

_ASSESSMENTS = "SELECT a.* FROM phms.assessment a WHERE NOT a.entered_in_error AND {where}"
_WALKS = """SELECT w.*, v.age_years, v.body_assessment_id, v.height_cm, v.weight_kg,
       v.predicted_m, v.percent_predicted
  FROM phms.six_minute_walk w
  LEFT JOIN phms.six_minute_walk_predicted v ON v.walk_id = w.id
 WHERE NOT w.entered_in_error AND {where}"""
_CHALLENGES = """SELECT c.*, v.result, v.positive_step_no,
       (SELECT json_agg(s ORDER BY s.step_no) FROM phms.vasodilator_step s
         WHERE s.challenge_id = c.id AND NOT s.entered_in_error) AS steps
  FROM phms.vasodilator_challenge c
  JOIN phms.vasoreactivity v ON v.challenge_id = c.id
 WHERE NOT c.entered_in_error AND {where}"""
_ITEM_COLUMNS = ", ".join(
    f"i.{c}"
    for c in (
        "id", "patient_id", "name", "details", "started_on", "stopped_on", "stop_reason",
        "entered_in_error", "error_reason", "error_at", "error_by",
        "version", "created_at", "created_by", "updated_at", "updated_by",
    )
)  # fmt: skip
_ITEMS = " UNION ALL ".join(
    f"SELECT '{kind}' AS kind, {_ITEM_COLUMNS},"
    f" {'i.therapy_class' if kind == 'medication' else 'NULL::text'} AS therapy_class"
    f" FROM phms.{kind} i WHERE NOT i.entered_in_error AND {{where}}"
    for kind in ITEM_KINDS
)
_RISKS = """SELECT r.*, row_to_json(d) AS diagnosis
  FROM phms.assessment_risk r
  JOIN phms.assessment_risk_at_diagnosis d
    ON d.assessment_id = r.assessment_id AND d.patient_id = r.patient_id
 WHERE {where}"""
# The whole row: the chart shows the clinical part, the chart window's demographics
# form needs the rest (contact fields, version, stamps): see load_chart_with_details.
_PATIENT = "SELECT * FROM phms.patient WHERE {where}"


def _json_array(select: str, where: str) -> str:
    return f"(SELECT json_agg(x) FROM ({select.format(where=where)}) x)::text"


_CHART_SQL = sa.text(
    f"""SELECT
  (SELECT phms.log_chart_access(p.id) FROM phms.patient p WHERE p.id = :pid) AS logged,
  CAST(:as_of AS date) AS as_of,
  (SELECT row_to_json(x) FROM ({_PATIENT.format(where="id = :pid")}) x)::text AS patient,
  {_json_array(_ASSESSMENTS, "a.patient_id = :pid")} AS assessments,
  {_json_array(_WALKS, "w.patient_id = :pid")} AS walks,
  {_json_array(_CHALLENGES, "c.patient_id = :pid")} AS challenges,
  {_json_array(_ITEMS, "i.patient_id = :pid")} AS items,
  {_json_array(_RISKS, "r.patient_id = :pid")} AS risks"""
)


def _parse(text: str | None) -> Any:
    return [] if text is None else json.loads(text, parse_float=Decimal)


@contextlib.contextmanager
def _statement_alone(session: Session) -> Iterator[None]:
    """Run the next statement as a transaction of its own if it is the first one.

    A single statement is atomic by itself. When nothing has run on the
    session's connection yet, sending it without BEGIN and COMMIT saves two
    round trips (200 ms on a link with 50 ms each way); statements after it
    in the same session get their own transaction as usual. Otherwise (the
    unit of work already did something) it simply joins that transaction.
    """
    raw = session.connection().connection.dbapi_connection
    if (
        not isinstance(raw, psycopg.Connection)
        or raw.autocommit
        or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    ):
        yield
        return
    raw.autocommit = True
    try:
        yield
    finally:
        raw.autocommit = False


def load_chart(session: Session, patient_id: int, as_of: dt.date | None = None) -> Chart:
    """The whole chart in one statement, and who opened it (``audit.chart_access``).

    Entries deleted as entered in error are not shown. Raises EntryNotFound for
    an unknown patient. The access is logged in the same statement. As the first
    statement of a unit of work (``with db.session() as s: load_chart(s, …)``)
    it runs without BEGIN/COMMIT: opening a chart costs two round trips (the
    pool's liveness ping and the statement), whatever the number of records,
    and the log entry is committed with the read. Inside a unit of work that
    has already run statements it joins that transaction (and a rollback takes
    back the log entry).
    """
    return _load(session, patient_id, as_of)[1]


def load_chart_with_details(
    session: Session, patient_id: int, as_of: dt.date | None = None
) -> tuple[PatientDetails, Chart]:
    """:func:`load_chart` and the patient's demographics (as ``patients.get`` gives them)
    from the same single statement: a chart window opens in two round trips instead of
    five (a second statement would bring BEGIN and COMMIT)."""
    patient_row, loaded = _load(session, patient_id, as_of)
    return _build(PatientDetails, patient_row), loaded


def _load(session: Session, patient_id: int, as_of: dt.date | None) -> tuple[Row, Chart]:
    as_of = as_of or dt.date.today()
    with _statement_alone(session):
        row = session.execute(_CHART_SQL, {"pid": patient_id, "as_of": as_of}).one()
    if row.patient is None:
        raise EntryNotFound(f"No patient with id {patient_id}")
    patient_row = _parse(row.patient)
    return patient_row, assemble_chart(
        patient_row,
        assessments=_parse(row.assessments),
        walks=_parse(row.walks),
        challenges=_parse(row.challenges),
        items=_parse(row.items),
        risks=_parse(row.risks),
        as_of=as_of,
    )


def assemble_chart(
    patient_row: Row,
    *,
    assessments: Iterable[Row],
    walks: Iterable[Row],
    challenges: Iterable[Row],
    items: Iterable[Row],
    risks: Iterable[Row],
    as_of: dt.date,
) -> Chart:
    """The chart from its rows (parsed JSON or database rows, live entries only).

    Rows are shaped like the chart query's: walks with the columns of
    ``phms.six_minute_walk_predicted``, challenges with ``result``,
    ``positive_step_no`` and ``steps``, items with ``kind``.
    """
    patient = _build(ChartPatient, patient_row)
    assessments_ = [_assessment(r) for r in assessments]
    walks_ = [_walk(r) for r in walks]
    challenges_ = [_challenge(r) for r in challenges]
    items_ = [_item(r) for r in items]
    risks_ = sorted(
        (_risk_point(r) for r in risks),
        key=lambda r: (r.study_date, r.assessment_id),
    )
    return _assemble(patient, assessments_, walks_, challenges_, items_, risks_, as_of)


def _risk_point(row: Row) -> RiskPoint:
    """A risk row with its three-strata twin (``diagnosis``), on the scale that applies."""
    point = _build(RiskPoint, {k: v for k, v in row.items() if k != "diagnosis"})
    raw = row.get("diagnosis")
    if raw is None:
        return replace(point, stratum=point.risk_stratum, label=point.risk_label)
    if isinstance(raw, str):
        raw = json.loads(raw, parse_float=Decimal)
    dx = _build(DiagnosisRiskPoint, raw)
    if not dx.at_diagnosis:
        return replace(point, diagnosis=dx, stratum=point.risk_stratum, label=point.risk_label)
    return replace(
        point,
        risk_stratum=None,
        risk_label=None,
        mean_grade=None,
        at_diagnosis=True,
        scale=DIAGNOSIS_SCALE,
        n_strata=3,
        stratum=dx.risk_stratum,
        label=dx.risk_label,
        diagnosis=dx,
    )


def _assemble(
    patient: ChartPatient,
    assessments: list[AssessmentRecord],
    walks: list[WalkRecord],
    challenges: list[ChallengeRecord],
    items: list[ChartItem],
    risks: list[RiskPoint],
    as_of: dt.date,
) -> Chart:
    risk_by_assessment = {r.assessment_id: r for r in risks}

    timeline = [_timeline_entry(a, risk_by_assessment.get(a.id)) for a in assessments]
    timeline += [_timeline_entry(w) for w in walks]
    timeline += [_timeline_entry(c) for c in challenges]
    timeline.sort(key=_timeline_order, reverse=True)

    current = [i for i in items if is_current(i.data.started_on, i.stopped_on, as_of)]
    current.sort(key=lambda i: (i.data.name.lower(), i.data.started_on))
    stopped = [i for i in items if i.stopped_on is not None and i.stopped_on <= as_of]
    stopped.sort(key=lambda i: (i.stopped_on, i.id), reverse=True)
    later = [i for i in items if i.data.started_on > as_of]
    later.sort(key=lambda i: (i.data.started_on, i.id))
    periods = treatments(items)
    return Chart(
        patient=patient,
        as_of=as_of,
        timeline=tuple(timeline),
        medications=tuple(i for i in current if i.kind == "medication"),
        allergies=tuple(i for i in current if i.kind == "allergy"),
        comorbidities=tuple(i for i in current if i.kind == "comorbidity"),
        stopped_items=tuple(stopped),
        later_items=tuple(later),
        latest=_latest(assessments, walks, challenges, risks),
        risk_course=tuple(risks),
        pah_therapy=regimen_on(periods, as_of),
        therapy_changes=tuple(changes(periods)),
    )


#: Within one day and one save, a visit reads: assessment, then challenge, then walk.
_KIND_ORDER = {"assessment": 0, "followup": 0, "vasodilator_challenge": 1, "six_minute_walk": 2}


def _timeline_order(e: TimelineEntry) -> tuple[dt.date, dt.datetime, int, int]:
    return (e.study_date, e.record.stamp.created_at, _KIND_ORDER[e.kind], e.record_id)


def _newest_first(records: Iterable[T]) -> list[T]:
    def key(r: Any) -> tuple[dt.date, dt.datetime, int]:
        return (r.data.study_date, r.stamp.created_at, r.id)

    return sorted(records, key=key, reverse=True)


def _latest(
    assessments: Sequence[AssessmentRecord],
    walks: Sequence[WalkRecord],
    challenges: Sequence[ChallengeRecord],
    risks: Sequence[RiskPoint],
) -> LatestValues:
    values: dict[str, Any] = {}
    ordered = _newest_first(assessments)
    for f in fields(Haemodynamics):
        for a in ordered:
            value = getattr(a.derived, f.name)
            if value is not None:
                values[f.name] = Measured(value, a.data.study_date, a.id)
                break
    newest_walks = _newest_first(walks)
    if newest_walks:
        w = newest_walks[0]
        values["walk_distance_m"] = Measured(w.data.distance_m, w.data.study_date, w.id)
        if w.predicted.percent_predicted is not None:
            values["walk_percent_predicted"] = Measured(
                w.predicted.percent_predicted, w.data.study_date, w.id
            )
    stratified = [r for r in risks if r.stratum is not None]
    if stratified:
        values["risk"] = stratified[-1]
    newest_challenges = _newest_first(challenges)
    if newest_challenges:
        values["vasoreactivity"] = newest_challenges[0]
    return LatestValues(**values)


# ------------------------------------------------------------------ summaries

_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _show(value: Decimal | None, places: int = 0) -> str:
    """Rounded half up for display; the stored value keeps its precision."""
    if value is None:
        return "?"
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(rounded, "f")


def _timeline_entry(record: AnyRecord, risk: RiskPoint | None = None) -> TimelineEntry:
    if isinstance(record, AssessmentRecord):
        kind, summary = record.data.kind, _assessment_summary(record, risk)
    elif isinstance(record, WalkRecord):
        kind, summary = "six_minute_walk", _walk_summary(record)
    else:
        kind, summary = "vasodilator_challenge", _challenge_summary(record)
    return TimelineEntry(
        kind=kind,
        record_id=record.id,
        study_date=record.data.study_date,
        summary=summary,
        created_by=record.stamp.created_by,
        updated_by=record.stamp.updated_by,
        updated_at=record.stamp.updated_at,
        record=record,
    )


def _assessment_summary(a: AssessmentRecord, risk: RiskPoint | None) -> str:
    d, h = a.data, a.derived
    parts = []
    if d.who_fc is not None:
        parts.append(f"WHO-FC {_ROMAN[d.who_fc]}")
    if d.mpap_mmhg is not None:
        parts.append(f"mPAP {_show(d.mpap_mmhg)} mmHg")
    if h.pvr_wu is not None:
        parts.append(f"PVR {_show(h.pvr_wu, 1)} WU")
    if h.ph_class is not None:
        parts.append(h.ph_class)
    if d.nt_probnp_pg_ml is not None:
        parts.append(f"NT-proBNP {_show(d.nt_probnp_pg_ml)}")
    elif d.bnp_pg_ml is not None:
        parts.append(f"BNP {_show(d.bnp_pg_ml)}")
    if risk is not None and risk.label is not None:
        at = "risk at diagnosis" if risk.at_diagnosis else "risk"
        parts.append(f"{at} {risk.label} ({risk.n_strata} strata)")
    return " · ".join(parts) or "no values entered"


def _walk_summary(w: WalkRecord) -> str:
    text = f"{_show(w.data.distance_m)} m"
    if w.predicted.percent_predicted is not None:
        text += f" ({_show(w.predicted.percent_predicted)} % predicted)"
    oxygen = w.data.oxygen_l_min
    return text + (" on room air" if oxygen is None else f" on {_show(oxygen, 1)} L/min O2")


def _challenge_summary(c: ChallengeRecord) -> str:
    agents = sorted({s.agent for s in c.data.steps if s.agent})
    return f"{', '.join(agents) or 'no agent'}: {c.result}"


# ------------------------------------------------------------- single reads


def _one(session: Session, select: str, where: str, params: Row) -> Any:
    text = f"SELECT row_to_json(x)::text FROM ({select.format(where=where)}) x"
    raw = session.execute(sa.text(text), params).scalar()
    if raw is None:
        raise EntryNotFound("This entry does not exist or was deleted as entered in error")
    return json.loads(raw, parse_float=Decimal)


def get_assessment(session: Session, assessment_id: int) -> AssessmentRecord:
    return _assessment(_one(session, _ASSESSMENTS, "a.id = :id", {"id": assessment_id}))


def get_walk(session: Session, walk_id: int) -> WalkRecord:
    return _walk(_one(session, _WALKS, "w.id = :id", {"id": walk_id}))


def get_challenge(session: Session, challenge_id: int) -> ChallengeRecord:
    return _challenge(_one(session, _CHALLENGES, "c.id = :id", {"id": challenge_id}))


def get_item(session: Session, kind: ItemKind, item_id: int) -> ChartItem:
    select = (
        f"SELECT '{_item_kind(kind)}' AS kind, i.* FROM phms.{kind} i"
        " WHERE NOT i.entered_in_error AND {where}"
    )
    return _item(_one(session, select, "i.id = :id", {"id": item_id}))


def current_medications(
    session: Session, patient_id: int, as_of: dt.date | None = None
) -> list[ChartItem]:
    """Medications current on ``as_of`` (default today), in one query, by name."""
    as_of = as_of or dt.date.today()
    table = _table("medication")
    rows = session.execute(
        sa.select(sa.literal("medication").label("kind"), table)
        .where(
            table.c.patient_id == patient_id,
            sa.not_(table.c.entered_in_error),
            table.c.started_on <= as_of,
            sa.or_(table.c.stopped_on.is_(None), table.c.stopped_on > as_of),
        )
        .order_by(sa.func.lower(table.c.name), table.c.started_on, table.c.id)
    ).mappings()
    return [_item(r) for r in rows]


# ------------------------------------------------------------------- writes


def _table(name: str) -> sa.Table:
    return Base.metadata.tables[f"phms.{name}"]


def _item_kind(kind: str) -> ItemKind:
    if kind not in ITEM_KINDS:
        raise ValueError(f"Unknown chart item kind {kind!r}")
    return kind


def _record_table(table: str) -> RecordTable:
    if table not in RECORD_TABLES:
        raise ValueError(f"Unknown record table {table!r}")
    return table


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return input_rules.clean_text(value).strip() or None
    if isinstance(value, float):
        return exact(value)  # the decimal the user typed, not its binary neighbour
    return value


def _values(data: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: _clean(getattr(data, f.name)) for f in fields(data) if f.name not in exclude}


def _current(session: Session, table: str, entry_id: int) -> AnyRecord | ChartItem:
    if table == "assessment":
        return get_assessment(session, entry_id)
    if table == "six_minute_walk":
        return get_walk(session, entry_id)
    if table == "vasodilator_challenge":
        return get_challenge(session, entry_id)
    return get_item(session, _item_kind(table), entry_id)


def _update(session: Session, table_name: str, entry_id: int, version: int, values: Row) -> Row:
    """UPDATE … WHERE id AND version; StaleEntry (with their copy) if it moved on."""
    input_rules.check_row(table_name, values)
    table = _table(table_name)
    row = (
        session.execute(
            sa.update(table)
            .where(table.c.id == entry_id, table.c.version == version)
            .values(**values)
            .returning(*table.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise StaleEntry(table_name, entry_id, _current(session, table_name, entry_id))
    return row


def _insert(session: Session, table_name: str, values: Row) -> Row:
    input_rules.check_row(table_name, values)
    table = _table(table_name)
    return session.execute(sa.insert(table).values(**values).returning(*table.c)).mappings().one()


def create_assessment(session: Session, data: AssessmentInput) -> AssessmentRecord:
    return _assessment(_insert(session, "assessment", _values(data)))


def update_assessment(
    session: Session, assessment_id: int, version: int, data: AssessmentInput
) -> AssessmentRecord:
    return _assessment(_update(session, "assessment", assessment_id, version, _values(data)))


def create_walk(session: Session, data: WalkInput) -> WalkRecord:
    row = _insert(session, "six_minute_walk", _values(data))
    return get_walk(session, row["id"])


def update_walk(session: Session, walk_id: int, version: int, data: WalkInput) -> WalkRecord:
    _update(session, "six_minute_walk", walk_id, version, _values(data))
    return get_walk(session, walk_id)


def _step_values(challenge_id: int, step: StepInput) -> dict[str, Any]:
    values = _values(step)
    input_rules.check_row("vasodilator_step", values)
    return {"challenge_id": challenge_id, **values}


def create_challenge(session: Session, data: ChallengeInput) -> ChallengeRecord:
    row = _insert(session, "vasodilator_challenge", _values(data, exclude=("steps",)))
    if data.steps:
        session.execute(
            sa.insert(_table("vasodilator_step")),
            [_step_values(row["id"], s) for s in data.steps],
        )
    return get_challenge(session, row["id"])


def update_challenge(
    session: Session, challenge_id: int, version: int, data: ChallengeInput
) -> ChallengeRecord:
    """Save the challenge and its steps; the challenge's version guards both.

    Steps are matched by number: existing ones are updated, new ones added,
    missing ones marked entered in error (never deleted).
    """
    _update(
        session, "vasodilator_challenge", challenge_id, version, _values(data, exclude=("steps",))
    )
    steps = _table("vasodilator_step")
    rows = session.execute(
        sa.select(steps.c.step_no, steps.c.id).where(
            steps.c.challenge_id == challenge_id, sa.not_(steps.c.entered_in_error)
        )
    )
    live: dict[int, int] = {no: step_id for no, step_id in rows}
    wanted = {s.step_no: s for s in data.steps}
    gone = [step_id for no, step_id in live.items() if no not in wanted]
    if gone:
        session.execute(
            sa.update(steps)
            .where(steps.c.id.in_(gone))
            .values(entered_in_error=True, error_reason=STEP_REMOVED)
        )
    for no, step in wanted.items():
        if no in live:
            session.execute(
                sa.update(steps)
                .where(steps.c.id == live[no])
                .values(**_step_values(challenge_id, step))
            )
    new = [_step_values(challenge_id, s) for no, s in wanted.items() if no not in live]
    if new:
        session.execute(sa.insert(steps), new)
    return get_challenge(session, challenge_id)


def delete_record(
    session: Session, table: RecordTable, record_id: int, version: int, reason: str
) -> None:
    """Del: mark an assessment, challenge or walk entered in error (hidden, kept, audited)."""
    _update(
        session,
        _record_table(table),
        record_id,
        version,
        {"entered_in_error": True, "error_reason": reason.strip() or None},
    )


def _item_values(kind: ItemKind, data: ItemInput) -> dict[str, Any]:
    """Only medications have a therapy class."""
    return _values(data, exclude=() if kind == "medication" else ("therapy_class",))


def add_item(session: Session, kind: ItemKind, data: ItemInput) -> ChartItem:
    """Add a medication, allergy or secondary disease from ``data.started_on``.

    A medication's ``therapy_class`` says it was picked from the site's list (the
    database refuses a class on a name that is not on it); None = free text."""
    row = _insert(session, _item_kind(kind), _item_values(kind, data))
    return _item({"kind": kind, **row})


def update_item(
    session: Session, kind: ItemKind, item_id: int, version: int, data: ItemInput
) -> ChartItem:
    """Correct an item's name, details or start date."""
    row = _update(session, _item_kind(kind), item_id, version, _item_values(kind, data))
    return _item({"kind": kind, **row})


def stop_item(
    session: Session,
    kind: ItemKind,
    item_id: int,
    version: int,
    stopped_on: dt.date,
    reason: str = "stopped",
) -> ChartItem:
    """Stop: ended as of ``stopped_on`` (kept in the history); e.g. 'cured', 'stopped'."""
    values = {"stopped_on": stopped_on, "stop_reason": reason.strip() or None}
    row = _update(session, _item_kind(kind), item_id, version, values)
    return _item({"kind": kind, **row})


def delete_item(session: Session, kind: ItemKind, item_id: int, version: int, reason: str) -> None:
    """Del: entered in error, with a reason (hidden from the chart, kept and audited)."""
    values = {"entered_in_error": True, "error_reason": reason.strip() or None}
    _update(session, _item_kind(kind), item_id, version, values)


__all__ = [
    "AssessmentInput",
    "AssessmentRecord",
    "ChallengeInput",
    "ChallengeRecord",
    "Chart",
    "ChartItem",
    "ChartPatient",
    "EntryNotFound",
    "Haemodynamics",
    "ItemInput",
    "LatestValues",
    "Measured",
    "RiskPoint",
    "StaleEntry",
    "Stamp",
    "StepInput",
    "TimelineEntry",
    "WalkInput",
    "WalkPrediction",
    "WalkRecord",
    "add_item",
    "assemble_chart",
    "create_assessment",
    "create_challenge",
    "create_walk",
    "current_medications",
    "delete_item",
    "delete_record",
    "get_assessment",
    "get_challenge",
    "get_item",
    "get_walk",
    "load_chart",
    "load_chart_with_details",
    "stop_item",
    "update_assessment",
    "update_challenge",
    "update_item",
    "update_walk",
]
