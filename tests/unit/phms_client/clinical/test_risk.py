"""COMPERA 2.0 four strata: every band edge, the 2-of-3 rule, rounding half up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phms_client.clinical import risk

# (value, grade) at both sides of every edge of the table in PH_DOMAIN.md.
WALK_EDGES = [(441, 1), (440, 2), (320, 2), (319, 3), (165, 3), (164, 4), (0, 4), (1000, 1)]
WALK_FRACTIONS = [(Decimal("440.5"), 1), (Decimal("319.5"), 3), (Decimal("164.9"), 4)]
BNP_EDGES = [(49, 1), (50, 2), (199, 2), (200, 3), (800, 3), (801, 4), (0, 1)]
BNP_FRACTIONS = [(Decimal("49.9"), 1), (Decimal("199.5"), 2), (Decimal("800.1"), 4)]
NT_EDGES = [(299, 1), (300, 2), (649, 2), (650, 3), (1100, 3), (1101, 4)]
NT_FRACTIONS = [(Decimal("299.9"), 1), (Decimal("649.5"), 2), (Decimal("1100.1"), 4)]
FC_GRADES = [(1, 1), (2, 1), (3, 3), (4, 4)]


@pytest.mark.parametrize(("distance", "grade"), WALK_EDGES + WALK_FRACTIONS)
def test_walk_grade(distance: int | Decimal, grade: int) -> None:
    assert risk.grade_walk(distance) == grade


@pytest.mark.parametrize(("value", "grade"), BNP_EDGES + BNP_FRACTIONS)
def test_bnp_grade(value: int | Decimal, grade: int) -> None:
    assert risk.grade_bnp(value) == grade


@pytest.mark.parametrize(("value", "grade"), NT_EDGES + NT_FRACTIONS)
def test_nt_probnp_grade(value: int | Decimal, grade: int) -> None:
    assert risk.grade_nt_probnp(value) == grade


@pytest.mark.parametrize(("fc", "grade"), FC_GRADES)
def test_who_fc_grade(fc: int, grade: int) -> None:
    assert risk.grade_who_fc(fc) == grade


# (who_fc, 6MWD, BNP, NT-proBNP) -> (stratum, n, peptide used)
CASES = {
    "two of three, 1.5 rounds up to 2": ((2, 400, None, None), (2, 2, None)),
    "two of three, 2.5 rounds up to 3": ((3, 400, None, None), (3, 2, None)),
    "three, mean 2.33 -> 2": ((2, 200, None, 700), (2, 3, "NT-proBNP")),
    "three, mean 2.67 -> 3": ((3, 330, None, 700), (3, 3, "NT-proBNP")),
    "all low": ((1, 500, 30, None), (1, 3, "BNP")),
    "all high": ((4, 100, None, 5000), (4, 3, "NT-proBNP")),
    "only one variable": ((3, None, None, None), (None, 1, None)),
    "only a peptide": ((None, None, 900, None), (None, 1, "BNP")),
    "nothing": ((None, None, None, None), (None, 0, None)),
    "NT-proBNP preferred over BNP": ((None, 500, 30, 2000), (3, 2, "NT-proBNP")),
    "walk and peptide without FC": ((None, 441, 49, None), (1, 2, "BNP")),
    "both peptides count once": ((None, None, 30, 2000), (None, 1, "NT-proBNP")),
}


@pytest.mark.parametrize(("inputs", "expected"), CASES.values(), ids=CASES.keys())
def test_stratum(
    inputs: tuple[int | None, int | None, int | None, int | None],
    expected: tuple[int | None, int, str | None],
) -> None:
    result = risk.assess(*inputs)
    assert (result.stratum, result.n_variables, result.peptide) == expected
    if result.stratum is not None:
        assert result.label == risk.LABELS[result.stratum]


@given(st.lists(st.integers(1, 4), min_size=2, max_size=3))
def test_stratum_is_mean_rounded_half_up(grades: list[int]) -> None:
    mean = Decimal(sum(grades)) / len(grades)
    expected = int(mean.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert risk.stratum(list(grades)) == expected
