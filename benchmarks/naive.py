"""Naive baselines: how the same screens are often written, measured beside PHMS's own.

- :func:`naive_search`: one ``ILIKE '%text%'`` over an unindexed
  ``unaccent(lower(name || ID || birth date))`` expression, sorted by name: every
  keystroke reads the whole patient table.
- :func:`ranked_search`: PHMS's search before the benchmark (trigram index, but
  every match ranked by word similarity before the first page is returned).
- :func:`naive_chart`: ORM lazy loading, one query per relationship and per
  record (each assessment's risk, each walk's prediction, each challenge's steps
  and result), into the same :class:`~phms_client.services.chart.Chart`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, registry, relationship

from phms_client.services import chart as chart_service
from phms_client.services.patients import PatientSummary, parse_date
from phms_schema import (
    Allergy,
    Assessment,
    Comorbidity,
    Medication,
    Patient,
    SixMinuteWalk,
    VasodilatorChallenge,
    VasodilatorStep,
)

_SUMMARY = "id, patient_code, family_name, given_name, sex, birth_date, status"

_NAIVE_SEARCH = sa.text(
    f"""SELECT {_SUMMARY} FROM phms.patient
 WHERE public.unaccent(lower(family_name || ' ' || given_name || ' ' || patient_code
                             || ' ' || birth_date::text))
       ILIKE '%' || public.unaccent(lower(:t)) || '%'
 ORDER BY family_name, given_name, id
 OFFSET :offset LIMIT :limit"""
)


def naive_search(
    session: Session, text: str, *, offset: int = 0, limit: int = 50
) -> list[PatientSummary]:
    text = text.strip()
    if not text:
        return []
    born = parse_date(text)
    params = {"t": born.isoformat() if born else text, "offset": offset, "limit": limit}
    return [PatientSummary(**r._mapping) for r in session.execute(_NAIVE_SEARCH, params)]


def ranked_search(
    session: Session, text: str, *, offset: int = 0, limit: int = 50
) -> list[PatientSummary]:
    """The name search as it was: all substring and similar names ranked, then a page."""
    key = sa.func.phms.search_key(text.strip())
    contains = Patient.search_name.contains(key, autoescape=False)
    rank = sa.func.word_similarity(key, Patient.search_name)
    stmt = (
        sa.select(
            Patient.id,
            Patient.patient_code,
            Patient.family_name,
            Patient.given_name,
            Patient.sex,
            Patient.birth_date,
            Patient.status,
        )
        .where(sa.or_(contains, key.op("<%")(Patient.search_name)))
        .order_by(rank.desc(), Patient.family_name, Patient.given_name, Patient.id)
        .offset(offset)
        .limit(limit)
    )
    return [PatientSummary(**r._mapping) for r in session.execute(stmt)]


# ------------------------------------------------------------------ ORM chart

_views = sa.MetaData(schema="phms")
_RISK = sa.Table(
    "assessment_risk",
    _views,
    sa.Column("assessment_id", sa.BigInteger, primary_key=True),
    *(
        sa.Column(name, type_)
        for name, type_ in (
            ("patient_id", sa.BigInteger),
            ("study_date", sa.Date),
            ("kind", sa.Text),
            ("who_fc", sa.Integer),
            ("fc_grade", sa.Integer),
            ("walk_id", sa.BigInteger),
            ("walk_date", sa.Date),
            ("six_mwd_m", sa.Numeric),
            ("walk_grade", sa.Integer),
            ("peptide", sa.Text),
            ("peptide_value", sa.Numeric),
            ("peptide_grade", sa.Integer),
            ("n_variables", sa.Integer),
            ("mean_grade", sa.Numeric),
            ("risk_stratum", sa.Integer),
            ("risk_label", sa.Text),
        )
    ),
)
_PREDICTED = sa.Table(
    "six_minute_walk_predicted",
    _views,
    sa.Column("walk_id", sa.BigInteger, primary_key=True),
    sa.Column("age_years", sa.Integer),
    sa.Column("body_assessment_id", sa.BigInteger),
    sa.Column("height_cm", sa.Numeric),
    sa.Column("weight_kg", sa.Numeric),
    sa.Column("predicted_m", sa.Numeric),
    sa.Column("percent_predicted", sa.Numeric),
)
_REACTIVITY = sa.Table(
    "vasoreactivity",
    _views,
    sa.Column("challenge_id", sa.BigInteger, primary_key=True),
    sa.Column("result", sa.Text),
    sa.Column("positive_step_no", sa.Integer),
)

_reg = registry()


class NPatient:
    pass


class NAssessment:
    pass


class NWalk:
    pass


class NChallenge:
    pass


class NStep:
    pass


class NItem:
    pass


class NMedication(NItem):
    pass


class NAllergy(NItem):
    pass


class NComorbidity(NItem):
    pass


class NRisk:
    pass


class NPredicted:
    pass


class NReactivity:
    pass


def _t(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _live(child: sa.Table, fk: str, parent: sa.Table) -> Any:
    return sa.and_(child.c[fk] == parent.c.id, sa.not_(child.c.entered_in_error))


_P = _t(Patient)
_reg.map_imperatively(NRisk, _RISK)
_reg.map_imperatively(NPredicted, _PREDICTED)
_reg.map_imperatively(NReactivity, _REACTIVITY)
_reg.map_imperatively(
    NAssessment,
    _t(Assessment),
    properties={
        "risk": relationship(
            NRisk,
            primaryjoin=_RISK.c.assessment_id == _t(Assessment).c.id,
            foreign_keys=[_RISK.c.assessment_id],
            uselist=False,
            viewonly=True,
        )
    },
)
_reg.map_imperatively(
    NWalk,
    _t(SixMinuteWalk),
    properties={
        "predicted": relationship(
            NPredicted,
            primaryjoin=_PREDICTED.c.walk_id == _t(SixMinuteWalk).c.id,
            foreign_keys=[_PREDICTED.c.walk_id],
            uselist=False,
            viewonly=True,
        )
    },
)
_reg.map_imperatively(NStep, _t(VasodilatorStep))
_reg.map_imperatively(
    NChallenge,
    _t(VasodilatorChallenge),
    properties={
        "steps": relationship(
            NStep,
            primaryjoin=_live(_t(VasodilatorStep), "challenge_id", _t(VasodilatorChallenge)),
            order_by=_t(VasodilatorStep).c.step_no,
            viewonly=True,
        ),
        "reactivity": relationship(
            NReactivity,
            primaryjoin=_REACTIVITY.c.challenge_id == _t(VasodilatorChallenge).c.id,
            foreign_keys=[_REACTIVITY.c.challenge_id],
            uselist=False,
            viewonly=True,
        ),
    },
)
for _cls, _model in ((NMedication, Medication), (NAllergy, Allergy), (NComorbidity, Comorbidity)):
    _reg.map_imperatively(_cls, _t(_model))


def _children(cls: type, model: Any) -> Any:
    return relationship(cls, primaryjoin=_live(_t(model), "patient_id", _P), viewonly=True)


_reg.map_imperatively(
    NPatient,
    _P,
    properties={
        "assessments": _children(NAssessment, Assessment),
        "walks": _children(NWalk, SixMinuteWalk),
        "challenges": _children(NChallenge, VasodilatorChallenge),
        "medications": _children(NMedication, Medication),
        "allergies": _children(NAllergy, Allergy),
        "comorbidities": _children(NComorbidity, Comorbidity),
    },
)


def _row(obj: Any, table: sa.Table, **extra: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in table.columns} | extra


def naive_chart(session: Session, patient_id: int, as_of: dt.date | None = None) -> Any:
    """The chart, lazily: one query per relationship and per record."""
    as_of = as_of or dt.date.today()
    p = session.get(NPatient, patient_id)
    if p is None:
        raise chart_service.EntryNotFound(f"No patient with id {patient_id}")
    session.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": patient_id})
    assessments, risks = [], []
    for a in p.assessments:  # type: ignore[attr-defined]
        assessments.append(_row(a, _t(Assessment)))
        if a.risk is not None:
            risks.append(_row(a.risk, _RISK))
    walks = []
    for w in p.walks:  # type: ignore[attr-defined]
        pred = _row(w.predicted, _PREDICTED) if w.predicted is not None else {}
        pred.pop("walk_id", None)
        walks.append(_row(w, _t(SixMinuteWalk)) | pred)
    challenges = []
    for c in p.challenges:  # type: ignore[attr-defined]
        steps = [_row(s, _t(VasodilatorStep)) for s in c.steps]
        r = c.reactivity
        challenges.append(
            _row(
                c,
                _t(VasodilatorChallenge),
                steps=steps,
                result=r.result if r else "insufficient data",
                positive_step_no=r.positive_step_no if r else None,
            )
        )
    items = [
        _row(i, _t(model), kind=kind)
        for kind, rel, model in (
            ("medication", "medications", Medication),
            ("allergy", "allergies", Allergy),
            ("comorbidity", "comorbidities", Comorbidity),
        )
        for i in getattr(p, rel)
    ]
    return chart_service.assemble_chart(
        _row(p, _P),
        assessments=assessments,
        walks=walks,
        challenges=challenges,
        items=items,
        risks=risks,
        as_of=as_of,
    )
