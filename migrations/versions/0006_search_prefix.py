"""Name search by prefix: C-collated btree indexes, family name first and given name first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

With a million patients, ranking every trigram match of a common name before
showing the first page took a tenth of a second per keystroke. The search now
reads names that *start* with the typed text first, as a range scan that stops
after one page (``services.patients.search``); the trigram index remains for
substrings and typos. ``COLLATE "C"`` makes the range and its order byte-wise on
every server locale, so the same index serves both.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema.roles import OWNER

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute(
        'CREATE INDEX ix_patient_search_name_prefix ON phms.patient (search_name COLLATE "C")'
    )
    op.execute(
        "CREATE INDEX ix_patient_given_first_prefix ON phms.patient"
        " ((phms.search_key(given_name || ' ' || family_name)) COLLATE \"C\")"
    )
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute("DROP INDEX phms.ix_patient_given_first_prefix")
    op.execute("DROP INDEX phms.ix_patient_search_name_prefix")
    op.execute("RESET ROLE")
