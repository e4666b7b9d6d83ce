"""Generalised values (export format /3) and k over the hospital's whole cohort.

- ``batch.export_format``: which export format the batch carried (/2 before this).
- ``batch.ph_subtype_kept``: false when the sender withheld every subtype (the
  ``generalisation`` it declared; /2 always kept them).
- ``patient.diagnosis_year``: the year of the first assessment record when the
  batch's dates were exact, else NULL; a quasi-identifier the registry counts
  (``phms_schema.registry_anonymity``). Filled here for the patients already held,
  by the same rule.

Birth years keep their form: the first year of the band and the band's width.

Revision ID: r0002
Revises: r0001
Create Date: 2027-01-18
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = [
    """ALTER TABLE registry.batch
    ADD COLUMN export_format text NOT NULL DEFAULT 'phms-registry-export/2'
        CHECK (char_length(export_format) <= 40),
    ADD COLUMN ph_subtype_kept boolean NOT NULL DEFAULT true""",
    "ALTER TABLE registry.batch ALTER COLUMN export_format DROP DEFAULT",
    "ALTER TABLE registry.batch ALTER COLUMN ph_subtype_kept DROP DEFAULT",
    """ALTER TABLE registry.patient
    ADD COLUMN diagnosis_year smallint CHECK (diagnosis_year BETWEEN 1880 AND 9999)""",
    """UPDATE registry.patient p
   SET diagnosis_year = (SELECT extract(year FROM min((r->>'date')::date))::smallint
                           FROM jsonb_array_elements(p.records) r
                          WHERE r->>'type' = 'assessment')
  FROM registry.batch b
 WHERE b.batch_id = p.batch_id AND NOT b.dates_shifted""",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE registry.patient DROP COLUMN diagnosis_year")
    op.execute("ALTER TABLE registry.batch DROP COLUMN ph_subtype_kept")
    op.execute("ALTER TABLE registry.batch DROP COLUMN export_format")
