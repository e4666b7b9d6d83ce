"""The patient: demographics, PH diagnosis and status."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Computed, Index, SmallInteger, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, OptDay, OptStr, Str
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

SEXES = ("female", "male", "other", "unknown")
STATUSES = ("active", "deceased", "transferred")


class Patient(Audited, Base):
    __tablename__ = "patient"

    id: Mapped[BigId]
    #: The site patient ID (format from the ``patient_id_format`` setting,
    #: checked by the trigger ``phms.check_patient_code``).
    patient_code: Mapped[Str] = mapped_column(unique=True)
    family_name: Mapped[Str]
    given_name: Mapped[Str]
    sex: Mapped[Str]
    birth_date: Mapped[dt.date]
    phone: Mapped[OptStr]
    email: Mapped[OptStr]
    address: Mapped[OptStr]
    ph_group: Mapped[int | None] = mapped_column(SmallInteger)
    ph_subtype: Mapped[OptStr]
    status: Mapped[Str] = mapped_column(server_default="active")
    deceased_date: Mapped[OptDay]
    #: Lower-case, accent-free "family given" for trigram search; kept by the database.
    search_name: Mapped[str] = mapped_column(
        Text,
        Computed("phms.search_key(family_name || ' ' || given_name)", persisted=True),
    )

    __table_args__ = (
        CheckConstraint("length(btrim(family_name)) > 0", name="family_name_present"),
        CheckConstraint("length(btrim(given_name)) > 0", name="given_name_present"),
        CheckConstraint(f"sex IN {SEXES!r}", name="sex_known"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        CheckConstraint("birth_date >= DATE '1880-01-01'", name="birth_date_plausible"),
        CheckConstraint("ph_group BETWEEN 1 AND 5", name="ph_group_range"),
        CheckConstraint(
            "deceased_date IS NULL OR (status = 'deceased' AND deceased_date >= birth_date)",
            name="deceased_date_consistent",
        ),
        *model_checks("patient"),
        Index(
            "ix_patient_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
        Index("ix_patient_birth_date", "birth_date"),
        # Prefix search, COLLATE "C" in migrations 0006 and 0008 (byte-wise ranges on
        # every server locale); written here as alembic reflects them, without it.
        Index("ix_patient_search_name_prefix", "search_name"),
        Index("ix_patient_code_prefix", "patient_code"),
        Index(
            "ix_patient_given_first_prefix",
            text("phms.search_key((given_name || ' ') || family_name)"),
        ),
    )
