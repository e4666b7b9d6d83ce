"""Appointment status marks for the day list (PH_DOMAIN.md, Workflow).

- due: starts within 30 minutes, or is overdue by up to 30 minutes;
- missed: still booked and overdue by more than 30 minutes;
- completed / cancelled: marked as such for 30 minutes after it happened;
- a completed appointment stays editable from the list for 30 minutes.

Pure functions of the appointment and the clock, so the 30-minute boundaries are
tested with a fixed ``now``. A boundary instant belongs to the earlier window
("within 30 minutes" includes exactly 30).
"""

from __future__ import annotations

import datetime as dt
import enum

WINDOW = dt.timedelta(minutes=30)


class Status(enum.StrEnum):
    BOOKED = "booked"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Mark(enum.StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    ARRIVED = "arrived"
    MISSED = "missed"
    COMPLETED = "completed"  # completed in the last 30 minutes
    DONE = "done"  # completed longer ago
    CANCELLED = "cancelled"  # cancelled in the last 30 minutes
    CANCELLED_EARLIER = "cancelled earlier"


def mark(
    starts_at: dt.datetime, status: Status, changed_at: dt.datetime | None, now: dt.datetime
) -> Mark:
    """The mark shown in the day list. ``changed_at``: when the status was last set."""
    if status is Status.COMPLETED:
        recent = changed_at is not None and now - changed_at <= WINDOW
        return Mark.COMPLETED if recent else Mark.DONE
    if status is Status.CANCELLED:
        recent = changed_at is not None and now - changed_at <= WINDOW
        return Mark.CANCELLED if recent else Mark.CANCELLED_EARLIER
    if starts_at - WINDOW <= now <= starts_at + WINDOW:
        return Mark.DUE
    if now > starts_at + WINDOW:
        return Mark.ARRIVED if status is Status.ARRIVED else Mark.MISSED
    return Mark.ARRIVED if status is Status.ARRIVED else Mark.UPCOMING


def editable(status: Status, changed_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Booked and arrived appointments are editable; completed ones for 30 minutes."""
    if status in (Status.BOOKED, Status.ARRIVED):
        return True
    if status is Status.COMPLETED:
        return changed_at is not None and now - changed_at <= WINDOW
    return False
