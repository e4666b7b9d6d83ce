"""Trust boundary: SECURITY DEFINER functions pinned to pg_catalog, pg_temp; staff functions
act on staff logins only; chart access only for patients that exist.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

- Every SECURITY DEFINER function gets ``search_path = pg_catalog, pg_temp``:
  without ``pg_temp`` named last, a caller's ``CREATE TEMP TABLE pg_roles`` was
  read before the catalog (``staff_create`` then skipped its duplicate check).
  The upgrade fails if any such function of ours is left unpinned.
- ``phms.staff_login_required(name)`` refuses the staff groups, the owner,
  ``postgres``, ``pg_*`` roles, superusers and roles with CREATEROLE, CREATEDB,
  REPLICATION or BYPASSRLS, roles other roles are members of, and roles in no
  or more than one staff group (or in a role PHMS does not manage). The staff
  functions and ``change_own_password`` use it: an admin can no longer give a
  group a password and LOGIN, nor move a whole group into another.
- The staff groups and the owner are made NOLOGIN without a password, in case
  that was done before (with a warning naming the role).
- ``phms.log_chart_access`` refuses a patient id that does not exist.
- Every password PHMS sets (``staff_create``, ``staff_set_password``,
  ``change_own_password``) leaves the SHA-256 of its verifier in the audit row,
  for ``phms-admin user password-check``.

The downgrade puts the previous definitions back (it leaves the groups NOLOGIN).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from phms_schema import ddl_staff, ddl_trust
from phms_schema.roles import OWNER

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the definitions of revision 0009 that no builder produces as such.
PREVIOUS = [
    # 0004: an admin's reset also forces a change at next login.
    """CREATE OR REPLACE FUNCTION phms.staff_set_password(p_name text,
    p_verifier text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM phms.staff_require(p_name);
  PERFORM phms.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', p_name, p_verifier);
  INSERT INTO phms.staff_account (name, must_change_password) VALUES (p_name, true)
    ON CONFLICT (name) DO UPDATE SET must_change_password = true;
  PERFORM audit.log_action('staff', p_name, 'RESET_PASSWORD', NULL);
END $$""",
    # 0004
    """CREATE OR REPLACE FUNCTION phms.change_own_password(p_verifier text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM phms.staff_require(session_user);
  PERFORM phms.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', session_user, p_verifier);
  INSERT INTO phms.staff_account (name, must_change_password) VALUES (session_user, false)
    ON CONFLICT (name) DO UPDATE SET must_change_password = false;
  PERFORM audit.log_action('staff', session_user, 'CHANGE_OWN_PASSWORD', NULL);
END $$""",
    # 0001
    """CREATE OR REPLACE FUNCTION phms.log_chart_access(p_patient_id bigint) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
  BEGIN ATOMIC
    INSERT INTO audit.chart_access (patient_id) VALUES (p_patient_id);
  END""",
]

# 0001's staff functions, as ddl_staff still builds them.
PREVIOUS_STAFF = (
    "staff_require(p_name text)",
    "staff_create(p_name text, p_group text, p_verifier text)",
    "staff_set_enabled(p_name text, p_enabled boolean)",
    "staff_set_group(p_name text, p_group text)",
)


def upgrade() -> None:
    op.execute(ddl_trust.group_roles_cannot_log_in())
    op.execute(f"SET ROLE {OWNER}")
    for statement in [
        *ddl_trust.pin_search_paths(),
        *ddl_trust.trusted_functions(),
        ddl_trust.assert_all_pinned(),
    ]:
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    for statement in [
        *(ddl_staff.function_definition(sig) for sig in PREVIOUS_STAFF),
        *PREVIOUS,
        "DROP FUNCTION phms.staff_login_required(text)",
        *ddl_trust.pin_search_paths("pg_catalog"),
    ]:
        op.execute(statement)
    op.execute("RESET ROLE")
