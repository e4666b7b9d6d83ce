from __future__ import annotations

import datetime as dt

import pytest

from phms_client.clinical.appointments import Mark, Status, editable, mark

T = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("now", "status", "expected"),
    [
        (T - 31 * M, Status.BOOKED, Mark.UPCOMING),
        (T - 30 * M - S, Status.BOOKED, Mark.UPCOMING),
        (T - 30 * M, Status.BOOKED, Mark.DUE),
        (T, Status.BOOKED, Mark.DUE),
        (T + 30 * M, Status.BOOKED, Mark.DUE),
        (T + 30 * M + S, Status.BOOKED, Mark.MISSED),
        (T + 3 * 60 * M, Status.BOOKED, Mark.MISSED),
        (T - 31 * M, Status.ARRIVED, Mark.ARRIVED),
        (T, Status.ARRIVED, Mark.DUE),
        (T + 30 * M + S, Status.ARRIVED, Mark.ARRIVED),
    ],
)
def test_due_and_missed_boundaries(now: dt.datetime, status: Status, expected: Mark) -> None:
    assert mark(T, status, None, now) is expected


@pytest.mark.parametrize(
    ("status", "since", "expected"),
    [
        (Status.COMPLETED, 0 * M, Mark.COMPLETED),
        (Status.COMPLETED, 30 * M, Mark.COMPLETED),
        (Status.COMPLETED, 30 * M + S, Mark.DONE),
        (Status.CANCELLED, 0 * M, Mark.CANCELLED),
        (Status.CANCELLED, 30 * M, Mark.CANCELLED),
        (Status.CANCELLED, 30 * M + S, Mark.CANCELLED_EARLIER),
    ],
)
def test_completed_and_cancelled_show_for_30_minutes(
    status: Status, since: dt.timedelta, expected: Mark
) -> None:
    changed = T + 5 * M
    assert mark(T, status, changed, changed + since) is expected


@pytest.mark.parametrize(
    ("status", "since", "expected"),
    [
        (Status.BOOKED, 10 * 60 * M, True),
        (Status.ARRIVED, 10 * 60 * M, True),
        (Status.COMPLETED, 30 * M, True),
        (Status.COMPLETED, 30 * M + S, False),
        (Status.CANCELLED, 0 * M, False),
    ],
)
def test_completed_stays_editable_for_30_minutes(
    status: Status, since: dt.timedelta, expected: bool
) -> None:
    assert editable(status, T, T + since) is expected
