"""What every clinical table shares: the patient link, 'entered in error', range checks.

*Del* on the chart never deletes a row (no staff role has DELETE on a clinical
table): it sets ``entered_in_error`` with a reason; the database stamps
``error_at``/``error_by`` itself (trigger ``phms.entry_rules``) and refuses any
later change to such a row, so a deleted entry cannot be restored or edited,
silently or otherwise. Entering it again is a new row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Numeric,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

#: A measured value: exact decimal as typed, NULL when not measured.
Measure = Annotated[Decimal | None, mapped_column(Numeric)]
#: A value the database derives (generated column); never written by a client.
Derived = Annotated[Decimal | None, mapped_column(Numeric)]


class ForPatient:
    patient_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("phms.patient.id"))


class EnteredInError:
    entered_in_error: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    error_reason: Mapped[str | None] = mapped_column(Text)
    #: Stamped by the database when the entry is marked, whatever the client sends.
    error_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error_by: Mapped[str | None] = mapped_column(Text)


def entry_checks() -> list[CheckConstraint]:
    return [
        CheckConstraint(
            "NOT entered_in_error OR coalesce(btrim(error_reason), '') <> ''",
            name="error_reason_required",
        ),
        CheckConstraint(
            "entered_in_error OR error_reason IS NULL", name="error_reason_only_when_in_error"
        ),
        CheckConstraint(
            "entered_in_error = (error_at IS NOT NULL AND error_by IS NOT NULL)",
            name="error_stamps_consistent",
        ),
    ]


def range_checks(ranges: Mapping[str, tuple[str, str]]) -> list[CheckConstraint]:
    """``ck_<table>_<column>_range``: the plausible range, inclusive."""
    return [
        CheckConstraint(f"{column} BETWEEN {low} AND {high}", name=f"{column}_range")
        for column, (low, high) in ranges.items()
    ]
