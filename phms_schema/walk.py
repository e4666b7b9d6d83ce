"""Six-minute walk test: on room air (``oxygen_l_min`` NULL) or with oxygen.

% predicted (Enright & Sherrill) is the view ``phms.six_minute_walk_predicted``:
age at the walk's date and sex from the patient, height and weight from the
nearest assessment within 180 days (see ``phms_client.clinical.matching``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId
from phms_schema.clinical_common import (
    EnteredInError,
    ForPatient,
    Measure,
    entry_checks,
    range_checks,
)
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

RANGES = {
    "oxygen_l_min": ("0.1", "15"),
    "distance_m": ("0", "1000"),
    "stops": ("0", "50"),
    "spo2_before_pct": ("40", "100"),
    "spo2_after_pct": ("40", "100"),
    "heart_rate_before_bpm": ("20", "250"),
    "heart_rate_after_bpm": ("20", "250"),
    "borg_before": ("0", "10"),
    "borg_after": ("0", "10"),
}


class SixMinuteWalk(ForPatient, EnteredInError, Audited, Base):
    __tablename__ = "six_minute_walk"

    id: Mapped[BigId]
    study_date: Mapped[dt.date]
    #: Supplemental oxygen during the walk; NULL = room air.
    oxygen_l_min: Mapped[Measure]
    distance_m: Mapped[Measure] = mapped_column(nullable=False)
    stops: Mapped[int | None] = mapped_column(SmallInteger)
    spo2_before_pct: Mapped[Measure]
    spo2_after_pct: Mapped[Measure]
    heart_rate_before_bpm: Mapped[Measure]
    heart_rate_after_bpm: Mapped[Measure]
    borg_before: Mapped[Measure]
    borg_after: Mapped[Measure]

    __table_args__ = (
        *range_checks(RANGES),
        *entry_checks(),
        *model_checks("six_minute_walk"),
        Index("ix_six_minute_walk_patient_id_study_date", "patient_id", "study_date"),
    )
