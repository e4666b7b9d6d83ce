"""Value tally under concurrency: steps wait for their challenge; one compaction at a time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24

- ``phms.step_rules`` locks the step's challenge row (``FOR SHARE``) before it
  looks at it. Deleting a challenge as entered in error updates that row, so the
  two now wait for each other: a step can no longer be written to a challenge
  deleted meanwhile, which also left the value tally counting it.
- ``phms.value_tally_compact`` returns at once when another compaction is running
  (transaction-level advisory lock) instead of waiting for its row locks, so a
  second Error Check is not held up by the first.

Downgrade keeps both functions as they are: they work with revision 0008's schema.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema import ddl_clinical, ddl_tally
from phms_schema.roles import OWNER

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute(ddl_clinical.replace_step_rules())
    op.execute(ddl_tally.compact_function(replace=True))
    op.execute("RESET ROLE")


def downgrade() -> None:
    pass
