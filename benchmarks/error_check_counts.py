"""A proposal for ``phms_client.services.error_check``: the same rule from counts per value.

Not used by the client; ``benchmarks.run`` measures it beside the real Error Check
so the reports engineer can judge the rewrite. The shipped statement ranks every
value of a field with a window function (a sort of all ~36 million values at a
million patients). The same exact trimmed mean and SD follow from how often each
distinct value occurs: one GROUPING SETS hash aggregate per table (no sort), a
cumulative count per distinct value says how many of its copies fall in ranks
``n/8 + 1 .. n - n/8``, and sums weighted by those counts give the mean and the
sample SD (``numeric`` throughout). A second, cheap pass compares each row's
columns with ``mean ± N·SD`` and unpivots only those rows. Same hits as the
shipped statement (checked in the benchmark run); the SD can differ from
``stddev_samp`` in its 16th significant digit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


def statement(module: Any, table: str) -> sa.TextClause:
    source, shown, record_id, patient_id, study_date, live = module._SOURCES[table]
    fields = list(module.FIELDS[table])
    k = len(fields)
    cols = ", ".join(f"t.{f}" for f in fields)
    plain = ", ".join(fields)
    sets = ", ".join(f"(t.{f})" for f in fields)
    whens = " ".join(
        f"WHEN {(2**k - 1) - 2 ** (k - 1 - i)} THEN '{f}'" for i, f in enumerate(fields)
    )
    values = ", ".join(f"('{f}', t.{f}::numeric)" for f in fields)
    outside = " OR ".join(
        f"t.{f} < (SELECT lo FROM b WHERE field = '{f}')"
        f" OR t.{f} > (SELECT hi FROM b WHERE field = '{f}')"
        for f in fields
    )
    return sa.text(f"""
WITH g AS (
  SELECT GROUPING({cols}) AS gid, {cols}, count(*) AS c
    FROM {source}
   WHERE {live}
   GROUP BY GROUPING SETS ({sets})
), v AS MATERIALIZED (
  SELECT CASE gid {whens} END AS field, COALESCE({plain})::numeric AS value, c
    FROM g WHERE COALESCE({plain}) IS NOT NULL
), h AS (
  SELECT field, value, c,
         sum(c) OVER (PARTITION BY field ORDER BY value) AS upto,
         sum(c) OVER (PARTITION BY field) AS n
    FROM v
), m AS (
  SELECT field, value, n,
         greatest(0, least(upto, n - floor(n / 8)) - greatest(upto - c, floor(n / 8))) AS kept
    FROM h
), w AS (
  SELECT field, max(n) AS n, sum(kept) AS k, sum(kept * value) AS sx,
         sum(kept * value * value) AS sxx
    FROM m GROUP BY field HAVING max(n) > {module.MIN_VALUES}
), s AS MATERIALIZED (
  SELECT field, n, sx / k AS mean, sqrt((k * sxx - sx * sx) / (k * (k - 1))) AS sd FROM w
), b AS MATERIALIZED (
  SELECT field, n, mean, sd, mean - CAST(:n_sd AS numeric) * sd AS lo,
         mean + CAST(:n_sd AS numeric) * sd AS hi
    FROM s WHERE sd > 0
), suspects AS MATERIALIZED (
  SELECT {record_id} AS record_id, {patient_id} AS patient_id, {study_date} AS study_date, {cols}
    FROM {source}
   WHERE {live} AND ({outside})
)
SELECT {shown} AS record_table, t.record_id, t.patient_id, t.study_date, f.field, f.value,
       b.n, b.mean, b.sd, abs(f.value - b.mean) / b.sd AS n_sd,
       p.patient_code, p.family_name, p.given_name, (SELECT count(*) FROM s) AS fields_checked
  FROM suspects t
 CROSS JOIN LATERAL (VALUES {values}) AS f(field, value)
  JOIN b ON b.field = f.field
  JOIN phms.patient p ON p.id = t.patient_id
 WHERE abs(f.value - b.mean) > CAST(:n_sd AS numeric) * b.sd
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       (SELECT count(*) FROM s)
""")


def applicable(module: Any) -> bool:
    """The shipped module still has the shape this proposal plugs into."""
    return all(hasattr(module, n) for n in ("_statement", "_SOURCES", "FIELDS", "MIN_VALUES"))


@contextmanager
def installed(module: Any) -> Iterator[None]:
    """``run_error_check`` with this statement instead of the shipped one."""
    shipped = module._statement
    module._statement = lambda table: statement(module, table)
    try:
        yield
    finally:
        module._statement = shipped
