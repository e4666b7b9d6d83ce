"""Tools > Error Check: values far from the rest of their field (PH_DOMAIN.md).

For every numeric field with **more than 10** values (live records only), take
the middle 75% of its values — drop the lowest and highest ⌊n/8⌋ (12.5%,
rounded down) by rank — and compute their mean and sample standard deviation;
list every value more than N of those SDs from that mean, N from the setting
``error_check_sd`` (default 50). A field whose middle values are all equal
(SD 0) has no spread to judge against and is skipped.

It is computed in the database from ``phms.value_tally`` (how often each
distinct value of each field occurs, kept by triggers: see
``phms_schema.value_tally``), so its cost follows the number of distinct values,
not of records, and only the hits travel. One statement, hence one snapshot:
the trimmed mean and SD come from cumulative counts per value, and only tables
with a field that has a value beyond the bounds are scanned for the rows that
hold it. Before it, ``phms.value_tally_compact()`` folds the tally's deltas.
A running statement is stopped with libpq's cancel request (``psycopg``'s
``cancel_safe``), so Cancel is prompt even when the server is slow or a table
is locked.

Clinicians and admins only (others have no right on the clinical tables or
the tally). Which fields are judged is ``phms_schema.value_tally.TALLIED``;
this module gives them their labels.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_schema import ddl_tally
from phms_schema.value_tally import TALLIED

__all__ = [
    "DEFAULT_SD",
    "FIELDS",
    "MIN_VALUES",
    "STEPS",
    "CancelToken",
    "Cancelled",
    "ErrorCheckHit",
    "ErrorCheckResult",
    "run_error_check",
    "statement",
]

DEFAULT_SD: Final = Decimal(50)
#: A field is checked when it has more than this many values.
MIN_VALUES: Final = 10

#: table -> field -> label shown to the user.
FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    "assessment": {
        "height_cm": "Height (cm)",
        "weight_kg": "Weight (kg)",
        "heart_rate_bpm": "Heart rate (/min)",
        "spo2_pct": "SpO2 (%)",
        "bnp_pg_ml": "BNP (pg/mL)",
        "nt_probnp_pg_ml": "NT-proBNP (pg/mL)",
        "creatinine_umol_l": "Creatinine (µmol/L)",
        "tapse_mm": "TAPSE (mm)",
        "ra_area_cm2": "RA area (cm²)",
        "rap_mmhg": "RAP (mmHg)",
        "spap_mmhg": "sPAP (mmHg)",
        "dpap_mmhg": "dPAP (mmHg)",
        "mpap_mmhg": "mPAP (mmHg)",
        "pawp_mmhg": "PAWP (mmHg)",
        "co_l_min": "Cardiac output (L/min)",
        "svo2_pct": "SvO2 (%)",
        "rhc_heart_rate_bpm": "Heart rate at RHC (/min)",
    },
    "six_minute_walk": {
        "distance_m": "6MWD (m)",
        "oxygen_l_min": "Oxygen (L/min)",
        "stops": "Stops",
        "spo2_before_pct": "SpO2 before (%)",
        "spo2_after_pct": "SpO2 after (%)",
        "heart_rate_before_bpm": "Heart rate before (/min)",
        "heart_rate_after_bpm": "Heart rate after (/min)",
        "borg_before": "Borg before",
        "borg_after": "Borg after",
    },
    "vasodilator_step": {
        "mpap_mmhg": "Challenge mPAP (mmHg)",
        "pawp_mmhg": "Challenge PAWP (mmHg)",
        "co_l_min": "Challenge cardiac output (L/min)",
        "spap_mmhg": "Challenge sPAP (mmHg)",
        "dpap_mmhg": "Challenge dPAP (mmHg)",
        "heart_rate_bpm": "Challenge heart rate (/min)",
        "svo2_pct": "Challenge SvO2 (%)",
    },
}

_OWN = ("t.id", "t.patient_id", "t.study_date", "NOT t.entered_in_error")

#: Each table's live rows and the record a user opens:
#: (FROM, table shown, id, patient, date, live).
_RECORDS: Final = {
    "assessment": ("phms.assessment t", "assessment", *_OWN),
    "six_minute_walk": ("phms.six_minute_walk t", "six_minute_walk", *_OWN),
    "vasodilator_step": (
        "phms.vasodilator_step t JOIN phms.vasodilator_challenge c ON c.id = t.challenge_id",
        "vasodilator_challenge",
        "c.id",
        "c.patient_id",
        "c.study_date",
        "NOT t.entered_in_error AND NOT c.entered_in_error",
    ),
}

#: The tally's rows, net of deltas (``benchmarks`` swaps in a recount of the records).
TALLY: Final = (
    "SELECT source_table, field, value, sum(n) AS n FROM phms.value_tally"
    " GROUP BY source_table, field, value"
)


def _suspects(table: str) -> str:
    """Live rows of ``table`` with a value outside its field's bounds, unpivoted.

    Scans the table only when one of its fields has a value outside (a
    one-time filter on ``b``); the bounds are InitPlans, evaluated once."""
    source, shown, record_id, patient_id, study_date, live = _RECORDS[table]
    outside = " OR ".join(
        f"t.{f} NOT BETWEEN (SELECT lo FROM b WHERE source_table = '{table}' AND field = '{f}')"
        f" AND (SELECT hi FROM b WHERE source_table = '{table}' AND field = '{f}')"
        for f in TALLIED[table]
    )
    return f"""SELECT '{table}'::text AS source_table, '{shown}'::text AS record_table,
       {record_id} AS record_id, {patient_id} AS patient_id, {study_date} AS study_date,
       f.field, f.value
  FROM {source} CROSS JOIN {ddl_tally.unpivot(table)}
 WHERE EXISTS (SELECT FROM b WHERE source_table = '{table}')
   AND {live} AND ({outside})"""


def statement(counts: str = TALLY) -> sa.TextClause:
    """The whole check as one statement: one snapshot, one round trip.

    ``counts`` yields (source_table, field, value, n). From the cumulative count
    up to each distinct value follows how many of its copies fall in ranks
    ``n/8 + 1 .. n - n/8``; sums weighted by those give the exact mean and
    sample SD of the middle 75% (``numeric`` throughout). Only fields with a
    value beyond ``mean ± N·SD`` send their tables to be scanned for the rows.
    """
    suspects = "\n  UNION ALL\n".join(_suspects(t) for t in TALLIED)
    return sa.text(f"""
