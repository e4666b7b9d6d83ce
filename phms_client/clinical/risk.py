"""Four-strata risk at follow-up (COMPERA 2.0, adopted by ESC/ERS 2022).

The same rules as the database view ``phms.assessment_risk`` (and its grade
functions ``phms.risk_grade_*``); the view is the record, this is the preview.

| grade | WHO-FC  | 6MWD (m)  | BNP (pg/mL) | NT-proBNP (pg/mL) |
|-------|---------|-----------|-------------|-------------------|
| 1     | I or II | > 440     | < 50        | < 300             |
| 2     | —       | 320–440   | 50–199      | 300–649           |
| 3     | III     | 165–319   | 200–800     | 650–1100          |
| 4     | IV      | < 165     | > 800       | > 1100            |

The table's bands are written for whole numbers; for a fractional value the
band edges are read as: 6MWD > 440 → 1, ≥ 320 → 2, ≥ 165 → 3, else 4 (so
319.5 m is grade 3); BNP < 50 → 1, < 200 → 2, ≤ 800 → 3, else 4 (199.5 is
grade 2); NT-proBNP < 300 → 1, < 650 → 2, ≤ 1100 → 3, else 4.

Impossible values (outside the plausible ranges of ``phms_client.clinical.ranges``:
WHO-FC 5, a 6MWD of −1 m, a BNP of −5 pg/mL) raise ``ImpossibleValue``; they are
never graded.

NT-proBNP is used when both peptides were measured. At least two of the three
variables (WHO-FC, 6MWD, peptide) are needed; the stratum is the mean of the
grades rounded half up (2.5 → 3, 1.5 → 2, 2.33 → 2, 2.67 → 3), computed in
whole numbers as ⌊(2·sum + n) / (2·n)⌋.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from phms_client.clinical import ranges
from phms_client.clinical.formulas import Number, exact
from phms_client.clinical.ranges import ImpossibleValue

__all__ = ["ImpossibleValue", "Risk", "assess", "grade_bnp", "grade_nt_probnp",
           "grade_walk", "grade_who_fc", "stratum"]  # fmt: skip

LABELS = {1: "low", 2: "intermediate-low", 3: "intermediate-high", 4: "high"}
BNP = "BNP"
NT_PROBNP = "NT-proBNP"
MIN_VARIABLES = 2


def grade_who_fc(who_fc: int | None) -> int | None:
    if who_fc is None:
        return None
    if isinstance(who_fc, bool) or who_fc not in (1, 2, 3, 4):
        raise ImpossibleValue(ranges.WHO_FC.message)
    return {1: 1, 2: 1, 3: 3, 4: 4}[who_fc]


def grade_walk(distance_m: Number | None) -> int | None:
    if distance_m is None:
        return None
    d = ranges.WALK_DISTANCE.checked(exact(distance_m))
    if d > 440:
        return 1
    if d >= 320:
        return 2
    if d >= 165:
        return 3
    return 4


def grade_bnp(bnp_pg_ml: Number | None) -> int | None:
    if bnp_pg_ml is None:
        return None
    v = ranges.BNP.checked(exact(bnp_pg_ml))
    if v < 50:
        return 1
    if v < 200:
        return 2
    if v <= 800:
        return 3
    return 4


def grade_nt_probnp(nt_probnp_pg_ml: Number | None) -> int | None:
    if nt_probnp_pg_ml is None:
        return None
    v = ranges.NT_PROBNP.checked(exact(nt_probnp_pg_ml))
    if v < 300:
        return 1
    if v < 650:
        return 2
    if v <= 1100:
        return 3
    return 4


def stratum(grades: list[int | None]) -> int | None:
    """Mean of the known grades rounded half up; None with fewer than two."""
    known = [g for g in grades if g is not None]
    if len(known) < MIN_VARIABLES:
        return None
    return (2 * sum(known) + len(known)) // (2 * len(known))


@dataclass(frozen=True)
class Risk:
    fc_grade: int | None
    walk_grade: int | None
    peptide: str | None  # 'NT-proBNP' | 'BNP' | None
    peptide_value: Decimal | None
    peptide_grade: int | None
    n_variables: int
    mean_grade: Decimal | None
    stratum: int | None

    @property
    def label(self) -> str | None:
        return None if self.stratum is None else LABELS[self.stratum]


def assess(
    who_fc: int | None,
    distance_m: Number | None,
    bnp_pg_ml: Number | None,
    nt_probnp_pg_ml: Number | None,
) -> Risk:
    """The grades and the stratum for one visit (NT-proBNP preferred over BNP)."""
    if nt_probnp_pg_ml is not None:
        peptide, value, peptide_grade = NT_PROBNP, nt_probnp_pg_ml, grade_nt_probnp(nt_probnp_pg_ml)
    elif bnp_pg_ml is not None:
        peptide, value, peptide_grade = BNP, bnp_pg_ml, grade_bnp(bnp_pg_ml)
    else:
        peptide, value, peptide_grade = None, None, None
    grades = [grade_who_fc(who_fc), grade_walk(distance_m), peptide_grade]
    known = [g for g in grades if g is not None]
    mean = Decimal(sum(known)) / len(known) if len(known) >= MIN_VARIABLES else None
    return Risk(
        fc_grade=grades[0],
        walk_grade=grades[1],
        peptide=peptide,
        peptide_value=None if value is None else exact(value),
        peptide_grade=peptide_grade,
        n_variables=len(known),
        mean_grade=mean,
        stratum=stratum(grades),
    )
