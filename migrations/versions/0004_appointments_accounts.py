"""Appointments for the day list; forced password change for new and reset logins.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from phms_schema import ddl
from phms_schema.roles import OWNER

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAFF = "phms_clerk, phms_clinician, phms_admin, phms_auditor"

APPOINTMENT_RULES = """CREATE FUNCTION phms.appointment_rules() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.status_changed_at := now();
    RETURN NEW;
  END IF;
  IF OLD.status = 'cancelled' THEN
    RAISE EXCEPTION 'A cancelled appointment cannot be changed; book a new one.'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_appointment_cancelled_is_final';
  END IF;
  IF OLD.status = 'completed' AND now() - OLD.status_changed_at > interval '30 minutes' THEN
    RAISE EXCEPTION 'This appointment was completed more than 30 minutes ago and can no '
                    'longer be changed.'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_appointment_completed_is_final';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    NEW.status_changed_at := now();
  ELSE
    NEW.status_changed_at := OLD.status_changed_at;
  END IF;
  RETURN NEW;
END $$"""

SET_PASSWORD_V1 = """CREATE OR REPLACE FUNCTION phms.staff_set_password(p_name text,
    p_verifier text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM phms.staff_require(p_name);
  PERFORM phms.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', p_name, p_verifier);
  PERFORM audit.log_action('staff', p_name, 'RESET_PASSWORD', NULL);
END $$"""

# An admin's reset also makes the person choose their own password at next login.
SET_PASSWORD_V2 = SET_PASSWORD_V1.replace(
    "  PERFORM audit.log_action",
    """  INSERT INTO phms.staff_account (name, must_change_password) VALUES (p_name, true)
    ON CONFLICT (name) DO UPDATE SET must_change_password = true;
  PERFORM audit.log_action""",
)

ACCOUNT_FUNCTIONS = [
    """CREATE FUNCTION phms.must_change_password() RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
  RETURN coalesce((SELECT must_change_password FROM phms.staff_account
                    WHERE name = session_user), true)""",
    """CREATE FUNCTION phms.change_own_password(p_verifier text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM phms.staff_require(session_user);
  PERFORM phms.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', session_user, p_verifier);
  INSERT INTO phms.staff_account (name, must_change_password) VALUES (session_user, false)
    ON CONFLICT (name) DO UPDATE SET must_change_password = false;
  PERFORM audit.log_action('staff', session_user, 'CHANGE_OWN_PASSWORD', NULL);
END $$""",
    f"GRANT EXECUTE ON FUNCTION phms.must_change_password() TO {STAFF}",
    f"GRANT EXECUTE ON FUNCTION phms.change_own_password(text) TO {STAFF}",
    "GRANT SELECT ON phms.staff_account TO phms_admin",
]


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.create_table(
        "appointment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("patient_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_min", sa.Integer(), server_default="30", nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="booked", nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
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
        sa.CheckConstraint("duration_min BETWEEN 5 AND 480", name="duration_min_range"),
        sa.CheckConstraint("length(btrim(kind)) > 0", name="kind_present"),
        sa.CheckConstraint(
            "status IN ('booked', 'arrived', 'completed', 'cancelled')", name="status_known"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["phms.patient.id"], name="fk_appointment_patient_id_patient"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_appointment"),
        schema="phms",
    )
    op.create_index("ix_appointment_starts_at", "appointment", ["starts_at"], schema="phms")
    op.create_index("ix_appointment_patient_id", "appointment", ["patient_id"], schema="phms")
    op.execute(APPOINTMENT_RULES)
    op.execute("""CREATE TRIGGER appointment_rules BEFORE INSERT OR UPDATE ON phms.appointment
  FOR EACH ROW EXECUTE FUNCTION phms.appointment_rules()""")
    for statement in ddl.audited_table("appointment"):
        op.execute(statement)
    op.execute("GRANT SELECT, INSERT, UPDATE ON phms.appointment TO phms_clerk")

    op.create_table(
        "staff_account",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "must_change_password", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name="pk_staff_account"),
        schema="phms",
    )
    # Staff who exist already chose their passwords before this rule existed.
    op.execute("""INSERT INTO phms.staff_account (name, must_change_password)
                  SELECT name, false FROM phms.staff""")
    op.execute(SET_PASSWORD_V2)
    for statement in ACCOUNT_FUNCTIONS:
        op.execute(statement)

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
                "key": "appointment_kinds",
                "value_type": "list",
                "description": "Kinds of appointment offered when booking.",
                "value": [
                    "assessment",
                    "followup",
                    "vasodilator challenge",
                    "6-minute walk",
                    "consultation",
                ],
            }
        ],
    )
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute("DELETE FROM phms.setting WHERE key = 'appointment_kinds'")
    op.execute("DROP FUNCTION phms.change_own_password(text)")
    op.execute("DROP FUNCTION phms.must_change_password()")
    op.execute(SET_PASSWORD_V1)
    op.drop_table("staff_account", schema="phms")
    op.drop_table("appointment", schema="phms")
    op.execute("DROP FUNCTION phms.appointment_rules()")
    op.execute("RESET ROLE")
