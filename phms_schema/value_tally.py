"""How often each value of each measured field occurs (migration 0007).

Tools > Error Check judges every numeric field against the middle 75% of its
values. Ranking tens of millions of values on every run took minutes at a
million patients; the database therefore keeps a tally of how often each
distinct value of each field occurs in live records (``entered_in_error``
false; for challenge steps also a live challenge). The check then reads a few
tens of thousands of (field, value, count) rows instead of every record.

The table is a log of *deltas*: a row trigger on each tallied table adds
``+1`` for every value it writes and ``-1`` for every value it takes away, as
new rows. Nobody updates a shared counter, so concurrent clinical writes never
wait on each other here and cannot deadlock. ``phms.value_tally_compact()``
(run by each Error Check) folds the rows of a (table, field, value) into one;
``phms.value_tally_rebuild()`` recounts everything from the records (the
migration, and a bulk load that skipped triggers, call it).

Nobody writes the table directly: the SECURITY DEFINER trigger and functions
do. Clinicians and admins may read it (they may read every record anyway);
it holds no patient, only values and counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId
from phms_schema.ddl_limits import model_checks

#: table -> the fields whose values are tallied (and judged by the Error Check).
#: Dose of a vasodilator step is left out (agents are given in different units),
#: as are categorical (WHO-FC) and derived values (they follow the inputs).
TALLIED: Final[Mapping[str, tuple[str, ...]]] = {
    "assessment": (
        "height_cm",
        "weight_kg",
        "heart_rate_bpm",
        "spo2_pct",
        "bnp_pg_ml",
        "nt_probnp_pg_ml",
        "creatinine_umol_l",
        "tapse_mm",
        "ra_area_cm2",
        "rap_mmhg",
        "spap_mmhg",
        "dpap_mmhg",
        "mpap_mmhg",
        "pawp_mmhg",
        "co_l_min",
        "svo2_pct",
        "rhc_heart_rate_bpm",
    ),
    "six_minute_walk": (
        "distance_m",
        "oxygen_l_min",
        "stops",
        "spo2_before_pct",
        "spo2_after_pct",
        "heart_rate_before_bpm",
        "heart_rate_after_bpm",
        "borg_before",
        "borg_after",
    ),
    "vasodilator_step": (
        "mpap_mmhg",
        "pawp_mmhg",
        "co_l_min",
        "spap_mmhg",
        "dpap_mmhg",
        "heart_rate_bpm",
        "svo2_pct",
    ),
}


class ValueTally(Base):
    __tablename__ = "value_tally"

    id: Mapped[BigId]
    source_table: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(Text)
    value: Mapped[Decimal] = mapped_column(Numeric)
    #: How many values this row adds (negative: takes away).
    n: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("n <> 0", name="n_not_zero"), *model_checks("value_tally"))
