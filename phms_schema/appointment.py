"""Appointments: the main window's day list."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, OptStr, Str
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

APPOINTMENT_STATUSES = ("booked", "arrived", "completed", "cancelled")


class Appointment(Audited, Base):
    __tablename__ = "appointment"

    id: Mapped[BigId]
    patient_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("phms.patient.id"))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    duration_min: Mapped[int] = mapped_column(Integer, server_default="30")
    kind: Mapped[Str]
    status: Mapped[Str] = mapped_column(server_default="booked")
    #: When the status last changed; set by the database (trigger phms.appointment_rules).
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[OptStr]

    __table_args__ = (
        CheckConstraint("duration_min BETWEEN 5 AND 480", name="duration_min_range"),
        CheckConstraint("length(btrim(kind)) > 0", name="kind_present"),
        CheckConstraint(
            "status IN ('booked', 'arrived', 'completed', 'cancelled')", name="status_known"
        ),
        *model_checks("appointment"),
        Index("ix_appointment_starts_at", "starts_at"),
        Index("ix_appointment_patient_id", "patient_id"),
    )