WITH c AS (
  SELECT source_table, field, value, n AS c FROM ({counts}) counts WHERE n > 0
), h AS (
  SELECT source_table, field, value, c,
         sum(c) OVER (PARTITION BY source_table, field ORDER BY value) AS upto,
         sum(c) OVER (PARTITION BY source_table, field) AS n
    FROM c
), m AS (
  SELECT source_table, field, value, n,
         greatest(0, least(upto, n - floor(n / 8)) - greatest(upto - c, floor(n / 8))) AS kept
    FROM h
), w AS (
  SELECT source_table, field, max(n) AS n, sum(kept) AS k, sum(kept * value) AS sx,
         sum(kept * value * value) AS sxx
    FROM m GROUP BY source_table, field HAVING max(n) > {MIN_VALUES}
), s AS MATERIALIZED (
  SELECT source_table, field, n, sx / k AS mean,
         sqrt((k * sxx - sx * sx) / (k * (k - 1))) AS sd
    FROM w
), b AS MATERIALIZED (
  SELECT s.source_table, s.field, s.n, s.mean, s.sd,
         s.mean - CAST(:n_sd AS numeric) * s.sd AS lo,
         s.mean + CAST(:n_sd AS numeric) * s.sd AS hi
    FROM s
   WHERE s.sd > 0 AND EXISTS (
         SELECT FROM c WHERE c.source_table = s.source_table AND c.field = s.field
            AND abs(c.value - s.mean) > CAST(:n_sd AS numeric) * s.sd)
), r AS (
  {suspects}
)
SELECT r.source_table, r.record_table, r.record_id, r.patient_id, r.study_date, r.field,
       r.value, b.n, b.mean, b.sd, abs(r.value - b.mean) / b.sd AS n_sd,
       p.patient_code, p.family_name, p.given_name, (SELECT count(*) FROM s) AS fields_checked
  FROM r
  JOIN b ON b.source_table = r.source_table AND b.field = r.field
  JOIN phms.patient p ON p.id = r.patient_id
 WHERE abs(r.value - b.mean) > CAST(:n_sd AS numeric) * b.sd
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       (SELECT count(*) FROM s)
""")


_STATEMENT: Final = statement()
_COMPACT: Final = sa.text("SELECT phms.value_tally_compact()")

_THRESHOLD = sa.text(
    "SELECT CAST(value #>> '{}' AS numeric) FROM phms.setting"
    " WHERE key = 'error_check_sd' AND jsonb_typeof(value) = 'number'"
)


@dataclass(frozen=True)
class ErrorCheckHit:
    patient_id: int
    patient_code: str
    patient_name: str
    #: The record to open: 'assessment', 'six_minute_walk' or 'vasodilator_challenge'.
    record_table: str
    record_id: int
    study_date: dt.date
    #: Where the value is stored: table and column (e.g. 'vasodilator_step', 'mpap_mmhg').
    table: str
    field: str
    label: str
    value: Decimal
    mean: Decimal
    sd: Decimal
    #: How many SDs the value is from the mean of the middle 75%.
    n_sd: Decimal
    #: Number of values of this field.
    n_values: int


@dataclass(frozen=True)
class ErrorCheckResult:
    threshold_sd: Decimal
    hits: tuple[ErrorCheckHit, ...]
    #: Fields with more than 10 values, which were therefore checked.
    fields_checked: int


class Cancelled(Exception):
    """The user cancelled the Error Check."""


class CancelToken:
    """Shared by the GUI (``cancel()``) and the worker running the check."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Stop the check: at once if a statement is running (safe from any thread)."""
        self._event.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            # psycopg.Error: finished meanwhile, or the server is gone.
            with contextlib.suppress(psycopg.Error):
                connection.cancel_safe(timeout=5.0)

    def _attach(self, connection: psycopg.Connection[Any] | None) -> None:
        with self._lock:
            self._connection = connection


