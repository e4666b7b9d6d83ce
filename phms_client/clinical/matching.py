"""Which record goes with which: the date rules shared with the database views.

- **Risk** (``phms.assessment_risk``): an assessment's 6MWD is the walk of the
  same patient nearest in date within ``WALK_WINDOW_DAYS`` either side.
- **% predicted** (``phms.six_minute_walk_predicted``): a walk's height and
  weight come from the assessment (with both measured) nearest in date within
  ``BODY_WINDOW_DAYS`` either side; age is at the walk's date.

Ties: the earlier record wins (a measurement taken before the visit rather
than after it), then the one entered last (highest id). Records entered in
error never match.

Current chart items (medication, allergy, secondary disease) as of a date:
started on or before it, and not stopped on or before it (an item stopped
"as of" a date is no longer current on that date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

WALK_WINDOW_DAYS = 14
BODY_WINDOW_DAYS = 180

T = TypeVar("T")


def nearest(
    candidates: Iterable[T],
    target: dt.date,
    window_days: int,
    *,
    date_of: Callable[[T], dt.date],
    id_of: Callable[[T], int],
) -> T | None:
    """The candidate nearest to ``target`` within the window, by the rules above."""
    best: T | None = None
    best_key: tuple[int, dt.date, int] | None = None
    for c in candidates:
        distance = abs((date_of(c) - target).days)
        if distance > window_days:
            continue
        key = (distance, date_of(c), -id_of(c))
        if best_key is None or key < best_key:
            best, best_key = c, key
    return best


def is_current(started_on: dt.date, stopped_on: dt.date | None, as_of: dt.date) -> bool:
    return started_on <= as_of and (stopped_on is None or stopped_on > as_of)
