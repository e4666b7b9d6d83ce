"""Acute vasodilator challenge: a baseline (step 0) and steps with agent and dose.

A challenge needs an assessment of the same patient on or before its date
(trigger ``phms.record_rules``, ``ck_vasodilator_challenge_needs_assessment``).
A step's agent must be in the site's ``vasodilator_agents`` setting with that
agent's unit (trigger ``phms.step_rules``; checked when the agent or unit is
written, so old challenges stay valid when the list is edited later).

Steps are never deleted: a step removed while editing is marked entered in
error; only one live step may have a given number. The response
(positive / negative / insufficient data) is the view ``phms.vasoreactivity``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, OptStr
from phms_schema.clinical_common import (
    EnteredInError,
    ForPatient,
    Measure,
    entry_checks,
    range_checks,
)
from phms_schema.ddl_diagnosis import CONSISTENCY
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

STEP_RANGES = {
    "mpap_mmhg": ("0", "150"),
    "pawp_mmhg": ("0", "60"),
    "co_l_min": ("0.5", "20"),
    "spap_mmhg": ("0", "250"),
    "dpap_mmhg": ("0", "150"),
    "heart_rate_bpm": ("20", "250"),
    "svo2_pct": ("10", "100"),
}
MAX_STEP_NO = 30


class VasodilatorChallenge(ForPatient, EnteredInError, Audited, Base):
    __tablename__ = "vasodilator_challenge"

    id: Mapped[BigId]
    study_date: Mapped[dt.date]

    __table_args__ = (
        *entry_checks(),
        *model_checks("vasodilator_challenge"),
        Index("ix_vasodilator_challenge_patient_id_study_date", "patient_id", "study_date"),
    )


class VasodilatorStep(EnteredInError, Audited, Base):
    __tablename__ = "vasodilator_step"

    id: Mapped[BigId]
    challenge_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("phms.vasodilator_challenge.id")
    )
    #: 0 is the baseline (no agent); 1, 2, … the doses in the order given.
    step_no: Mapped[int] = mapped_column(SmallInteger)
    agent: Mapped[OptStr]
    dose: Mapped[Measure]
    dose_unit: Mapped[OptStr]
    mpap_mmhg: Mapped[Measure] = mapped_column(nullable=False)
    pawp_mmhg: Mapped[Measure]
    co_l_min: Mapped[Measure]
    spap_mmhg: Mapped[Measure]
    dpap_mmhg: Mapped[Measure]
    heart_rate_bpm: Mapped[Measure]
    svo2_pct: Mapped[Measure]

    __table_args__ = (
        CheckConstraint(f"step_no BETWEEN 0 AND {MAX_STEP_NO}", name="step_no_valid"),
        CheckConstraint("(step_no = 0) = (agent IS NULL)", name="baseline_has_no_agent"),
        CheckConstraint(
            "(agent IS NULL) = (dose IS NULL) AND (agent IS NULL) = (dose_unit IS NULL)",
            name="agent_dose_unit_together",
        ),
        CheckConstraint("dose > 0", name="dose_positive"),
        CheckConstraint(
            "(dpap_mmhg IS NULL OR dpap_mmhg <= mpap_mmhg)"
            " AND (spap_mmhg IS NULL OR mpap_mmhg <= spap_mmhg)",
            name="valid_pressure_order",
        ),
        *range_checks(STEP_RANGES),
        *model_checks("vasodilator_step"),
        *entry_checks(),
        *(CheckConstraint(sql, name=name) for name, sql in CONSISTENCY.items()),
        Index(
            "uq_vasodilator_step_live_step_no",
            "challenge_id",
            "step_no",
            unique=True,
            postgresql_where=text("NOT entered_in_error"),
        ),
    )
