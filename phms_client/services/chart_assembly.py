"""The chart from its rows: records built from result rows or parsed JSON, the timeline
with its summaries, the latest values, the risk points on the scale that applies.

Nothing here queries: :mod:`phms_client.services.chart_load` fetches the rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import typing
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from phms_client.clinical.formulas import exact
from phms_client.clinical.matching import is_current
from phms_client.clinical.therapy import changes, regimen_on
from phms_client.services.chart_risk import DIAGNOSIS_SCALE, DiagnosisRiskPoint, treatments
from phms_client.services.chart_types import (
    AnyRecord,
    AssessmentInput,
    AssessmentRecord,
    ChallengeInput,
    ChallengeRecord,
    Chart,
    ChartCourse,
    ChartItem,
    ChartPatient,
    CoursePoint,
    CourseWalk,
    Haemodynamics,
    ItemInput,
    LatestValues,
    Measured,
    OlderRecords,
    RiskPoint,
    Row,
    Stamp,
    StepInput,
    TimelineEntry,
    WalkInput,
    WalkPrediction,
    WalkRecord,
)

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


def assemble_chart(
    patient_row: Row,
    *,
    assessments: Iterable[Row],
    walks: Iterable[Row],
    challenges: Iterable[Row],
    items: Iterable[Row],
    risks: Iterable[Row],
    as_of: dt.date,
    newest: int | None = None,
    records: int | None = None,
) -> Chart:
    """The chart from its rows (parsed JSON or database rows, live entries only).

    Rows are shaped like the chart query's: walks with the columns of
    ``phms.six_minute_walk_predicted``, challenges with ``result``,
    ``positive_step_no`` and ``steps``, items with ``kind``.

    ``newest``: the timeline holds only the newest so many records; the others given
    serve the latest values (the newest value of each kind, however old). ``records``:
    how many records the patient has in all (``Chart.older_records``).
    """
    patient = _build(ChartPatient, patient_row)
    assessments_ = [_assessment(r) for r in assessments]
    walks_ = [_walk(r) for r in walks]
    challenges_ = [_challenge(r) for r in challenges]
    items_ = [_item(r) for r in items]
    risks_ = _risk_points(risks)
    chart = _assemble(patient, assessments_, walks_, challenges_, items_, risks_, as_of)
    shown = chart.timeline if newest is None else chart.timeline[:newest]
    total = len(chart.timeline) if records is None else records
    if len(shown) >= total:
        return chart  # whole
    ids = {e.record_id for e in shown if isinstance(e.record, AssessmentRecord)}
    return replace(
        chart,
        timeline=shown,
        risk_course=tuple(r for r in chart.risk_course if r.assessment_id in ids),
        older_records=total - len(shown),
    )


def _risk_points(rows: Iterable[Row]) -> list[RiskPoint]:
    return sorted((_risk_point(r) for r in rows), key=lambda r: (r.study_date, r.assessment_id))


def older_page(
    *,
    assessments: Iterable[Row],
    walks: Iterable[Row],
    challenges: Iterable[Row],
    risks: Iterable[Row],
    older_records: int,
) -> OlderRecords:
    """A page of older records from its rows (shaped as :func:`assemble_chart`'s)."""
    risks_ = _risk_points(risks)
    return OlderRecords(
        entries=tuple(
            _timeline(
                [_assessment(r) for r in assessments],
                [_walk(r) for r in walks],
                [_challenge(r) for r in challenges],
                risks_,
            )
        ),
        risks=tuple(risks_),
        older_records=older_records,
    )


def chart_course(
    *, risks: Iterable[Row], assessments: Iterable[Row], walks: Iterable[Row]
) -> ChartCourse:
    """The whole course from its rows, oldest first."""
    return ChartCourse(
        risk_course=tuple(_risk_points(risks)),
        assessments=tuple(
            sorted(
                (_build(CoursePoint, r) for r in assessments),
                key=lambda a: (a.study_date, a.assessment_id),
            )
        ),
        walks=tuple(
            sorted((_build(CourseWalk, r) for r in walks), key=lambda w: (w.study_date, w.walk_id))
        ),
    )


def course_of(chart: Chart) -> ChartCourse | None:
    """The chart's whole course: loaded (``Chart.course``), or from a whole chart's records;
    None while a chart that is not whole waits for it."""
    if chart.course is not None:
        return chart.course
    if not chart.whole:
        return None
    assessments = [e.record for e in chart.timeline if isinstance(e.record, AssessmentRecord)]
    walks = [e.record for e in chart.timeline if isinstance(e.record, WalkRecord)]
    return ChartCourse(
        risk_course=chart.risk_course,
        assessments=tuple(
            sorted(
                (
                    CoursePoint(
                        a.id,
                        a.data.study_date,
                        a.data.who_fc,
                        a.data.nt_probnp_pg_ml,
                        a.data.bnp_pg_ml,
                        a.data.mpap_mmhg,
                        a.derived.pvr_wu,
                    )
                    for a in assessments
                ),
                key=lambda a: (a.study_date, a.assessment_id),
            )
        ),
        walks=tuple(
            sorted(
                (CourseWalk(w.id, w.data.study_date, w.data.distance_m) for w in walks),
                key=lambda w: (w.study_date, w.walk_id),
            )
        ),
    )


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
    timeline = _timeline(assessments, walks, challenges, risks)

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


def _timeline(
    assessments: Sequence[AssessmentRecord],
    walks: Sequence[WalkRecord],
    challenges: Sequence[ChallengeRecord],
    risks: Sequence[RiskPoint],
) -> list[TimelineEntry]:
    """Newest first; an assessment's summary names its risk."""
    risk_by_assessment = {r.assessment_id: r for r in risks}
    timeline = [_timeline_entry(a, risk_by_assessment.get(a.id)) for a in assessments]
    timeline += [_timeline_entry(w) for w in walks]
    timeline += [_timeline_entry(c) for c in challenges]
    timeline.sort(key=_timeline_order, reverse=True)
    return timeline


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
