"""Acute vasoreactivity: the three criteria, each at its edge, and missing data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from phms_client.clinical.vasoreactivity import (
    INSUFFICIENT,
    NEGATIVE,
    POSITIVE,
    StepValues,
    assess,
)

BASE = StepValues(0, 50, Decimal("4.0"))

CASES = {
    "fall 10 to 40, CO same": ([StepValues(1, 40, Decimal("4.0"))], POSITIVE, 1),
    "fall 10 to 40, CO up": ([StepValues(1, 40, 5)], POSITIVE, 1),
    "fall 9.9": ([StepValues(1, Decimal("40.1"), 5)], NEGATIVE, None),
    "CO down a little": ([StepValues(1, 35, Decimal("3.99"))], NEGATIVE, None),
    "second step positive": (
        [StepValues(1, 45, 5), StepValues(2, 38, Decimal("4.2"))],
        POSITIVE,
        2,
    ),
    "no step": ([], INSUFFICIENT, None),
    "pressure met, CO missing": ([StepValues(1, 35, None)], INSUFFICIENT, None),
    "pressure not met, CO missing": ([StepValues(1, 45, None)], NEGATIVE, None),
    "one undecided, one positive": (
        [StepValues(1, 35, None), StepValues(2, 35, 5)],
        POSITIVE,
        2,
    ),
}


@pytest.mark.parametrize(("steps", "result", "step_no"), CASES.values(), ids=CASES.keys())
def test_response(steps: list[StepValues], result: str, step_no: int | None) -> None:
    assert assess(BASE, steps) == (type(assess(BASE, []))(result, step_no))


def test_no_baseline_is_insufficient() -> None:
    assert assess(None, [StepValues(1, 30, 5)]).result == INSUFFICIENT


def test_absolute_limit_40() -> None:
    base = StepValues(0, 60, 4)
    assert assess(base, [StepValues(1, 41, 4)]).result == NEGATIVE  # fell 19 but above 40
    assert assess(base, [StepValues(1, 40, 4)]).result == POSITIVE


def test_baseline_without_co_is_insufficient_when_pressure_falls() -> None:
    base = StepValues(0, 50, None)
    assert assess(base, [StepValues(1, 35, 5)]).result == INSUFFICIENT
    assert assess(base, [StepValues(1, 48, 5)]).result == NEGATIVE
