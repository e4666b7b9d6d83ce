"""Haemodynamics that add up: the consistency rules between pressures (PH_DOMAIN.md).

- PAWP ≤ mPAP: the wedge pressure cannot exceed the mean PA pressure (a negative
  TPG or PVR is a typing error, not "isolated post-capillary PH");
- dPAP ≤ mPAP ≤ sPAP (and so dPAP ≤ sPAP);
- mPAP > 0 mmHg: a mean PA pressure of 0 is no measurement. The plausible range
  (0–150 mmHg) stays as PH_DOMAIN.md gives it; this rule excludes only 0 itself.

The database holds the same rules as named CHECK constraints (migration 0012:
``ck_<table>_valid_pawp_mpap``, ``ck_<table>_valid_mpap_positive``; the order rule
``ck_<table>_valid_pressure_order`` dates from 0003), on ``assessment`` and on
``vasodilator_step``. The messages here are the ones the forms show as you type
and the ones a refusal by the database reads as.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

__all__ = ["MESSAGES", "pressure_problems"]

MESSAGES: Final = {
    "mpap_positive": "The mean PA pressure must be above 0 mmHg.",
    "pawp_mpap": "PAWP cannot be above the mean PA pressure (TPG and PVR would be negative).",
    "mpap_spap": "The mean PA pressure cannot be above the systolic.",
    "dpap_mpap": "The diastolic PA pressure cannot be above the mean.",
    "dpap_spap": "The diastolic PA pressure cannot be above the systolic.",
}


def pressure_problems(
    *,
    spap: Decimal | None = None,
    dpap: Decimal | None = None,
    mpap: Decimal | None = None,
    pawp: Decimal | None = None,
) -> dict[str, str]:
    """Field (``mpap_mmhg``, ``pawp_mmhg``, ``dpap_mmhg``) -> what is wrong; empty if none.

    Missing values are not checked (each rule needs both of its values)."""
    problems: dict[str, str] = {}
    if mpap is not None and mpap <= 0:
        problems["mpap_mmhg"] = MESSAGES["mpap_positive"]
    if mpap is not None and pawp is not None and pawp > mpap:
        problems["pawp_mmhg"] = MESSAGES["pawp_mpap"]
    if mpap is not None and spap is not None and mpap > spap:
        problems.setdefault("mpap_mmhg", MESSAGES["mpap_spap"])
    if dpap is not None and mpap is not None and dpap > mpap:
        problems["dpap_mmhg"] = MESSAGES["dpap_mpap"]
    elif dpap is not None and spap is not None and dpap > spap:
        problems["dpap_mmhg"] = MESSAGES["dpap_spap"]
    return problems
