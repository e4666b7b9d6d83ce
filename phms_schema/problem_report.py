"""Help > Report a problem: version info and the client's log tail, no patient data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, Str
from phms_schema.ddl_limits import model_checks


class ProblemReport(Base):
    __tablename__ = "problem_report"

    id: Mapped[BigId]
    #: Filled by the database (trigger), whatever the client sends.
    reported_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    reported_by: Mapped[str] = mapped_column(Text, server_default=text("SESSION_USER"))
    description: Mapped[Str]
    client_version: Mapped[Str]
    server_version: Mapped[Str]
    schema_revision: Mapped[Str]
    platform: Mapped[Str]
    log_tail: Mapped[Str] = mapped_column(server_default="")

    __table_args__ = (
        CheckConstraint("length(btrim(description)) > 0", name="description_present"),
        CheckConstraint("length(log_tail) <= 100000", name="log_tail_size"),
        *model_checks("problem_report"),
    )
