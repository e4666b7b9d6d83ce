"""Loading the chart: each screen in one statement, compact (see ``chart_wire``).

- :func:`load_chart`: the chart and who opened it (``audit.chart_access``); whole, or
  (``newest``) its first screen: the newest records, the latest values of all of them,
  the items, and how many older records there are.
- :func:`load_older`: the next page of older records, as the person scrolls.
- :func:`load_course`: the whole course (risk table, trend charts) of a chart loaded
  by its first screen.

Each is one statement; as the first statement of a unit of work it goes without
BEGIN/COMMIT (``db.database.statement_alone``), so it costs one round trip whatever the
chart's size (two after a pause, when the pool pings the connection first:
``db.database.PING_AFTER_IDLE``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.database import prepare_threshold, statement_alone
from phms_client.services import chart_columns as cols
from phms_client.services.chart_assembly import (
    _KIND_ORDER,
    _build,
    assemble_chart,
    chart_course,
    older_page,
)
from phms_client.services.chart_types import (
    Chart,
    ChartCourse,
    EntryNotFound,
    OlderRecords,
    Row,
    TimelineEntry,
)
from phms_client.services.chart_wire import parse
from phms_client.services.patients import PatientDetails

#: Records on a chart's first screen: what the timeline shows without scrolling, and
#: then some (about 10 kB at most; see docs/benchmarks.md).
FIRST_SCREEN_RECORDS: Final = 30
#: Records a page of older ones brings.
OLDER_PAGE_RECORDS: Final = 50

# ------------------------------------------------------------------ statements
# ``keys``: every live record of the patient with its place in the timeline (newest
# first: study date, entered, assessment before challenge before walk, id); ``page``:
# the records sent; ``wanted``: those and what else the screen needs.

_KEYS = """keys AS MATERIALIZED (
  SELECT 0 AS t, a.id, a.study_date AS d, a.created_at AS c FROM phms.assessment a
   WHERE a.patient_id = :pid AND NOT a.entered_in_error
  UNION ALL
  SELECT 1, x.id, x.study_date, x.created_at FROM phms.vasodilator_challenge x
   WHERE x.patient_id = :pid AND NOT x.entered_in_error
  UNION ALL
  SELECT 2, w.id, w.study_date, w.created_at FROM phms.six_minute_walk w
   WHERE w.patient_id = :pid AND NOT w.entered_in_error)"""
_NEWEST_FIRST = "ORDER BY d DESC, c DESC, t DESC, id DESC"
_LATEST_FIELDS = (
    "bsa_m2", "cardiac_index_l_min_m2", "tpg_mmhg", "dpg_mmhg", "pvr_wu", "pvr_dyn_s_cm5",
    "ph_class", "svi_ml_m2", "tapse_spap_ratio",
)  # fmt: skip
#: The records the latest values come from, wherever they are in the timeline: per
#: derived value the newest assessment that has it, the newest stratified risk, the
#: newest walk and challenge (as ``chart_assembly._latest`` picks them).
_LATEST = f"""
  UNION
  (SELECT DISTINCT ON (f) 0, a.id FROM phms.assessment a,
          unnest(ARRAY[{", ".join(f"a.{f} IS NOT NULL" for f in _LATEST_FIELDS)}])
          WITH ORDINALITY u(has, f)
    WHERE a.patient_id = :pid AND NOT a.entered_in_error AND has
    ORDER BY f, a.study_date DESC, a.created_at DESC, a.id DESC)
  UNION
  (SELECT 0, r.assessment_id
     FROM phms.assessment_risk r
     JOIN phms.assessment_risk_at_diagnosis d
       ON d.assessment_id = r.assessment_id AND d.patient_id = r.patient_id
    WHERE r.patient_id = :pid
      AND CASE WHEN d.at_diagnosis THEN d.risk_stratum ELSE r.risk_stratum END IS NOT NULL
    ORDER BY r.study_date DESC, r.assessment_id DESC LIMIT 1)
  UNION
  (SELECT t, id FROM keys WHERE t = 1 ORDER BY d DESC, c DESC, id DESC LIMIT 1)
  UNION
  (SELECT t, id FROM keys WHERE t = 2 ORDER BY d DESC, c DESC, id DESC LIMIT 1)"""


def _records_sql() -> str:
    """The wanted records of each kind, with their steps and risk rows."""

    def wanted(alias: str, column: str, t: int) -> str:
        chosen = f"(SELECT id FROM wanted WHERE t = {t})"
        return f"{alias}.patient_id = :pid AND {alias}.{column} IN {chosen}"

    parts = {
        "assessments": cols.ASSESSMENT.array_sql(
            cols.ASSESSMENT_FROM.format(where=wanted("a", "id", 0))
        ),
        "challenges": cols.CHALLENGE.array_sql(
            cols.CHALLENGE_FROM.format(where=wanted("c", "id", 1))
        ),
        "steps": cols.STEP.array_sql(cols.STEP_FROM.format(where=wanted("c", "id", 1))),
        "walks": cols.WALK.array_sql(cols.WALK_FROM.format(where=wanted("w", "id", 2))),
        "risks": cols.RISK.array_sql(cols.RISK_FROM.format(where=wanted("r", "assessment_id", 0))),
    }
    return "".join(f",\n  {sql} AS {name}" for name, sql in parts.items())


def _chart_sql(*, newest: bool) -> sa.TextClause:
    page = (
        f"(SELECT t, id FROM keys {_NEWEST_FIRST} LIMIT :n)" if newest else "SELECT t, id FROM keys"
    )
    items = "".join(
        f",\n  {spec.array_sql(cols.item_from(kind).format(where='i.patient_id = :pid'))} AS {kind}"
        for kind, spec in cols.ITEMS.items()
    )
    return sa.text(
        f"""WITH {_KEYS},
