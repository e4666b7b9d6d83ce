"""Foundation: roles, schemas, audit trail, patient and setting.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from phms_schema import ddl, ddl_staff
from phms_schema.defaults import DEFAULT_SETTINGS
from phms_schema.roles import OWNER

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _audited_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
    ]


def upgrade() -> None:
    _run(ddl.create_roles())
    _run(ddl.create_schemas())
    # Everything from here on is owned by the NOLOGIN owner, never by a login.
    op.execute(f"SET ROLE {OWNER}")
    _run(ddl.create_helpers())
    op.create_table(
        "patient",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("patient_code", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("ph_group", sa.SmallInteger(), nullable=True),
        sa.Column("ph_subtype", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("deceased_date", sa.Date(), nullable=True),
        sa.Column(
            "search_name",
            sa.Text(),
            sa.Computed("phms.search_key(family_name || ' ' || given_name)", persisted=True),
            nullable=False,
        ),
        *_audited_columns(),
        sa.CheckConstraint("length(btrim(family_name)) > 0", name="family_name_present"),
        sa.CheckConstraint("length(btrim(given_name)) > 0", name="given_name_present"),
        sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name="sex_known"),
        sa.CheckConstraint("status IN ('active', 'deceased', 'transferred')", name="status_known"),
        sa.CheckConstraint("birth_date >= DATE '1880-01-01'", name="birth_date_plausible"),
        sa.CheckConstraint("ph_group BETWEEN 1 AND 5", name="ph_group_range"),
        sa.CheckConstraint(
            "deceased_date IS NULL OR (status = 'deceased' AND deceased_date >= birth_date)",
            name="deceased_date_consistent",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_patient"),
        sa.UniqueConstraint("patient_code", name="uq_patient_patient_code"),
        schema="phms",
    )
    op.create_index(
        "ix_patient_search_name_trgm",
        "patient",
        ["search_name"],
        schema="phms",
        postgresql_using="gin",
        postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.create_index("ix_patient_birth_date", "patient", ["birth_date"], schema="phms")
    op.create_table(
        "setting",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("value_type", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        *_audited_columns(),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_.]*$'", name="key_format"),
        sa.CheckConstraint(
            "(value_type = 'integer' AND jsonb_typeof(value) = 'number')"
            " OR (value_type = 'number' AND jsonb_typeof(value) = 'number')"
            " OR (value_type = 'text' AND jsonb_typeof(value) = 'string')"
            " OR (value_type = 'boolean' AND jsonb_typeof(value) = 'boolean')"
            " OR (value_type = 'list' AND jsonb_typeof(value) = 'array')"
            " OR (value_type = 'object' AND jsonb_typeof(value) = 'object')",
            name="value_matches_type",
        ),
        sa.CheckConstraint(
            "CASE WHEN value_type <> 'integer' THEN true"
            " WHEN jsonb_typeof(value) <> 'number' THEN false"
            " ELSE value::numeric = trunc(value::numeric) END",
            name="integer_is_whole",
        ),
        sa.PrimaryKeyConstraint("key", name="pk_setting"),
        schema="phms",
    )
    _run(ddl.create_audit())
    _run(ddl.patient_rules())
    _run(ddl.audited_table("patient"))
    _run(ddl.audited_table("setting", key_column="key"))
    _run(ddl_staff.create_staff_functions())
    settings = sa.table(
        "setting",
        sa.column("key", sa.Text()),
        sa.column("value", postgresql.JSONB()),
        sa.column("value_type", sa.Text()),
        sa.column("description", sa.Text()),
        schema="phms",
    )
    op.bulk_insert(
        settings,
        [
            {
                "key": s.key,
                "value": s.value,
                "value_type": s.value_type,
                "description": s.description,
            }
            for s in DEFAULT_SETTINGS
        ],
    )
    op.execute("RESET ROLE")
    _run(ddl.grants_foundation())


def downgrade() -> None:
    _run(ddl.drop_schemas())
    _run(ddl.drop_roles())
