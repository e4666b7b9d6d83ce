"""Patient ID search by prefix on every server locale: a C-collated btree index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24

Typing the start of a patient ID searched with ``LIKE 'prefix%'``. PostgreSQL
turns that into an index range only when the column's collation sorts byte-wise:
true of the embedded server (builtin C.UTF-8), not of a distribution server
created with a libc locale such as Debian's ``C.UTF-8``, where every keystroke
read the whole patient table. The search is now a range on
``patient_code COLLATE "C"`` (``services.patients.search``), which this index
serves on any locale and in generic plans alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema.roles import OWNER

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute('CREATE INDEX ix_patient_code_prefix ON phms.patient (patient_code COLLATE "C")')
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute("DROP INDEX phms.ix_patient_code_prefix")
    op.execute("RESET ROLE")
