"""Tools > Error Check: values far from the rest of their field (PH_DOMAIN.md).

For every numeric field with **more than 10** values (live records only), take
the middle 75% of its values — drop the lowest and highest ⌊n/8⌋ (12.5%,
rounded down) by rank — and compute their mean and sample standard deviation;
list every value more than N of those SDs from that mean, N from the setting
``error_check_sd`` (default 50). A field whose middle values are all equal
(SD 0) has no spread to judge against and is skipped.

It is computed in the database, one statement per table (the fields are
unpivoted with ``LATERAL (VALUES …)`` and ranked by a window function), so only
the hits travel. Between tables the job looks at its cancel flag; a running
statement is stopped with libpq's cancel request (``psycopg``'s
``cancel_safe``), so Cancel is prompt even on a large database.

Clinicians and admins only (others have no right on the clinical tables).
Dose of a vasodilator step is left out (agents are given in different units),
as are categorical values (WHO-FC) and derived values (they follow the inputs).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = [
    "DEFAULT_SD",
    "FIELDS",
    "MIN_VALUES",
    "CancelToken",
    "Cancelled",
    "ErrorCheckHit",
    "ErrorCheckResult",
    "run_error_check",
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

#: Each table's live rows with the record a user opens: (table shown, id, patient, date).
_SOURCES: Final = {
    "assessment": (
        "phms.assessment t",
        "'assessment'",
        "t.id",
        "t.patient_id",
        "t.study_date",
        "NOT t.entered_in_error",
    ),
    "six_minute_walk": (
        "phms.six_minute_walk t",
        "'six_minute_walk'",
        "t.id",
        "t.patient_id",
        "t.study_date",
        "NOT t.entered_in_error",
    ),
    "vasodilator_step": (
        "phms.vasodilator_step t JOIN phms.vasodilator_challenge c ON c.id = t.challenge_id",
        "'vasodilator_challenge'",
        "c.id",
        "c.patient_id",
        "c.study_date",
        "NOT t.entered_in_error AND NOT c.entered_in_error",
    ),
}


def _statement(table: str) -> sa.TextClause:
    source, shown, record_id, patient_id, study_date, live = _SOURCES[table]
    values = ", ".join(f"('{f}', t.{f}::numeric)" for f in FIELDS[table])
    return sa.text(f"""
WITH v AS (
  SELECT {shown} AS record_table, {record_id} AS record_id, {patient_id} AS patient_id,
         {study_date} AS study_date, f.field, f.value
    FROM {source}
   CROSS JOIN LATERAL (VALUES {values}) AS f(field, value)
   WHERE {live} AND f.value IS NOT NULL
), r AS (
  SELECT v.*, row_number() OVER (PARTITION BY v.field ORDER BY v.value) AS rn,
         count(*) OVER (PARTITION BY v.field) AS n
    FROM v
), s AS (
  SELECT field, max(n) AS n, avg(value) AS mean, stddev_samp(value) AS sd
    FROM r
   WHERE rn > n / 8 AND rn <= n - n / 8
   GROUP BY field
  HAVING max(n) > {MIN_VALUES}
)
SELECT r.record_table, r.record_id, r.patient_id, r.study_date, r.field, r.value,
       s.n, s.mean, s.sd, abs(r.value - s.mean) / s.sd AS n_sd,
       p.patient_code, p.family_name, p.given_name,
       (SELECT count(*) FROM s) AS fields_checked
  FROM r
  JOIN s ON s.field = r.field
  JOIN phms.patient p ON p.id = r.patient_id
 WHERE s.sd > 0 AND abs(r.value - s.mean) > CAST(:n_sd AS numeric) * s.sd
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       (SELECT count(*) FROM s)
""")


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


def run_error_check(
    session: Session,
    n_sd: Decimal | int | None = None,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> ErrorCheckResult:
    """Run the check; hits sorted by how far off they are, the farthest first.

    ``n_sd`` defaults to the ``error_check_sd`` setting (else 50). ``progress(done,
    total, table)`` is called from the calling thread before each table and at the
    end. Raises :class:`Cancelled` when ``cancel`` was used.
    """
    token = cancel or CancelToken()
    threshold = Decimal(n_sd) if n_sd is not None else None
    if threshold is None:
        setting = session.execute(_THRESHOLD).scalar()
        threshold = Decimal(setting) if setting is not None and setting > 0 else DEFAULT_SD
    raw = session.connection().connection.dbapi_connection
    token._attach(raw if isinstance(raw, psycopg.Connection) else None)
    hits: list[ErrorCheckHit] = []
    checked = 0
    tables = list(FIELDS)
    try:
        for done, table in enumerate(tables):
            if token.cancelled:
                raise Cancelled()
            if progress is not None:
                progress(done, len(tables), table)
            try:
                rows = session.execute(_statement(table), {"n_sd": threshold}).mappings().all()
            except sa.exc.OperationalError as exc:
                if token.cancelled and isinstance(exc.orig, psycopg.errors.QueryCanceled):
                    raise Cancelled() from exc
                raise
            for row in rows:
                if row["field"] is None:
                    checked += int(row["fields_checked"])
                    continue
                hits.append(_hit(table, row))
    finally:
        token._attach(None)
    if token.cancelled:
        raise Cancelled()
    if progress is not None:
        progress(len(tables), len(tables), "")
    hits.sort(key=lambda h: (-h.n_sd, h.table, h.field, h.record_id))
    return ErrorCheckResult(threshold, tuple(hits), checked)


def _hit(table: str, row: Mapping[Any, Any]) -> ErrorCheckHit:
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
