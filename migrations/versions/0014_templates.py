"""Report templates: a default per kind (the site's default letter), never deleted.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

- ``phms.report_template.is_default``: the template a report opens with; at most
  one per kind (partial unique index). The oldest template of each kind, the
  one shipped with 0005, becomes the default.
- ``phms.keep_default_template()`` + trigger ``keep_default``: deleting the
  default is refused for every login, a superuser included; make another
  template the default first. ``keep_default_truncate`` refuses TRUNCATE while
  a default exists.

Builders: ``phms_schema.ddl_templates``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema import ddl_templates
from phms_schema.roles import OWNER

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_templates.upgrade_statements():
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_templates.downgrade_statements():
        op.execute(statement)
    op.execute("RESET ROLE")
