"""The SQL the models cannot express: roles, grants, triggers, functions.

Migrations call these builders; each returns a list of statements. They are
part of the schema's contract: once a migration has used a builder, change its
output only together with a new migration that moves existing databases along.
"""

from __future__ import annotations

from phms_schema.base import SCHEMA
from phms_schema.roles import CHANGE_CHANNEL, GROUPS, OWNER

CLERK, CLINICIAN, ADMIN, AUDITOR = (GROUPS[k] for k in ("clerk", "clinician", "admin", "auditor"))
STAFF_GROUPS = (CLERK, CLINICIAN, ADMIN, AUDITOR)


def _create_role_if_missing(name: str, options: str) -> str:
    return f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
    CREATE ROLE {name} {options};
  END IF;
END $$"""


def _drop_role_if_unused(name: str) -> str:
    # Roles are cluster-wide: another PHMS database on the same server may still
    # use them, in which case they stay (with a notice) and the downgrade goes on.
    return f"""
DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
    BEGIN
      EXECUTE 'DROP ROLE {name}';
    EXCEPTION WHEN dependent_objects_still_exist OR object_in_use THEN
      RAISE NOTICE 'role {name} is still used elsewhere on this server; kept';
    END;
  END IF;
END $$"""


def _grant_admin_only(group: str) -> str:
    # PostgreSQL 16+ can grant ADMIN without the group's rights; 15 (Debian 12's
    # server) cannot, and there the owner simply inherits them, which is harmless.
    return f"""
DO $$ BEGIN
  IF current_setting('server_version_num')::int >= 160000 THEN
    EXECUTE 'GRANT {group} TO {OWNER} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE';
  ELSE
    EXECUTE 'GRANT {group} TO {OWNER} WITH ADMIN OPTION';
  END IF;
END $$"""


def create_roles() -> list[str]:
    """The owner and the four staff groups; admin includes clinician includes clerk."""
    stmts = [_create_role_if_missing(OWNER, "NOLOGIN CREATEROLE")]
    stmts += [_create_role_if_missing(g, "NOLOGIN") for g in STAFF_GROUPS]
    stmts += [
        f"GRANT {CLERK} TO {CLINICIAN}",
        f"GRANT {CLINICIAN} TO {ADMIN}",
        # The owner hands out group membership from inside SECURITY DEFINER
        # functions; it needs ADMIN on the groups, not their rights.
        *(_grant_admin_only(g) for g in STAFF_GROUPS),
    ]
    return stmts


def drop_roles() -> list[str]:
    return [_drop_role_if_unused(r) for r in (*STAFF_GROUPS, OWNER)]


def create_schemas() -> list[str]:
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
        "CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {OWNER}",
        f"CREATE SCHEMA audit AUTHORIZATION {OWNER}",
        f"REVOKE ALL ON SCHEMA {SCHEMA}, audit FROM PUBLIC",
        # Nothing we create is executable by everybody unless we say so.
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {', '.join(STAFF_GROUPS)}",
        f"GRANT USAGE ON SCHEMA audit TO {AUDITOR}",
        # Only staff may connect to this database.
        """DO $$ BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO phms_clerk, phms_clinician,
                  phms_admin, phms_auditor, phms_owner', current_database());
