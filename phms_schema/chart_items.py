"""Medications, allergies and secondary diseases: Add, Stop, Del on the chart.

- **Add**: a new row from ``started_on``.
- **Stop**: ``stopped_on`` (≥ ``started_on``) with a ``stop_reason``; the row
  stays as history. Stop date and reason may be corrected, but a stop cannot be
  taken back (trigger ``phms.item_rules``, ``ck_<table>_stop_is_final``):
  restarting is a new Add, so the history shows both periods.
- **Del**: entered in error (see ``clinical_common``), hidden from the chart.

An item is current on a date when it started on or before it and was not
stopped on or before it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index
from sqlalchemy.orm import Mapped

from phms_schema.base import Base, BigId, OptStr, Str
from phms_schema.clinical_common import EnteredInError, ForPatient, entry_checks
from phms_schema.ddl_diagnosis import ENUM_CHECKS
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited


def _item_checks() -> list[CheckConstraint]:
    return [
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        CheckConstraint(
            "stopped_on IS NULL OR stopped_on >= started_on", name="stopped_after_started"
        ),
        CheckConstraint(
            "stopped_on IS NULL OR coalesce(btrim(stop_reason), '') <> ''",
            name="stop_reason_required",
        ),
        CheckConstraint(
            "stopped_on IS NOT NULL OR stop_reason IS NULL",
            name="stop_reason_only_when_stopped",
        ),
    ]


class _ChartItem(ForPatient, EnteredInError, Audited):
    id: Mapped[BigId]
    #: Drug / substance / disease, from a pick list or typed freely.
    name: Mapped[Str]
    #: Dose and frequency / reaction / note, as written.
    details: Mapped[OptStr]
    started_on: Mapped[dt.date]
    stopped_on: Mapped[dt.date | None]
    stop_reason: Mapped[OptStr]


class Medication(_ChartItem, Base):
    __tablename__ = "medication"
    #: PAH therapy class of a medicine picked from the site's list (0012); NULL =
    #: typed freely, not in the list (``phms_client.clinical.therapy``).
    therapy_class: Mapped[OptStr]
    __table_args__ = (
        *_item_checks(),
        *entry_checks(),
        *model_checks("medication"),
        *(CheckConstraint(sql, name=name) for name, sql in ENUM_CHECKS["medication"].items()),
        Index("ix_medication_patient_id", "patient_id"),
    )


class Allergy(_ChartItem, Base):
    __tablename__ = "allergy"
    __table_args__ = (
        *_item_checks(),
        *entry_checks(),
        *model_checks("allergy"),
        Index("ix_allergy_patient_id", "patient_id"),
    )


class Comorbidity(_ChartItem, Base):
    """A secondary disease ("comorbidity" in PHMS)."""

    __tablename__ = "comorbidity"
    __table_args__ = (
        *_item_checks(),
        *entry_checks(),
        *model_checks("comorbidity"),
        Index("ix_comorbidity_patient_id", "patient_id"),
    )
