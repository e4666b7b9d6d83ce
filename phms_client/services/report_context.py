"""Render contexts of reports: what a template may show, as plain frozen data.

Every function takes a Session for one short unit of work. The context handed
to a template is plain frozen data (``MappingProxyType``, tuples, strings,
``Decimal``s, dates): no session, no ORM object, nothing that can read more.
See ``docs/reports.md`` for every field.

An individual report reads the chart (and logs the chart access like opening
it): clinicians and admins. A statistical report reads only the aggregates of
``phms.cohort_statistics``: clinicians, admins and auditors.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical import therapy
from phms_client.reports import body as body_measures
from phms_client.reports.engine import format_day, roman
from phms_client.reports.tables import Table
from phms_client.services import chart as chart_service
from phms_client.services import chart_risk
from phms_client.services.chart import AssessmentRecord, Chart, WalkRecord

__all__ = [
    "CohortStatistics",
    "Count",
    "WalkYear",
    "chart_context",
    "cohort_context",
    "cohort_from",
    "cohort_statistics",
    "freeze",
    "individual_context",
    "statistical_context",
]


def freeze(value: Any) -> Any:
    """Plain frozen data: dataclasses and dicts become read-only mappings, lists tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return MappingProxyType(
            {f.name: freeze(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def _record(*parts: Any, **extra: Any) -> MappingProxyType[str, Any]:
    """Flatten dataclasses (and extra fields) into one read-only mapping."""
    out: dict[str, Any] = {}
    for part in parts:
        for f in dataclasses.fields(part):
            value = getattr(part, f.name)
            if not dataclasses.is_dataclass(value):
                out[f.name] = freeze(value)
    out.update({k: freeze(v) for k, v in extra.items()})
    return MappingProxyType(out)


def _age(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _group_names(raw: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("group"), int):
            names[entry["group"]] = str(entry.get("name", ""))
    return names


def _group_label(group: int | None, names: Mapping[int, str]) -> str:
    if group is None:
        return "PH group not recorded"
    name = names.get(group)
    return f"Group {group} — {name}" if name else f"Group {group}"


# ------------------------------------------------------------ individual report

_PATIENT_EXTRA = sa.text(
    "SELECT p.address, p.phone, p.email, session_user AS printed_by,"
    " (SELECT s.value FROM phms.setting s WHERE s.key = 'ph_groups') AS ph_groups"
    " FROM phms.patient p WHERE p.id = :pid"
)


def _assessment(a: AssessmentRecord) -> MappingProxyType[str, Any]:
    return _record(a.data, a.derived, id=a.id, who_fc_roman=roman(a.data.who_fc))


def _walk(w: WalkRecord) -> MappingProxyType[str, Any]:
    return _record(w.data, w.predicted, id=w.id)


def _newest(records: Iterable[Any]) -> list[Any]:
    return sorted(
        records, key=lambda r: (r.data.study_date, r.stamp.created_at, r.id), reverse=True
    )


def _items(items: Sequence[chart_service.ChartItem]) -> tuple[MappingProxyType[str, Any], ...]:
    return tuple(
        _record(
            i.data,
            id=i.id,
            stopped_on=i.stopped_on,
            stop_reason=i.stop_reason,
            therapy_class_label=therapy.CLASS_LABELS.get(i.data.therapy_class or ""),
        )
        for i in items
    )


def individual_context(
    session: Session,
    patient_id: int,
    *,
    as_of: dt.date | None = None,
    hospital_id: str = "",
) -> Mapping[str, Any]:
    """Everything an individual template may show, as plain frozen data.

    Loads the chart (one statement, logged as a chart access) and the contact
    details and PH group names (one more). Raises ``chart.EntryNotFound`` for
    an unknown patient and a permission error for logins that may not read charts.
    """
    loaded = chart_service.load_chart(session, patient_id, as_of)
    extra = session.execute(_PATIENT_EXTRA, {"pid": patient_id}).mappings().one()
    return chart_context(loaded, extra, hospital_id)


def chart_context(c: Chart, extra: Mapping[Any, Any], hospital_id: str) -> Mapping[str, Any]:
    """The individual context of a loaded chart; ``extra`` holds the patient's
    ``address``, ``phone`` and ``email``, ``printed_by`` and the ``ph_groups`` setting."""
    p = c.patient
    names = _group_names(extra["ph_groups"])
    assessments = _newest(e.record for e in c.timeline if isinstance(e.record, AssessmentRecord))
    walks = _newest(e.record for e in c.timeline if isinstance(e.record, WalkRecord))
    rhc = next((a for a in assessments if a.data.mpap_mmhg is not None), None)
    measured = next(
        (a for a in assessments if a.data.height_cm is not None and a.data.weight_kg is not None),
        None,
    )
    body = None
    if measured is not None:
        h, w = measured.data.height_cm, measured.data.weight_kg
        body = {
            "study_date": measured.data.study_date,
            "height_cm": h,
            "weight_kg": w,
            "bmi": body_measures.bmi(h, w),
            "ideal_weight_kg": body_measures.ideal_weight_kg(p.sex, h),
            "weight_to_ideal": body_measures.weight_to_ideal(p.sex, h, w),
        }
    ph_class = c.latest.ph_class
    challenge = c.latest.vasoreactivity
    context = {
        "today": dt.date.today(),
        "as_of": c.as_of,
        "clinic": {"hospital_id": hospital_id, "printed_by": extra["printed_by"]},
        "patient": {
            "code": p.patient_code,
            "family_name": p.family_name,
            "given_name": p.given_name,
            "name": f"{p.given_name} {p.family_name}",
            "sex": p.sex,
            "birth_date": p.birth_date,
            "age": _age(p.birth_date, p.deceased_date or c.as_of),
            "status": p.status,
            "deceased_date": p.deceased_date,
            "address": extra["address"],
            "phone": extra["phone"],
            "email": extra["email"],
        },
        "diagnosis": {
            "group": p.ph_group,
            "group_name": _group_label(p.ph_group, names),
            "subtype": p.ph_subtype,
            "ph_class": None if ph_class is None else ph_class.value,
            "ph_class_date": None if ph_class is None else ph_class.study_date,
        },
        "body": body,
        "medications": _items(c.medications),
        "allergies": _items(c.allergies),
        "comorbidities": _items(c.comorbidities),
        "latest_assessment": _assessment(assessments[0]) if assessments else None,
        "haemodynamics": None if rhc is None else _assessment(rhc),
        "walk": _walk(walks[0]) if walks else None,
        "risk": c.latest.risk,
        **chart_risk.therapy_context(c, freeze),
        "vasoreactivity": None
        if challenge is None
        else {"study_date": challenge.data.study_date, "result": challenge.result},
        "assessments": tuple(_assessment(a) for a in reversed(assessments)),
        "walks": tuple(_walk(w) for w in reversed(walks)),
    }
    frozen: Mapping[str, Any] = freeze(context)
    return frozen


# ----------------------------------------------------------- statistical report


@dataclass(frozen=True)
class Count:
    value: int | str | None
    label: str
    n: int
    percent: Decimal


@dataclass(frozen=True)
class WalkYear:
    year: int
    walks: int
    patients: int
    mean_m: Decimal
    median_m: Decimal
    q1_m: Decimal
    q3_m: Decimal
    min_m: Decimal
    max_m: Decimal


@dataclass(frozen=True)
class CohortStatistics:
    """Aggregates only (``phms.cohort_statistics``): no patient is identifiable by name."""

    date_from: dt.date | None
    date_to: dt.date | None
    registered: int
    seen: int
    by_group: tuple[Count, ...]
    by_sex: tuple[Count, ...]
    by_status: tuple[Count, ...]
    who_fc: tuple[Count, ...]
    #: Latest four-strata stratum at follow-up (a first assessment is not counted).
    risk: tuple[Count, ...]
    walks_by_year: tuple[WalkYear, ...]
    #: Three-strata stratum of the patients whose first assessment is in the period.
    risk_at_diagnosis: tuple[Count, ...] = ()

    @property
    def period_label(self) -> str:
        if self.date_from is None and self.date_to is None:
            return "all dates"
        if self.date_to is None:
            return f"from {format_day(self.date_from)}"
        if self.date_from is None:
            return f"up to {format_day(self.date_to)}"
        return f"{format_day(self.date_from)} to {format_day(self.date_to)}"

    def tables(self) -> tuple[Table, ...]:
        """The results as tables, for CSV and XLSX."""

        def counts(title: str, what: str, rows: Sequence[Count]) -> Table:
            return Table(
                title, (what, "Patients", "%"), tuple((r.label, r.n, r.percent) for r in rows)
            )

        walk_headers = tuple(f.name for f in dataclasses.fields(WalkYear))
        return (
            Table(
                "Cohort",
                ("Period", "Registered patients", "Patients seen"),
                ((self.period_label, self.registered, self.seen),),
            ),
            counts("By PH group", "PH group", self.by_group),
            counts("By sex", "Sex", self.by_sex),
            counts("By status", "Status", self.by_status),
            counts("WHO-FC (latest)", "WHO-FC", self.who_fc),
            counts("Risk at follow-up (4 strata, latest)", "Risk stratum", self.risk),
            counts("Risk at diagnosis (3 strata)", "Risk stratum", self.risk_at_diagnosis),
            Table(
                "6MWD by year",
                walk_headers,
                tuple(tuple(getattr(y, h) for h in walk_headers) for y in self.walks_by_year),
            ),
        )


_RISK_LABELS = {1: "low", 2: "intermediate-low", 3: "intermediate-high", 4: "high"}
_RISK3_LABELS = {1: "low", 2: "intermediate", 3: "high"}

_STATISTICS = sa.text(
    "SELECT phms.cohort_statistics(CAST(:f AS date), CAST(:t AS date))::text AS stats,"
    " (SELECT s.value FROM phms.setting s WHERE s.key = 'ph_groups') AS ph_groups,"
    " session_user AS printed_by"
)


def _counts(raw: Sequence[Mapping[Any, Any]], label: Any, total: int) -> tuple[Count, ...]:
    return tuple(
        Count(
            value=r["value"],
            label=label(r["value"]),
            n=int(r["n"]),
            percent=(Decimal(100) * int(r["n"]) / total) if total else Decimal(0),
        )
        for r in raw
    )


def _statistics(
    raw: Mapping[str, Any], names: Mapping[int, str], date_from: dt.date | None, to: dt.date | None
) -> CohortStatistics:
    seen = int(raw["seen"])
    fc_total = sum(int(r["n"]) for r in raw["who_fc"])
    risk_total = sum(int(r["n"]) for r in raw["risk"])
    diagnosed = raw.get("risk_at_diagnosis") or []
    diagnosed_total = sum(int(r["n"]) for r in diagnosed)
    return CohortStatistics(
        date_from=date_from,
        date_to=to,
        registered=int(raw["registered"]),
        seen=seen,
        by_group=_counts(raw["by_group"], lambda g: _group_label(g, names), seen),
        by_sex=_counts(raw["by_sex"], str, seen),
        by_status=_counts(raw["by_status"], str, seen),
        who_fc=_counts(raw["who_fc"], lambda v: f"WHO-FC {roman(v)}", fc_total),
        risk=_counts(raw["risk"], lambda v: _RISK_LABELS.get(v, str(v)), risk_total),
        walks_by_year=tuple(_walk_year(y) for y in raw["walks_by_year"]),
        risk_at_diagnosis=_counts(
            diagnosed, lambda v: _RISK3_LABELS.get(v, str(v)), diagnosed_total
        ),
    )


def _walk_year(y: Mapping[str, Any]) -> WalkYear:
    def d(name: str) -> Decimal:
        return Decimal(str(y[name]))

    return WalkYear(
        year=int(y["year"]),
        walks=int(y["walks"]),
        patients=int(y["patients"]),
        mean_m=d("mean_m"),
        median_m=d("median_m"),
        q1_m=d("q1_m"),
        q3_m=d("q3_m"),
        min_m=d("min_m"),
        max_m=d("max_m"),
    )


def cohort_statistics(
    session: Session, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> CohortStatistics:
    """The cohort's aggregates for records dated in [date_from, date_to] (open if None)."""
    return statistical_context(session, date_from=date_from, date_to=date_to)[1]


def statistical_context(
    session: Session,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    hospital_id: str = "",
) -> tuple[Mapping[str, Any], CohortStatistics]:
    """The statistical template's context (plain frozen data) and the statistics."""
    row = session.execute(_STATISTICS, {"f": date_from, "t": date_to}).one()
    raw = json.loads(row.stats, parse_float=Decimal)
    stats = cohort_from(raw, row.ph_groups, date_from, date_to)
    return cohort_context(stats, row.printed_by, hospital_id), stats


def cohort_from(
    raw: Mapping[str, Any], ph_groups: Any, date_from: dt.date | None, date_to: dt.date | None
) -> CohortStatistics:
    """The statistics from ``phms.cohort_statistics``'s JSON and the ``ph_groups`` setting."""
    return _statistics(raw, _group_names(ph_groups), date_from, date_to)


def cohort_context(stats: CohortStatistics, printed_by: str, hospital_id: str) -> Mapping[str, Any]:
    """The statistical template's context for ``stats``."""
    context: Mapping[str, Any] = freeze(
        {
            "today": dt.date.today(),
            "clinic": {"hospital_id": hospital_id, "printed_by": printed_by},
            "period": {
                "date_from": stats.date_from,
                "date_to": stats.date_to,
                "label": stats.period_label,
            },
            "cohort": stats,
        }
    )
    return context
