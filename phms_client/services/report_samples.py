"""Sample render contexts, to check a template before it is saved (no database).

Built by the same functions as the real contexts (:mod:`.report_context`), from
made-up records, so a sample has exactly the fields a real report has. Each
kind has two samples: one with every field filled (a misspelt field fails
there) and one with nothing recorded (a new patient, an empty period), since a
template must work for those too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from phms_client.services import chart as chart_service
from phms_client.services.chart import (
    AssessmentRecord,
    ChallengeRecord,
    Chart,
    ChartItem,
    ChartPatient,
    LatestValues,
    Measured,
    RiskPoint,
    WalkRecord,
)
from phms_client.services.report_context import chart_context, cohort_context, cohort_from

__all__ = ["EMPTY_SAMPLE", "sample_contexts"]

_DAY = dt.date(2026, 3, 2)
_WHEN = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)

#: Values by field name where a type alone would make a sample that reads wrong.
_NAMED: dict[str, Any] = {
    "sex": "female",
    "status": "active",
    "kind": "assessment",
    "patient_code": "P-000123",
    "family_name": "Sample",
    "given_name": "Sam",
    "birth_date": dt.date(1961, 5, 17),
    "deceased_date": None,
    "stopped_on": None,
    "stop_reason": None,
    "height_cm": Decimal(165),
    "weight_kg": Decimal(72),
    "who_fc": 3,
    "ph_group": 1,
    "ph_class": "precapillary PH",
    "result": "negative",
    "risk_stratum": 2,
    "risk_label": "intermediate-low",
    "peptide": "NT-proBNP",
    "name": "sample",
}


def _value(name: str, hint: Any) -> Any:
    """A sample value for a field called ``name`` of type ``hint``."""
    if name in _NAMED:
        return _NAMED[name]
    options = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return options[0]
    if origin in (typing.Union, types.UnionType):
        return _value(name, options[0])
    if origin is tuple:
        return ()
    if dataclasses.is_dataclass(hint):
        return _filled(hint)
    samples: dict[Any, Any] = {
        Decimal: Decimal("12.5"),
        int: 2,
        str: "sample",
        bool: False,
        dt.date: _DAY,
        dt.datetime: _WHEN,
    }
    return samples.get(hint)


def _filled(cls: Any, **given: Any) -> Any:
    """An instance of dataclass ``cls`` with every field given a sample value."""
    hints = _hints(cls)
    values = {
        f.name: given[f.name] if f.name in given else _value(f.name, hints[f.name])
        for f in dataclasses.fields(cls)
    }
    return cls(**values)


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _entry(record: Any, kind: str) -> chart_service.TimelineEntry:
    return chart_service.TimelineEntry(
        kind, record.id, record.data.study_date, "sample", "sample", "sample", _WHEN, record
    )


def _full_chart() -> Chart:
    assessment = _filled(AssessmentRecord)
    walk = _filled(WalkRecord)
    challenge = _filled(ChallengeRecord)
    risk = _filled(RiskPoint)
    items = {
        kind: (_filled(ChartItem, kind=kind),) for kind in ("medication", "allergy", "comorbidity")
    }
    return Chart(
        patient=_filled(ChartPatient),
        as_of=_DAY,
        timeline=(
            _entry(assessment, "assessment"),
            _entry(walk, "six_minute_walk"),
            _entry(challenge, "vasodilator_challenge"),
        ),
        medications=items["medication"],
        allergies=items["allergy"],
        comorbidities=items["comorbidity"],
        stopped_items=(),
        later_items=(),
        latest=LatestValues(
            ph_class=Measured("precapillary PH", _DAY, assessment.id),
            risk=risk,
            vasoreactivity=challenge,
        ),
        risk_course=(risk,),
    )


def _empty_chart() -> Chart:
    patient = ChartPatient(
        1, "P-000124", "Sample", "Alex", "unknown", dt.date(1980, 1, 1), "active"
    )
    return Chart(patient, _DAY, (), (), (), (), (), (), LatestValues(), ())


_EXTRA_FULL: Mapping[str, Any] = {
    "address": "1 Sample Street",
    "phone": "+1 555 0100",
    "email": "sam@example.org",
    "printed_by": "sample_user",
    "ph_groups": [{"group": 1, "name": "Pulmonary arterial hypertension"}],
}
_EXTRA_EMPTY: Mapping[str, Any] = {
    "address": None,
    "phone": None,
    "email": None,
    "printed_by": "sample_user",
    "ph_groups": None,
}

_COUNT = [{"value": 1, "n": 3}, {"value": 2, "n": 1}]
_COHORT_FULL: Mapping[str, Any] = {
    "registered": 5,
    "seen": 4,
    "by_group": _COUNT,
    "by_sex": [{"value": "female", "n": 3}, {"value": "male", "n": 1}],
    "by_status": [{"value": "active", "n": 4}],
    "who_fc": _COUNT,
    "risk": _COUNT,
    "walks_by_year": [
        {
            "year": 2025,
            "walks": 6,
            "patients": 3,
            **{
                k: Decimal(v)
                for k, v in (
                    ("mean_m", "402.5"),
                    ("median_m", "410"),
                    ("q1_m", "350"),
                    ("q3_m", "460"),
                    ("min_m", "150"),
                    ("max_m", "520"),
                )
            },
        }
    ],
}
_COHORT_EMPTY: Mapping[str, Any] = {
    "registered": 0,
    "seen": 0,
    **{k: [] for k in ("by_group", "by_sex", "by_status", "who_fc", "risk", "walks_by_year")},
}


#: What the empty sample stands for, by kind (said when a template fails only there).
EMPTY_SAMPLE: dict[str, str] = {
    "individual": "a patient with nothing recorded yet",
    "statistical": "a period with no patients",
}


def sample_contexts(kind: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The full and the empty sample context of ``kind`` ('individual' or 'statistical')."""
    if kind == "individual":
        return (
            chart_context(_full_chart(), _EXTRA_FULL, "SAMPLE-HOSPITAL"),
            chart_context(_empty_chart(), _EXTRA_EMPTY, ""),
        )
    if kind == "statistical":
        full = cohort_from(_COHORT_FULL, _EXTRA_FULL["ph_groups"], _DAY.replace(year=2025), _DAY)
        empty = cohort_from(_COHORT_EMPTY, None, None, None)
        return (
            cohort_context(full, "sample_user", "SAMPLE-HOSPITAL"),
            cohort_context(empty, "", ""),
        )
    raise ValueError(f"Unknown report kind {kind!r}")
