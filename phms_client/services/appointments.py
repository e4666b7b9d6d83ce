"""Appointments: the day list and its actions (no Qt).

The day list is one statement (appointments joined with their patients, sent
without BEGIN/COMMIT when it is the first of its unit of work) and also returns
the server's clock, so status marks and the database's 30-minute rule
agree even when a workstation's clock is off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical.appointments import Mark, Status, editable, mark
from phms_client.db.database import statement_alone
from phms_client.services import input_rules
from phms_schema import Appointment, Patient, limits

APPOINTMENT: sa.Table = Appointment.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    patient_id: int
    patient_code: str
    patient_name: str
    starts_at: dt.datetime
    duration_min: int
    kind: str
    status: Status
    status_changed_at: dt.datetime | None
    note: str | None
    version: int
    updated_by: str

    def mark(self, now: dt.datetime) -> Mark:
        return mark(self.starts_at, self.status, self.status_changed_at, now)

    def editable(self, now: dt.datetime) -> bool:
        return editable(self.status, self.status_changed_at, now)


@dataclass(frozen=True)
class DayList:
    day: dt.date
    server_now: dt.datetime
    rows: tuple[AppointmentRow, ...]


@dataclass(frozen=True)
class AppointmentInput:
    patient_id: int
    starts_at: dt.datetime
    kind: str
    duration_min: int = 30
    note: str | None = None


class StaleAppointment(Exception):
    """Someone else changed the appointment first; ``theirs`` is the server's copy."""

    def __init__(self, theirs: AppointmentRow) -> None:
        super().__init__(f"appointment {theirs.id} was changed by {theirs.updated_by}")
        self.theirs = theirs


_ROW_COLS = (
    APPOINTMENT.c.id,
    APPOINTMENT.c.patient_id,
    Patient.patient_code,
    (Patient.family_name + ", " + Patient.given_name).label("patient_name"),
    APPOINTMENT.c.starts_at,
    APPOINTMENT.c.duration_min,
    APPOINTMENT.c.kind,
    APPOINTMENT.c.status,
    APPOINTMENT.c.status_changed_at,
    APPOINTMENT.c.note,
    APPOINTMENT.c.version,
    APPOINTMENT.c.updated_by,
)
_JOINED = APPOINTMENT.join(Patient.__table__, Patient.id == APPOINTMENT.c.patient_id)


def _row(r: sa.Row[tuple[object, ...]]) -> AppointmentRow:
    m = dict(r._mapping)
    m.pop("server_now", None)
    m["status"] = Status(m["status"])
    return AppointmentRow(**m)


def day_list(session: Session, day: dt.date, tz: dt.tzinfo) -> DayList:
    """The appointments starting on ``day`` in the clinic's time zone ``tz``.

    A day outside the dates an appointment may have (``phms_schema.limits``) has
    none, and is not looked up (the end of 31 Dec 9999 is past Python's last date).
    """
    now = sa.func.now().label("server_now")
    if not limits.DATE_MIN <= day <= limits.DATE_MAX:
        return DayList(day, session.execute(sa.select(now)).scalar_one(), ())
    start = dt.datetime.combine(day, dt.time(0), tz)
    end = start + dt.timedelta(days=1)
    # The clock LEFT JOIN the day's appointments: one row with the clock even on an
    # empty day, so the list is one statement (sent alone: no BEGIN/COMMIT either).
    clock = sa.select(now).subquery("clock")
    in_day = sa.and_(APPOINTMENT.c.starts_at >= start, APPOINTMENT.c.starts_at < end)
    with statement_alone(session):
        rows = session.execute(
            sa.select(*_ROW_COLS, clock.c.server_now)
            .select_from(clock.outerjoin(_JOINED, in_day))
            .order_by(APPOINTMENT.c.starts_at, APPOINTMENT.c.id)
        ).all()
    return DayList(day, rows[0].server_now, tuple(_row(r) for r in rows if r.id is not None))


def get(session: Session, appointment_id: int) -> AppointmentRow:
    return _row(
        session.execute(
            sa.select(*_ROW_COLS).select_from(_JOINED).where(APPOINTMENT.c.id == appointment_id)
        ).one()
    )


def _values(data: AppointmentInput) -> dict[str, object]:
    values: dict[str, object] = {
        "starts_at": data.starts_at,
        "kind": data.kind.strip(),
        "duration_min": data.duration_min,
        "note": input_rules.clean_text(data.note or "").strip() or None,
    }
    input_rules.check_row("appointment", values)
    return values


def book(session: Session, data: AppointmentInput) -> AppointmentRow:
    new_id = session.execute(
        sa.insert(APPOINTMENT)
        .values(patient_id=data.patient_id, **_values(data))
        .returning(APPOINTMENT.c.id)
    ).scalar_one()
    return get(session, new_id)


def _update(
    session: Session, appointment_id: int, version: int, **values: object
) -> AppointmentRow:
    changed = session.execute(
        sa.update(APPOINTMENT)
        .where(APPOINTMENT.c.id == appointment_id, APPOINTMENT.c.version == version)
        .values(**values)
        .returning(APPOINTMENT.c.id)
    ).first()
    if changed is None:
        raise StaleAppointment(get(session, appointment_id))
    return get(session, appointment_id)


def reschedule(
    session: Session,
    appointment_id: int,
    version: int,
    starts_at: dt.datetime,
    duration_min: int | None = None,
) -> AppointmentRow:
    values: dict[str, object] = {"starts_at": starts_at}
    input_rules.check_row("appointment", values)
    if duration_min is not None:
        values["duration_min"] = duration_min
    return _update(session, appointment_id, version, **values)


def set_status(
    session: Session, appointment_id: int, version: int, status: Status
) -> AppointmentRow:
    return _update(session, appointment_id, version, status=str(status))


def edit(
    session: Session, appointment_id: int, version: int, data: AppointmentInput
) -> AppointmentRow:
    return _update(session, appointment_id, version, **_values(data))
