"""Input limits: no text without a length limit, no control characters, plausible values.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Every text column of ``phms`` gets a length CHECK, and the ones people type into
a CHECK against control characters (``phms_schema.limits``); names must contain
a letter; email and phone must look like one; dates of records, chart entries and
appointments lie between 1900 and 2199 (and triggers keep chart entries within a
year and appointments within five years from today); measured numbers have at
most three decimal places; a vasodilator dose is at most 100 000 and at most
twice the agent's highest configured dose step; an appointment's kind comes from
the ``appointment_kinds`` setting. Each rule is checked when its value is
written, so rows written before a settings change stay editable.

Existing rows are never changed or refused: a constraint that an old row breaks
is kept ``NOT VALID`` with a WARNING (``phms_schema.ddl_limits.add_checks``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema import ddl_limits
from phms_schema.roles import OWNER

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for table in ddl_limits.checked_tables():
        op.execute(ddl_limits.add_checks(table))
    for statement in ddl_limits.create_triggers():
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_limits.drop_triggers():
        op.execute(statement)
    for table in ddl_limits.checked_tables():
        op.execute(ddl_limits.drop_checks(table))
    op.execute("RESET ROLE")
