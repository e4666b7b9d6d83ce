"""Problem reports from Help > Report a problem.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema.ddl import ADMIN, STAFF_GROUPS
from phms_schema.roles import OWNER

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.create_table(
        "problem_report",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reported_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("client_version", sa.Text(), nullable=False),
        sa.Column("server_version", sa.Text(), nullable=False),
        sa.Column("schema_revision", sa.Text(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("log_tail", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("length(btrim(description)) > 0", name="description_present"),
        sa.CheckConstraint("length(log_tail) <= 100000", name="log_tail_size"),
        sa.PrimaryKeyConstraint("id", name="pk_problem_report"),
        schema="phms",
    )
    op.execute("""CREATE FUNCTION phms.stamp_problem_report() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  NEW.reported_at := now();
  NEW.reported_by := session_user;
  RETURN NEW;
END $$""")
    op.execute("""CREATE TRIGGER stamp_problem_report BEFORE INSERT ON phms.problem_report
  FOR EACH ROW EXECUTE FUNCTION phms.stamp_problem_report()""")
    op.execute(f"GRANT INSERT ON phms.problem_report TO {', '.join(STAFF_GROUPS)}")
    op.execute(f"GRANT SELECT ON phms.problem_report TO {ADMIN}")
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.drop_table("problem_report", schema="phms")
    op.execute("DROP FUNCTION phms.stamp_problem_report()")
    op.execute("RESET ROLE")