END $$""",
    ]


def drop_schemas() -> list[str]:
    return [
        "DROP SCHEMA IF EXISTS audit CASCADE",
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
        """DO $$ BEGIN
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
END $$""",
    ]


def create_helpers() -> list[str]:
    """Functions used by generated columns and row triggers of every table."""
    return [
        # unaccent() is only STABLE (it reads a dictionary); pinning the dictionary
        # makes it safe for an index and a generated column.
        f"""CREATE FUNCTION {SCHEMA}.search_key(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  RETURN lower(public.unaccent('public.unaccent'::regdictionary, t))""",
        f"""CREATE FUNCTION {SCHEMA}.stamp_row() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
    NEW.created_at := now();
    NEW.created_by := session_user;
  ELSE
    NEW.version := OLD.version + 1;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
  END IF;
  NEW.updated_at := now();
  NEW.updated_by := session_user;
  RETURN NEW;
END $$""",
        f"""CREATE FUNCTION {SCHEMA}.notify_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  PERFORM pg_notify('{CHANGE_CHANNEL}', json_build_object(
    'table', TG_TABLE_NAME, 'op', TG_OP, 'key', to_jsonb(r) ->> TG_ARGV[0])::text);
  RETURN NULL;
END $$""",
    ]


def create_audit() -> list[str]:
    """Append-only audit trail, filled only by SECURITY DEFINER functions."""
    return [
        """CREATE TABLE audit.event (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name text NOT NULL,
  row_key text,
  operation text NOT NULL,
  old_values jsonb,
  new_values jsonb,
  session_user_name text NOT NULL DEFAULT session_user,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  txid bigint NOT NULL DEFAULT txid_current(),
  client_addr inet DEFAULT inet_client_addr(),
  application_name text DEFAULT current_setting('application_name', true)
)""",
        "CREATE INDEX ix_event_table_row ON audit.event (table_name, row_key)",
        "CREATE INDEX ix_event_at ON audit.event (at)",
        """CREATE TABLE audit.chart_access (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  patient_id bigint NOT NULL,
  session_user_name text NOT NULL DEFAULT session_user,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  client_addr inet DEFAULT inet_client_addr(),
  application_name text DEFAULT current_setting('application_name', true)
)""",
        "CREATE INDEX ix_chart_access_patient ON audit.chart_access (patient_id, at)",
        "REVOKE ALL ON audit.event, audit.chart_access FROM PUBLIC",
        f"GRANT SELECT ON audit.event, audit.chart_access TO {AUDITOR}",
        """CREATE FUNCTION audit.log_change() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  old_j jsonb;
  new_j jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW); END IF;
  INSERT INTO audit.event (table_name, row_key, operation, old_values, new_values)
  VALUES (TG_TABLE_NAME, coalesce(new_j, old_j) ->> TG_ARGV[0], TG_OP, old_j, new_j);
  RETURN NULL;
END $$""",
        """CREATE FUNCTION audit.log_action(p_table text, p_key text, p_operation text,
                                  p_details jsonb) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
  BEGIN ATOMIC
    INSERT INTO audit.event (table_name, row_key, operation, new_values)
    VALUES (p_table, p_key, p_operation, p_details);
  END""",
        f"""CREATE FUNCTION {SCHEMA}.log_chart_access(p_patient_id bigint) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
  BEGIN ATOMIC
    INSERT INTO audit.chart_access (patient_id) VALUES (p_patient_id);
  END""",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.log_chart_access(bigint) TO {CLERK}",
    ]


def audited_table(table: str, key_column: str = "id") -> list[str]:
    """Stamps, version counter, audit trail and change notification for one table."""
    qualified = f"{SCHEMA}.{table}"
    return [
        f"""CREATE TRIGGER stamp_row BEFORE INSERT OR UPDATE ON {qualified}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.stamp_row()""",
        f"""CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON {qualified}
  FOR EACH ROW EXECUTE FUNCTION audit.log_change('{key_column}')""",
        f"""CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON {qualified}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.notify_change('{key_column}')""",
    ]


def patient_rules() -> list[str]:
    """Patient ID format from the settings; no birth date in the future."""
    return [
        f"""CREATE FUNCTION {SCHEMA}.patient_code_pattern(fmt text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN '^' || replace(replace(regexp_replace(fmt, '([^A-Za-z0-9])', '\\\\\\1', 'g'),
                                'N', '[0-9]'), 'A', '[A-Z]') || '$'""",
        f"""CREATE FUNCTION {SCHEMA}.check_patient() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  fmt text;
BEGIN
  SELECT value #>> '{{}}' INTO fmt FROM {SCHEMA}.setting WHERE key = 'patient_id_format';
  fmt := coalesce(fmt, 'NNNNNNN-N');
  IF NEW.patient_code !~ {SCHEMA}.patient_code_pattern(fmt) THEN
    RAISE EXCEPTION 'Patient ID "%" does not match the site format %', NEW.patient_code, fmt
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_patient_patient_code_format';
  END IF;
  IF NEW.birth_date > current_date THEN
    RAISE EXCEPTION 'Date of birth % is in the future', NEW.birth_date
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_patient_birth_date_not_future';
  END IF;
  IF NEW.deceased_date > current_date THEN
    RAISE EXCEPTION 'Date of death % is in the future', NEW.deceased_date
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_patient_deceased_date_not_future';
  END IF;
  RETURN NEW;
END $$""",
        f"""CREATE TRIGGER check_patient BEFORE INSERT OR UPDATE ON {SCHEMA}.patient
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.check_patient()""",
    ]


def grants_foundation() -> list[str]:
    return [
        f"GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.patient TO {CLERK}",
        f"GRANT SELECT ON {SCHEMA}.setting TO {CLERK}, {AUDITOR}",
        f"GRANT INSERT, UPDATE, DELETE ON {SCHEMA}.setting TO {ADMIN}",
        f"GRANT SELECT ON public.alembic_version TO {', '.join(STAFF_GROUPS)}",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.search_key(text) TO {', '.join(STAFF_GROUPS)}",
    ]
