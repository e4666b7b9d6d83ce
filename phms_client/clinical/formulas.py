"""Derived haemodynamic and walk values (PH_DOMAIN.md), for the forms' live preview.

The database computes the same values (generated columns of ``phms.assessment``
and the view ``phms.six_minute_walk_predicted``); the stored values are the
record, these are a preview and must agree with them (property tests compare
both on random input).

Inputs may be ``Decimal``, ``int`` or ``float``; a float is taken as the
decimal it prints as (what was typed), and the arithmetic is done in decimal
like the database's ``numeric``, so comparisons at the thresholds (PVR 2 WU,
PAWP 15 mmHg) come out exactly as in the database. Results are floats for
display; round only when showing them. A missing input gives ``None``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal

Number = Decimal | float | int

#: Plenty for exact sums and products of typed values; the rest is rounding.
_CTX = Context(prec=40)

NO_PH = "no PH"
PRE_CAPILLARY = "pre-capillary"
ISOLATED_POST_CAPILLARY = "isolated post-capillary"
COMBINED = "combined post- and pre-capillary"
UNCLASSIFIED = "unclassified"
PH_CLASSES = (NO_PH, PRE_CAPILLARY, ISOLATED_POST_CAPILLARY, COMBINED, UNCLASSIFIED)

#: ESC/ERS 2022 thresholds: PH is mPAP > 20; PAWP > 15 is post-capillary; PVR > 2 WU.
MPAP_LIMIT = Decimal(20)
PAWP_LIMIT = Decimal(15)
PVR_LIMIT = Decimal(2)


def exact(value: Number) -> Decimal:
    """The decimal a number stands for (a float by its shortest repr, as typed)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


def _bsa(height_cm: Number, weight_kg: Number) -> Decimal | None:
    h, w = exact(height_cm), exact(weight_kg)
    if h <= 0 or w <= 0:
        return None
    return _CTX.sqrt(_CTX.divide(_CTX.multiply(h, w), Decimal(3600)))


def bsa(height_cm: Number | None, weight_kg: Number | None) -> float | None:
    """Body surface area (Mosteller), m²: sqrt(height_cm × weight_kg / 3600)."""
    if height_cm is None or weight_kg is None:
        return None
    area = _bsa(height_cm, weight_kg)
    return None if area is None else float(area)


def cardiac_index(
    co_l_min: Number | None, height_cm: Number | None, weight_kg: Number | None
) -> float | None:
    """Cardiac index, L/min/m²: CO / BSA."""
    if co_l_min is None or height_cm is None or weight_kg is None:
        return None
    area = _bsa(height_cm, weight_kg)
    return None if area is None else float(_CTX.divide(exact(co_l_min), area))


def tpg(mpap_mmhg: Number | None, pawp_mmhg: Number | None) -> float | None:
    """Transpulmonary gradient, mmHg: mPAP − PAWP."""
    if mpap_mmhg is None or pawp_mmhg is None:
        return None
    return float(exact(mpap_mmhg) - exact(pawp_mmhg))


def dpg(dpap_mmhg: Number | None, pawp_mmhg: Number | None) -> float | None:
    """Diastolic pressure gradient, mmHg: dPAP − PAWP."""
    if dpap_mmhg is None or pawp_mmhg is None:
        return None
    return float(exact(dpap_mmhg) - exact(pawp_mmhg))


def _pvr(mpap: Number, pawp: Number, co: Number, factor: int) -> float | None:
    cardiac_output = exact(co)
    if cardiac_output == 0:
        return None
    gradient = _CTX.multiply(exact(mpap) - exact(pawp), Decimal(factor))
    return float(_CTX.divide(gradient, cardiac_output))


def pvr_wood(
    mpap_mmhg: Number | None, pawp_mmhg: Number | None, co_l_min: Number | None
) -> float | None:
    """Pulmonary vascular resistance, Wood units: (mPAP − PAWP) / CO."""
    if mpap_mmhg is None or pawp_mmhg is None or co_l_min is None:
        return None
    return _pvr(mpap_mmhg, pawp_mmhg, co_l_min, 1)


