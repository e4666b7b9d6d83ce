"""The typo search's dictionary: every word of every patient's name, once.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03

A misspelt name was looked up by trigram word similarity against every patient's
name; on a common family name that read and rejected thousands of rows a keystroke
(up to 130 ms at a million patients). ``phms.search_word`` holds each distinct word
once, filled here from the patients and kept by a row trigger on ``phms.patient``
(``phms.search_words_add``, SECURITY DEFINER; see ``phms_schema.search_word``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema import ddl_limits, ddl_search
from phms_schema.roles import OWNER

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: Only adds (a table, two functions, a trigger): older clients keep working.
BREAKS_CLIENTS_BEFORE: str | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.create_table(
        "search_word",
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_search_word"),
        schema="phms",
    )
    op.execute(ddl_limits.add_checks("search_word", since="0019"))
    for statement in ddl_search.create():
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_search.drop():
        op.execute(statement)
    op.drop_table("search_word", schema="phms")
    op.execute("RESET ROLE")
