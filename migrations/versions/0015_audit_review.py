"""The auditor's review: recorded review functions instead of reading the trail directly.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Auditors lose SELECT on ``audit.event`` and ``audit.chart_access`` and get the
``audit.review_*`` functions (``phms_schema.ddl_review``), each of which records
the call in the new append-only ``audit.review_log`` before returning rows.
Indexes for newest-first paging by staff login, by patient and overall; the
``clinic_hours`` setting (used by the after-hours flag).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema import ddl_review
from phms_schema.roles import OWNER

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOURS_DESCRIPTION = (
    "Clinic opening hours (local time, HH:MM); the audit review flags charts opened outside them."
)


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_review.create_review():
        op.execute(statement)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO phms.setting (key, value, value_type, description) "
            "VALUES ('clinic_hours', CAST(:v AS jsonb), 'object', :d) "
            "ON CONFLICT (key) DO NOTHING"
        ),
        {"v": json.dumps(ddl_review.CLINIC_HOURS), "d": _HOURS_DESCRIPTION},
    )
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute("DELETE FROM phms.setting WHERE key = 'clinic_hours'")
    for statement in ddl_review.drop_review():
        op.execute(statement)
    op.execute("RESET ROLE")
