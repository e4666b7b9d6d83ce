"""The window of client versions the database accepts.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

Two settings, ``min_client_version`` (the oldest PHMS release that may log in)
and ``client_download_hint`` (where staff get PHMS), with CHECKs on their shape,
``phms.version_key(text)`` to order versions, and the trigger
``client_window_kept``: the rows stay, and only IT lowers the minimum.
Builders: ``phms_schema.ddl_compat``.

Clients before 0.2.0 only accept the exact revision they were built for, so
they cannot use this revision whatever it records: it starts the window at
0.2.0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema import ddl_compat
from phms_schema.roles import OWNER

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Clients older than this cannot work with the database once this migration ran
#: (None: it only adds, and the clients of the revision before keep working).
#: ``phms-admin db upgrade`` raises ``min_client_version`` to at least this.
BREAKS_CLIENTS_BEFORE: str | None = "0.2.0"


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    seed = sa.text(ddl_compat.SEED)
    for key, value, description in (
        (ddl_compat.MIN_CLIENT_KEY, BREAKS_CLIENTS_BEFORE, ddl_compat.MIN_CLIENT_DESCRIPTION),
        (ddl_compat.DOWNLOAD_HINT_KEY, "", ddl_compat.DOWNLOAD_HINT_DESCRIPTION),
    ):
        op.get_bind().execute(seed, {"k": key, "v": json.dumps(value), "d": description})
    for statement in ddl_compat.upgrade_statements():
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_compat.downgrade_statements():
        op.execute(statement)
    op.execute("RESET ROLE")
