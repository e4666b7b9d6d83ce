from __future__ import annotations

import random

import pytest

from phms_client.clinical.patient_id import PatientIdFormat


@pytest.mark.parametrize(
    ("fmt", "code", "ok"),
    [
        ("NNNNNNN-N", "1234567-8", True),
        ("NNNNNNN-N", "1234567-", False),
        ("NNNNNNN-N", "123456789", False),
        ("NNNNNNN-N", "a234567-8", False),
        ("AA-NNNN", "XY-1234", True),
        ("AA-NNNN", "xy-1234", False),
        ("NNN.NNN", "123.456", True),
        ("NNN.NNN", "123x456", False),
    ],
)
def test_validity(fmt: str, code: str, ok: bool) -> None:
    assert PatientIdFormat(fmt).is_valid(code) is ok


@pytest.mark.parametrize(
    ("fmt", "typed", "expected"),
    [
        ("NNNNNNN-N", "12345678", "1234567-8"),
        ("NNNNNNN-N", " 1234567-8 ", "1234567-8"),
        ("AA-NNNN", "xy1234", "XY-1234"),
        ("NNNNNNN-N", "1234", "1234"),
    ],
)
def test_normalise(fmt: str, typed: str, expected: str) -> None:
    assert PatientIdFormat(fmt).normalise(typed) == expected


@pytest.mark.parametrize("fmt", ["NNNNNNN-N", "AA-NNNN", "N/A.N"])
def test_random_codes_are_valid(fmt: str) -> None:
    f = PatientIdFormat(fmt)
    rng = random.Random(1)
    assert all(f.is_valid(f.random_code(rng)) for _ in range(50))
