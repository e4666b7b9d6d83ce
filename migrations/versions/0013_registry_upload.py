"""Registry upload: what was sent to the national registry and acknowledged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

``phms-admin registry-upload`` sends the anonymised registry export over
mutual TLS, daily and incrementally. Three tables keep its state in the
database (so a reinstalled sending machine carries on where it stopped):
the last acknowledged content hash per patient key, every batch (with its
bytes until the registry answers, to resume an interrupted upload), and a log
of runs (the last success and the last error are shown to admins). Admins
only. See ``phms_schema.registry_upload``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema import ddl_registry_upload
from phms_schema.registry_upload import HEX64, MAX_PAYLOAD_BYTES
from phms_schema.roles import OWNER

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.create_table(
        "registry_upload_patient",
        sa.Column("hospital_id", sa.Text(), nullable=False),
        sa.Column("patient_key", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("char_length(hospital_id) BETWEEN 1 AND 64", name="hospital_id_length"),
        sa.CheckConstraint(
            f"char_length(patient_key) = 64 AND patient_key ~ {HEX64}", name="patient_key_hex"
        ),
        sa.CheckConstraint(
            f"char_length(content_sha256) = 64 AND content_sha256 ~ {HEX64}",
            name="content_sha256_hex",
        ),
        sa.PrimaryKeyConstraint("hospital_id", "patient_key", name="pk_registry_upload_patient"),
        schema="phms",
    )
    op.create_table(
        "registry_upload_batch",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("hospital_id", sa.Text(), nullable=False),
        sa.Column("registry_url", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("patients", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'pending'::text"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.CheckConstraint("char_length(hospital_id) BETWEEN 1 AND 64", name="hospital_id_length"),
        sa.CheckConstraint(
            "char_length(registry_url) BETWEEN 1 AND 500", name="registry_url_length"
        ),
        sa.CheckConstraint(
            f"char_length(content_sha256) = 64 AND content_sha256 ~ {HEX64}",
            name="content_sha256_hex",
        ),
        sa.CheckConstraint(f"octet_length(payload) <= {MAX_PAYLOAD_BYTES}", name="payload_size"),
        sa.CheckConstraint(
            "char_length(state) <= 20 AND state IN ('pending', 'acknowledged', 'refused')",
            name="state_known",
        ),
        sa.CheckConstraint(
            "(state = 'pending') = (answered_at IS NULL)", name="answered_when_done"
        ),
        sa.CheckConstraint("char_length(answer) <= 2000", name="answer_length"),
        sa.CheckConstraint(
            "patients >= 0 AND removed >= 0 AND records >= 0", name="counts_not_negative"
        ),
        sa.PrimaryKeyConstraint("batch_id", name="pk_registry_upload_batch"),
        schema="phms",
    )
    op.create_table(
        "registry_upload_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "finished_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("run_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("batches", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("patients", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("removed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("char_length(run_by) BETWEEN 1 AND 63", name="run_by_length"),
        sa.CheckConstraint("char_length(message) BETWEEN 1 AND 2000", name="message_length"),
        sa.PrimaryKeyConstraint("id", name="pk_registry_upload_run"),
        schema="phms",
    )
    for statement in ddl_registry_upload.grants():
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for table in reversed(ddl_registry_upload.TABLES):
        op.drop_table(table, schema="phms")
    op.execute("RESET ROLE")
