"""Appointments in the database: rules, rights, and the day list service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical.appointments import Mark, Status
from phms_client.services import appointments, patients
from phms_client.services.appointments import AppointmentInput, StaleAppointment
from tests.harness import PgDatabase, unique_code

UTC = dt.UTC


@pytest.fixture
def clerk(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_clerk")
    yield engine
    engine.dispose()


@pytest.fixture
def patient_id(clerk: sa.Engine) -> int:
    with Session(clerk) as s, s.begin():
        return patients.create(
            s,
            patients.PatientInput(
                patient_code=unique_code(),
                family_name="Gonçalves",
                given_name="Ana",
                sex="female",
                birth_date=dt.date(1970, 3, 4),
            ),
        ).id


def _far_day() -> dt.date:
    """A day of its own, so other tests' appointments never show up."""
    import uuid

    # 400 to 1800 days ahead: appointments may be booked up to five years ahead.
    return dt.date.today() + dt.timedelta(days=400 + uuid.uuid4().int % 1400)


def test_clerk_books_and_works_through_a_day(clerk: sa.Engine, patient_id: int) -> None:
    day = _far_day()
    at = dt.datetime.combine(day, dt.time(9, 30), UTC)
    with Session(clerk) as s, s.begin():
        booked = appointments.book(s, AppointmentInput(patient_id, at, " followup "))
        later = appointments.book(
            s,
            AppointmentInput(
                patient_id, at + dt.timedelta(hours=2), "6-minute walk", 45, "bring O2"
            ),
        )
    assert (booked.kind, booked.status, booked.patient_name) == (
        "followup",
        Status.BOOKED,
        "Gonçalves, Ana",
    )
    with Session(clerk) as s, s.begin():
        moved = appointments.reschedule(s, later.id, later.version, at + dt.timedelta(hours=3))
        arrived = appointments.set_status(s, booked.id, booked.version, Status.ARRIVED)
        done = appointments.set_status(s, arrived.id, arrived.version, Status.COMPLETED)
        listing = appointments.day_list(s, day, UTC)
    assert [r.id for r in listing.rows] == [booked.id, later.id]
    assert moved.starts_at == at + dt.timedelta(hours=3)
    assert done.status is Status.COMPLETED and done.status_changed_at is not None
    assert done.mark(listing.server_now) is Mark.COMPLETED
    assert done.editable(listing.server_now)


def test_stale_change_is_refused(clerk: sa.Engine, patient_id: int) -> None:
    at = dt.datetime.combine(_far_day(), dt.time(8), UTC)
    with Session(clerk) as s, s.begin():
        a = appointments.book(s, AppointmentInput(patient_id, at, "consultation"))
    with Session(clerk) as s, s.begin():
        appointments.set_status(s, a.id, a.version, Status.ARRIVED)
    with pytest.raises(StaleAppointment) as stale, Session(clerk) as s, s.begin():
        appointments.set_status(s, a.id, a.version, Status.CANCELLED)
    assert stale.value.theirs.status is Status.ARRIVED


def test_cancelled_is_final(clerk: sa.Engine, patient_id: int) -> None:
    at = dt.datetime.combine(_far_day(), dt.time(8), UTC)
    with Session(clerk) as s, s.begin():
        a = appointments.book(s, AppointmentInput(patient_id, at, "consultation"))
        c = appointments.set_status(s, a.id, a.version, Status.CANCELLED)
    with (
        pytest.raises(sa.exc.IntegrityError, match="cancelled appointment cannot be changed"),
        Session(clerk) as s,
        s.begin(),
    ):
        appointments.set_status(s, c.id, c.version, Status.BOOKED)


def test_completed_is_editable_for_30_minutes_only(
    db: PgDatabase, clerk: sa.Engine, patient_id: int
) -> None:
    at = dt.datetime.combine(_far_day(), dt.time(8), UTC)
    with Session(clerk) as s, s.begin():
        a = appointments.book(s, AppointmentInput(patient_id, at, "assessment"))
        done = appointments.set_status(s, a.id, a.version, Status.COMPLETED)
        ok = appointments.edit(
            s, done.id, done.version, AppointmentInput(patient_id, at, "assessment", note="fine")
        )
    assert ok.note == "fine"
    # Pretend it was completed 31 minutes ago (as the superuser, bypassing the rules).
    admin = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text("ALTER TABLE phms.appointment DISABLE TRIGGER appointment_rules"))
        conn.execute(
            sa.text(
                "UPDATE phms.appointment SET status_changed_at = now() - "
                "interval '31 minutes' WHERE id = :i"
            ),
            {"i": a.id},
        )
        conn.execute(sa.text("ALTER TABLE phms.appointment ENABLE TRIGGER appointment_rules"))
    admin.dispose()
    with (
        pytest.raises(sa.exc.IntegrityError, match="more than 30 minutes ago"),
        Session(clerk) as s,
        s.begin(),
    ):
        row = appointments.get(s, a.id)
        appointments.edit(
            s, row.id, row.version, AppointmentInput(patient_id, at, "assessment", note="late")
        )


@pytest.mark.parametrize(
    "bad",
    [
        "duration_min = 0",
        "duration_min = 481",
        "kind = ' '",
        "status = 'lost'",
    ],
)
def test_database_rejects_bad_values(clerk: sa.Engine, patient_id: int, bad: str) -> None:
    with clerk.begin() as conn:
        aid = conn.execute(
            sa.text(
                "INSERT INTO phms.appointment (patient_id, starts_at, kind) "
                "VALUES (:p, now(), 'consultation') RETURNING id"
            ),
            {"p": patient_id},
        ).scalar()
    with pytest.raises(sa.exc.IntegrityError), clerk.begin() as conn:
        conn.execute(sa.text(f"UPDATE phms.appointment SET {bad} WHERE id = :i"), {"i": aid})


@pytest.mark.parametrize("user", ["t_auditor"])
def test_auditor_has_no_appointments(db: PgDatabase, user: str) -> None:
    engine = db.engine_for(user)
    with (
        pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
        engine.connect() as conn,
    ):
        conn.execute(sa.text("SELECT * FROM phms.appointment"))
    engine.dispose()


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_admin"])
def test_nobody_deletes_appointments(db: PgDatabase, user: str) -> None:
    engine = db.engine_for(user)
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM phms.appointment"))
    engine.dispose()
