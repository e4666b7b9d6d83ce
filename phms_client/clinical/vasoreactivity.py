"""Acute vasoreactivity (ESC/ERS), as the database view ``phms.vasoreactivity``.

Each step (1, 2, …) is compared with the baseline (step 0):

- the *pressure criteria* are met when mPAP fell by ≥ 10 mmHg **and** is ≤ 40 mmHg;
- a step is **positive** when the pressure criteria are met and cardiac output is
  unchanged or higher (CO_step ≥ CO_baseline, no tolerance);
- a step is **undecided** when the pressure criteria are met but a CO is missing.

The test is **positive** if any step is positive; otherwise **insufficient data**
if there is no baseline, no step, or an undecided step; otherwise **negative**.
Steps entered in error do not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from phms_client.clinical.formulas import Number, exact

POSITIVE = "positive"
NEGATIVE = "negative"
INSUFFICIENT = "insufficient data"
RESULTS = (POSITIVE, NEGATIVE, INSUFFICIENT)

MIN_FALL = Decimal(10)
MAX_MPAP = Decimal(40)


@dataclass(frozen=True)
class StepValues:
    step_no: int
    mpap_mmhg: Number
    co_l_min: Number | None = None


@dataclass(frozen=True)
class Vasoreactivity:
    result: str
    #: The first positive step, if any.
    positive_step_no: int | None = None


def assess(baseline: StepValues | None, steps: Iterable[StepValues]) -> Vasoreactivity:
    challenge_steps = sorted((s for s in steps if s.step_no > 0), key=lambda s: s.step_no)
    if baseline is None or not challenge_steps:
        return Vasoreactivity(INSUFFICIENT)
    base_mpap = exact(baseline.mpap_mmhg)
    base_co = None if baseline.co_l_min is None else exact(baseline.co_l_min)
    undecided = False
    for step in challenge_steps:
        mpap = exact(step.mpap_mmhg)
        if not (base_mpap - mpap >= MIN_FALL and mpap <= MAX_MPAP):
            continue
        if base_co is None or step.co_l_min is None:
            undecided = True
        elif exact(step.co_l_min) >= base_co:
            return Vasoreactivity(POSITIVE, step.step_no)
    return Vasoreactivity(INSUFFICIENT if undecided else NEGATIVE)
