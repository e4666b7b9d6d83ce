"""Client releases: IT publishes a signed workstation bundle once; clients fetch it.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-04

- ``phms.client_release`` (audited): version, platform, signed manifest and its
  Ed25519 signature, release notes, where the bytes are; staff read, admins
  publish and withdraw.
- ``phms.client_release_chunk``: the bundle's bytes in pieces of at most 1 MiB.
- ``phms.release_notes_seen``: who has been shown which version's notes (each
  login only its own rows).

Builders: ``phms_schema.ddl_client_release``; bounds: ``phms_schema.client_release``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema import ddl_client_release
from phms_schema.roles import OWNER

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Only adds tables: the clients of the revision before keep working.
BREAKS_CLIENTS_BEFORE: str | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_client_release.upgrade_statements():
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in ddl_client_release.downgrade_statements():
        op.execute(statement)
    op.execute("RESET ROLE")