Progress = Callable[[int, int, str], None]

#: What ``progress`` is told, in order: fold the tally's deltas, then the check.
STEPS: Final = ("Counting values", "Finding values far from the rest")


def run_error_check(
    session: Session,
    n_sd: Decimal | int | None = None,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> ErrorCheckResult:
    """Run the check; hits sorted by how far off they are, the farthest first.

    ``n_sd`` defaults to the ``error_check_sd`` setting (else 50). ``progress(done,
    total, step)`` is called from the calling thread before each of the
    :data:`STEPS` and at the end. Raises :class:`Cancelled` when ``cancel`` was used.
    """
    token = cancel or CancelToken()
    threshold = Decimal(n_sd) if n_sd is not None else None
    if threshold is None:
        setting = session.execute(_THRESHOLD).scalar()
        threshold = Decimal(setting) if setting is not None and setting > 0 else DEFAULT_SD
    raw = session.connection().connection.dbapi_connection
    token._attach(raw if isinstance(raw, psycopg.Connection) else None)
    statements: tuple[tuple[sa.TextClause, dict[str, Any]], ...] = (
        (_COMPACT, {}),
        (_STATEMENT, {"n_sd": threshold}),
    )
    rows: Sequence[Mapping[Any, Any]] = ()
    try:
        for done, (step, (sql, params)) in enumerate(zip(STEPS, statements, strict=True)):
            if token.cancelled:
                raise Cancelled()
            if progress is not None:
                progress(done, len(STEPS), step)
            try:
                rows = session.execute(sql, params).mappings().all()
            except sa.exc.OperationalError as exc:
                if token.cancelled and isinstance(exc.orig, psycopg.errors.QueryCanceled):
                    raise Cancelled() from exc
                raise
    finally:
        token._attach(None)
    if token.cancelled:
        raise Cancelled()
    if progress is not None:
        progress(len(STEPS), len(STEPS), "")
    hits = [_hit(row) for row in rows if row["field"] is not None]
    checked = sum(int(row["fields_checked"]) for row in rows if row["field"] is None)
    hits.sort(key=lambda h: (-h.n_sd, h.table, h.field, h.record_id))
    return ErrorCheckResult(threshold, tuple(hits), checked)


def _hit(row: Mapping[Any, Any]) -> ErrorCheckHit:
    table = row["source_table"]
    return ErrorCheckHit(
        patient_id=int(row["patient_id"]),
        patient_code=row["patient_code"],
        patient_name=f"{row['family_name']}, {row['given_name']}",
        record_table=row["record_table"],
        record_id=int(row["record_id"]),
        study_date=row["study_date"],
        table=table,
        field=row["field"],
        label=FIELDS[table][row["field"]],
        value=row["value"],
        mean=row["mean"],
        sd=row["sd"],
        n_sd=row["n_sd"],
        n_values=int(row["n"]),
    )