wanted AS MATERIALIZED (
  {page}{_LATEST if newest else ""})
SELECT
  (SELECT phms.log_chart_access(p.id) FROM phms.patient p WHERE p.id = :pid) AS logged,
  (SELECT {cols.PATIENT.sql()} {cols.PATIENT_FROM.format(where="p.id = :pid")})::text AS patient,
  (SELECT count(*) FROM keys) AS records{items}{_records_sql()}"""
    )


_WHOLE_SQL: Final = _chart_sql(newest=False)
_NEWEST_SQL: Final = _chart_sql(newest=True)
_OLDER_SQL: Final = sa.text(
    f"""WITH {_KEYS},
older AS MATERIALIZED (
  SELECT * FROM keys
   WHERE (d, c, t, id) < (CAST(:d AS date), CAST(:c AS timestamptz), :t, CAST(:id AS bigint))),
wanted AS MATERIALIZED (SELECT t, id FROM older {_NEWEST_FIRST} LIMIT :n)
SELECT (SELECT count(*) FROM older) AS records{_records_sql()}"""
)
_COURSE_WALKS = "FROM phms.six_minute_walk w WHERE NOT w.entered_in_error AND w.patient_id = :pid"
_COURSE_SQL: Final = sa.text(
    f"""SELECT
  {cols.RISK_ALONE.array_sql(cols.RISK_FROM.format(where="r.patient_id = :pid"))} AS risks,
  {cols.COURSE_ASSESSMENT.array_sql(cols.ASSESSMENT_FROM.format(where="a.patient_id = :pid"))}
    AS assessments,
  {cols.COURSE_WALK.array_sql(_COURSE_WALKS)} AS walks"""
)


# ------------------------------------------------------------------ loading


def _run(session: Session, statement: sa.TextClause, params: Row) -> Any:
    """The statement alone (no BEGIN/COMMIT when it is the unit of work's first:
    ``db.database.statement_alone``), prepared from its first use."""
    # 6 to 10 kB of SQL: prepared from its first use on a connection (one round trip
    # more, once), then only its name and parameters travel.
    with statement_alone(session), prepare_threshold(session, 0):
        return session.execute(statement, params).one()


def load_chart(
    session: Session,
    patient_id: int,
    as_of: dt.date | None = None,
    *,
    newest: int | None = None,
) -> Chart:
    """The chart in one statement, and who opened it (``audit.chart_access``).

    Whole, or with ``newest`` its first screen: the newest so many records in the
    timeline (``Chart.older_records`` says how many more there are), the latest
    values of all of them, every medication, allergy and secondary disease.

    Entries deleted as entered in error are not shown. Raises EntryNotFound for
    an unknown patient. The access is logged in the same statement. As the first
    statement of a unit of work (``with db.session() as s: load_chart(s, …)``)
    it runs without BEGIN/COMMIT: opening a chart costs one round trip (two
    after a pause: the pool's liveness ping), whatever the number of records,
    and the log entry is committed with the read. Inside a unit of work that
    has already run statements it joins that transaction (and a rollback takes
    back the log entry).
    """
    return _load(session, patient_id, as_of, newest)[1]


def load_chart_with_details(
    session: Session,
    patient_id: int,
    as_of: dt.date | None = None,
    *,
    newest: int | None = None,
) -> tuple[PatientDetails, Chart]:
    """:func:`load_chart` and the patient's demographics (as ``patients.get`` gives them)
    from the same single statement: a chart window opens in two round trips instead of
    five (a second statement would bring BEGIN and COMMIT)."""
    patient_row, loaded = _load(session, patient_id, as_of, newest)
    return _build(PatientDetails, patient_row), loaded


def _load(
    session: Session, patient_id: int, as_of: dt.date | None, newest: int | None
) -> tuple[Row, Chart]:
    as_of = as_of or dt.date.today()
    if newest is not None and newest < 1:
        raise ValueError("a first screen shows at least one record")
    params = {"pid": patient_id} if newest is None else {"pid": patient_id, "n": newest}
    row = _run(session, _WHOLE_SQL if newest is None else _NEWEST_SQL, params)
    if row.patient is None:
        raise EntryNotFound(f"No patient with id {patient_id}")
    patient_row = cols.PATIENT.decode(parse(row.patient))
    assessments = cols.assessments(row.assessments, patient_id)
    return patient_row, assemble_chart(
        patient_row,
        assessments=assessments,
        walks=cols.walks(row.walks, patient_id),
        challenges=cols.challenges(row.challenges, row.steps, patient_id),
        items=cols.items({k: getattr(row, k) for k in cols.ITEMS}, patient_id),
        risks=cols.risks(row.risks, assessments),
        as_of=as_of,
        newest=newest,
        records=int(row.records),
    )


def load_older(
    session: Session, patient_id: int, after: TimelineEntry, count: int = OLDER_PAGE_RECORDS
) -> OlderRecords:
    """The ``count`` records that come after ``after`` in the timeline (older), in one
    statement; ``Chart.with_older`` adds them to the chart."""
    if count < 1:
        raise ValueError("a page holds at least one record")
    params = {
        "pid": patient_id,
        "n": count,
        "d": after.study_date,
        "c": after.record.stamp.created_at,
        "t": _KIND_ORDER[after.kind],
        "id": after.record_id,
    }
    row = _run(session, _OLDER_SQL, params)
    assessments = cols.assessments(row.assessments, patient_id)
    page = older_page(
        assessments=assessments,
        walks=cols.walks(row.walks, patient_id),
        challenges=cols.challenges(row.challenges, row.steps, patient_id),
        risks=cols.risks(row.risks, assessments),
        older_records=0,
    )
    return OlderRecords(page.entries, page.risks, max(0, int(row.records) - len(page.entries)))


def load_course(session: Session, patient_id: int) -> ChartCourse:
    """Every risk point, and the values of every assessment and walk that the trend
    charts draw, in one statement; ``Chart.with_course`` adds it to the chart."""
    row = _run(session, _COURSE_SQL, {"pid": patient_id})
    return chart_course(
        risks=cols.risks(row.risks, alone=True),
        assessments=cols.COURSE_ASSESSMENT.decode_all(row.assessments),
        walks=cols.COURSE_WALK.decode_all(row.walks),
    )


__all__ = [
    "FIRST_SCREEN_RECORDS",
    "OLDER_PAGE_RECORDS",
    "load_chart",
    "load_chart_with_details",
    "load_course",
    "load_older",
]
