"""Loading the chart: one statement, one round trip (see :func:`load_chart`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.services.chart_assembly import _build, assemble_chart
from phms_client.services.chart_types import ITEM_KINDS, Chart, EntryNotFound, Row
from phms_client.services.patients import PatientDetails

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