def pvr_dyn(
    mpap_mmhg: Number | None, pawp_mmhg: Number | None, co_l_min: Number | None
) -> float | None:
    """Pulmonary vascular resistance, dyn·s·cm⁻⁵: 80 × (mPAP − PAWP) / CO."""
    if mpap_mmhg is None or pawp_mmhg is None or co_l_min is None:
        return None
    return _pvr(mpap_mmhg, pawp_mmhg, co_l_min, 80)


def ph_class(
    mpap_mmhg: Number | None, pawp_mmhg: Number | None, co_l_min: Number | None
) -> str | None:
    """Haemodynamic class (ESC/ERS 2022), exactly as the column ``assessment.ph_class``.

    - no mPAP: None (not measured);
    - mPAP ≤ 20: 'no PH' (20 itself is not PH), whatever PAWP and CO are;
    - mPAP > 20 and PAWP or CO missing: None (cannot be classified from the data);
    - PAWP ≤ 15 (15 itself counts as pre-capillary side) and PVR > 2: 'pre-capillary';
    - PAWP ≤ 15 and PVR ≤ 2 (2 itself is not raised): 'unclassified'
      (ESC/ERS 2022 "unclassified PH": raised mPAP, normal PAWP and PVR);
    - PAWP > 15 and PVR ≤ 2: 'isolated post-capillary';
    - PAWP > 15 and PVR > 2: 'combined post- and pre-capillary'.

    PVR > 2 is tested as mPAP − PAWP > 2 × CO (CO > 0), so no rounding decides it.
    """
    if mpap_mmhg is None:
        return None
    mpap = exact(mpap_mmhg)
    if mpap <= MPAP_LIMIT:
        return NO_PH
    if pawp_mmhg is None or co_l_min is None:
        return None
    pawp, co = exact(pawp_mmhg), exact(co_l_min)
    raised_pvr = mpap - pawp > PVR_LIMIT * co
    if pawp <= PAWP_LIMIT:
        return PRE_CAPILLARY if raised_pvr else UNCLASSIFIED
    return COMBINED if raised_pvr else ISOLATED_POST_CAPILLARY


def age_years(birth_date: dt.date, on: dt.date) -> int:
    """Completed years on ``on`` (as PostgreSQL's ``age()``; 29 February birthdays
    count as 1 March in common years)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def _walk_predicted(sex: str, age: int, height_cm: Number, weight_kg: Number) -> Decimal | None:
    h, w, a = exact(height_cm), exact(weight_kg), Decimal(age)
    if sex == "male":
        return Decimal("7.57") * h - Decimal("5.02") * a - Decimal("1.76") * w - 309
    if sex == "female":
        return Decimal("2.11") * h - Decimal("2.29") * w - Decimal("5.78") * a + 667
    return None


def walk_predicted_m(
    sex: str | None, age: int | None, height_cm: Number | None, weight_kg: Number | None
) -> float | None:
    """Predicted 6-minute walk distance, m (Enright & Sherrill 1998).

    Defined for sex 'male' and 'female' only; 'other'/'unknown' give None.
    """
    if sex is None or age is None or height_cm is None or weight_kg is None:
        return None
    predicted = _walk_predicted(sex, age, height_cm, weight_kg)
    return None if predicted is None else float(predicted)


def walk_percent_predicted(
    distance_m: Number | None,
    sex: str | None,
    age: int | None,
    height_cm: Number | None,
    weight_kg: Number | None,
) -> float | None:
    """Walked distance as % of predicted; None when the prediction is missing or ≤ 0."""
    if distance_m is None or sex is None or age is None or height_cm is None:
        return None
    if weight_kg is None:
        return None
    predicted = _walk_predicted(sex, age, height_cm, weight_kg)
    if predicted is None or predicted <= 0:
        return None
    return float(_CTX.divide(_CTX.multiply(Decimal(100), exact(distance_m)), predicted))
