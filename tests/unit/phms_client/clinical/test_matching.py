"""Date matching for the views and 'current' chart items."""

from __future__ import annotations

import datetime as dt

from phms_client.clinical.matching import is_current, nearest

D = dt.date(2024, 3, 15)


def _pick(candidates: list[tuple[int, dt.date]], window: int) -> int | None:
    found = nearest(candidates, D, window, date_of=lambda c: c[1], id_of=lambda c: c[0])
    return None if found is None else found[0]


def test_nearest_within_window_prefers_earlier_then_latest_entered() -> None:
    before, after = D - dt.timedelta(days=3), D + dt.timedelta(days=3)
    assert _pick([(1, after), (2, before)], 14) == 2  # tie: earlier wins
    assert _pick([(1, before), (5, before)], 14) == 5  # same day: entered last wins
    assert _pick([(1, D + dt.timedelta(days=1)), (2, before)], 14) == 1  # nearest wins
    assert _pick([(1, D - dt.timedelta(days=15))], 14) is None
    assert _pick([(1, D - dt.timedelta(days=14))], 14) == 1


def test_current_on_a_date() -> None:
    start = dt.date(2024, 1, 1)
    assert is_current(start, None, start)
    assert not is_current(start, None, start - dt.timedelta(days=1))
    assert is_current(start, D, D - dt.timedelta(days=1))
    assert not is_current(start, D, D)  # stopped as of that date
