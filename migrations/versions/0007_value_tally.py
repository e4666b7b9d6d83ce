"""Value tally for the Error Check: counts per distinct value, kept by triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

The Error Check ranked every value of every field on each run (about 36
million values at a million patients: minutes). ``phms.value_tally`` holds how
often each value of each field occurs in live records, kept by row triggers as
a log of +1/-1 deltas (no shared counter to wait on); the check reads it
instead. Existing records are counted here, once (``value_tally_rebuild``). See
``phms_schema.value_tally``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema import ddl_tally
from phms_schema.roles import OWNER

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.create_table(
        "value_tally",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source_table", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("n <> 0", name="n_not_zero"),
        sa.PrimaryKeyConstraint("id", name="pk_value_tally"),
        schema="phms",
    )
    for statement in [
        *ddl_tally.create_functions(),
        *ddl_tally.create_triggers(),
        *ddl_tally.grants(),
    ]:
        op.execute(statement)
    op.execute("SELECT phms.value_tally_rebuild()")
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_tally.drop():
        op.execute(statement)
    op.drop_table("value_tally", schema="phms")
    op.execute("RESET ROLE")
