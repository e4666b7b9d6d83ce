"""Pressures that add up: PAWP ≤ mPAP, dPAP ≤ mPAP ≤ sPAP, mPAP > 0."""

from __future__ import annotations

from decimal import Decimal

import pytest

from phms_client.clinical.consistency import MESSAGES, pressure_problems

D = Decimal


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"mpap": D(25), "pawp": D(25)}, {}),  # TPG 0 is possible
        ({"mpap": D(25), "pawp": D(40)}, {"pawp_mmhg": MESSAGES["pawp_mpap"]}),
        ({"mpap": D(0)}, {"mpap_mmhg": MESSAGES["mpap_positive"]}),
        ({"mpap": D("0.1")}, {}),
        ({"spap": D(30), "mpap": D(40)}, {"mpap_mmhg": MESSAGES["mpap_spap"]}),
        ({"dpap": D(30), "mpap": D(20), "spap": D(40)}, {"dpap_mmhg": MESSAGES["dpap_mpap"]}),
        ({"dpap": D(50), "spap": D(40)}, {"dpap_mmhg": MESSAGES["dpap_spap"]}),
        ({"dpap": D(10), "mpap": D(20), "spap": D(40), "pawp": D(8)}, {}),
        ({}, {}),
    ],
)
def test_pressure_problems(values: dict[str, Decimal], expected: dict[str, str]) -> None:
    assert pressure_problems(**values) == expected
