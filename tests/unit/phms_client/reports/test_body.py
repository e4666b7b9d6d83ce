"""Ideal body weight (Devine) and BMI for the reports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from phms_client.reports.body import bmi, ideal_weight_kg, weight_to_ideal


@pytest.mark.parametrize(
    ("sex", "height", "expected"),
    [
        ("male", "152.4", "50.0"),  # exactly 5 ft
        ("female", "152.4", "45.5"),
        ("male", "180", "75.0"),  # 70.87 in: 50 + 2.3 × 10.87 = 74.99
        ("female", "160", "52.4"),  # 62.99 in: 45.5 + 2.3 × 2.99 = 52.38
        ("female", "140", "34.3"),  # 55.12 in: 45.5 - 2.3 × 4.88 = 34.27
    ],
)
def test_devine(sex: str, height: str, expected: str) -> None:
    assert ideal_weight_kg(sex, Decimal(height)) == Decimal(expected)


@pytest.mark.parametrize(
    ("sex", "height"),
    [("other", "170"), ("unknown", "170"), ("male", "139.9"), ("male", "250.1"), ("male", None)],
)
def test_devine_does_not_apply(sex: str, height: str | None) -> None:
    assert ideal_weight_kg(sex, None if height is None else Decimal(height)) is None


def test_obesity_ratio_and_bmi() -> None:
    ratio = weight_to_ideal("female", Decimal(160), Decimal(88))
    assert ratio is not None and Decimal("1.67") < ratio < Decimal("1.68")
    assert weight_to_ideal("male", Decimal(180), None) is None
    value = bmi(Decimal(180), Decimal(81))
    assert value == Decimal(25)
    assert bmi(None, Decimal(80)) is None
