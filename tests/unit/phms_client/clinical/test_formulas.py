"""Derived values: hand-computed examples, edges of the ESC/ERS classes, properties."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phms_client.clinical import formulas as f


def test_bsa_mosteller() -> None:
    # sqrt(180 * 80 / 3600) = sqrt(4) = 2 exactly.
    assert f.bsa(180, 80) == 2.0
    assert f.bsa(Decimal("175"), Decimal("80")) == pytest.approx(1.9720265943665387, rel=1e-15)
    assert f.bsa(None, 80) is None
    assert f.bsa(0, 80) is None


def test_cardiac_index_tpg_dpg_pvr() -> None:
    assert f.cardiac_index(5, 180, 80) == 2.5
    assert f.tpg(45, 10) == 35
    assert f.dpg(25, 10) == 15
    assert f.pvr_wood(45, 10, 5) == 7.0
    assert f.pvr_dyn(45, 10, 5) == 560.0
    assert f.pvr_wood(45, 10, 0) is None
    assert f.pvr_wood(45, None, 5) is None


def test_floats_are_taken_as_typed() -> None:
    # 25.3 - 10.1 is 15.200000000000001 in binary floating point; as typed it is 15.2.
    assert f.tpg(25.3, 10.1) == 15.2
    assert f.ph_class(25.3, 10.1, 7.6) == f.UNCLASSIFIED  # PVR exactly 2 is not raised


@pytest.mark.parametrize(
    ("mpap", "pawp", "co", "expected"),
    [
        (None, 10, 5, None),
        (20, None, None, f.NO_PH),  # 20 itself is not PH
        (Decimal("20.1"), None, 5, None),  # PH, but PAWP unknown
        (30, 10, None, None),  # PH, PVR unknown
        (30, 15, Decimal("7.4"), f.PRE_CAPILLARY),  # PAWP 15 is pre-capillary side; PVR 2.03
        (30, 15, Decimal("7.5"), f.UNCLASSIFIED),  # PVR exactly 2: not raised
        (30, 10, 5, f.PRE_CAPILLARY),  # PVR 4 WU
        (22, 10, 8, f.UNCLASSIFIED),  # PH with normal PAWP and PVR 1.5
        (30, 16, 7, f.ISOLATED_POST_CAPILLARY),  # PVR exactly 2
        (30, 16, Decimal("6.9"), f.COMBINED),
        (45, 25, 4, f.COMBINED),
        (25, 20, 5, f.ISOLATED_POST_CAPILLARY),
    ],
)
def test_ph_class_edges(
    mpap: Decimal | int | None, pawp: int | None, co: Decimal | int | None, expected: str | None
) -> None:
    assert f.ph_class(mpap, pawp, co) == expected


def test_age_in_completed_years() -> None:
    born = dt.date(1960, 5, 1)
    assert f.age_years(born, dt.date(2024, 4, 30)) == 63
    assert f.age_years(born, dt.date(2024, 5, 1)) == 64
    leap = dt.date(2000, 2, 29)
    assert f.age_years(leap, dt.date(2023, 2, 28)) == 22
    assert f.age_years(leap, dt.date(2023, 3, 1)) == 23


def test_walk_predicted_enright_sherrill() -> None:
    # men: 7.57*175 - 5.02*63 - 1.76*80 - 309 = 558.69
    assert f.walk_predicted_m("male", 63, 175, 80) == pytest.approx(558.69, rel=1e-15)
    # women: 2.11*160 - 2.29*60 - 5.78*50 + 667 = 578.2
    assert f.walk_predicted_m("female", 50, 160, 60) == pytest.approx(578.2, rel=1e-15)
    assert f.walk_predicted_m("unknown", 50, 160, 60) is None
    assert f.walk_percent_predicted(350, "male", 63, 175, 80) == pytest.approx(
        100 * 350 / 558.69, rel=1e-12
    )
    # A prediction of zero or less has no percentage.
    assert f.walk_percent_predicted(100, "male", 100, 30, 400) is None


heights = st.decimals("30", "250", places=1)
weights = st.decimals("1", "400", places=1)
outputs = st.decimals("0.5", "20", places=2)


@given(heights, weights, outputs)
def test_cardiac_index_is_output_over_bsa(h: Decimal, w: Decimal, co: Decimal) -> None:
    ci, area = f.cardiac_index(co, h, w), f.bsa(h, w)
    assert ci is not None and area is not None
    assert math.isclose(ci * area, float(co), rel_tol=1e-12)


@given(st.decimals("0", "150", places=1), st.decimals("0", "60", places=1), outputs)
def test_pvr_units_differ_by_80(mpap: Decimal, pawp: Decimal, co: Decimal) -> None:
    wood, dyn = f.pvr_wood(mpap, pawp, co), f.pvr_dyn(mpap, pawp, co)
    assert wood is not None and dyn is not None
    assert math.isclose(dyn, 80 * wood, rel_tol=1e-12, abs_tol=1e-12)
    cls = f.ph_class(mpap, pawp, co)
    assert cls in f.PH_CLASSES
    if cls in (f.PRE_CAPILLARY, f.COMBINED):
        assert wood > 2
