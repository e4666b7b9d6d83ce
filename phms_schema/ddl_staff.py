"""Staff accounts: SECURITY DEFINER functions so admins need no superuser rights.

Each staff member is a LOGIN role in exactly one staff group. Passwords reach
the server only as SCRAM verifiers computed by the client (libpq's
``PQencryptPasswordConn``), so no plain password is ever in a statement or log.
Every action is written to ``audit.event``.
"""

from __future__ import annotations

from phms_schema.base import SCHEMA
from phms_schema.ddl import ADMIN, STAFF_GROUPS

_GROUP_ARRAY = "ARRAY[" + ", ".join(f"'{g}'" for g in STAFF_GROUPS) + "]"

_FUNCTIONS = {
    "staff_group_of(p_name text)": f"""RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
  RETURN (SELECT g.rolname FROM pg_auth_members m
            JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
           WHERE r.rolname = p_name AND g.rolname = ANY ({_GROUP_ARRAY})
           ORDER BY g.rolname LIMIT 1)""",
    "staff_check(p_name text, p_group text, p_verifier text)": f"""RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
BEGIN
  IF p_name IS NOT NULL AND (p_name !~ '^[a-z][a-z0-9_]{{1,62}}$'
                             OR p_name ~ '^(pg_|phms_)' OR p_name = 'postgres') THEN
    RAISE EXCEPTION 'Invalid user name "%"', p_name USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Use 2-63 lower-case letters, digits or _, starting with a letter.';
  END IF;
  IF p_group IS NOT NULL AND NOT p_group = ANY ({_GROUP_ARRAY}) THEN
    RAISE EXCEPTION 'Unknown staff group "%"', p_group USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_verifier IS NOT NULL AND p_verifier !~ '^SCRAM-SHA-256\\$' THEN
    RAISE EXCEPTION 'Passwords must be sent as SCRAM-SHA-256 verifiers'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$""",
    "staff_require(p_name text)": f"""RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  grp text := {SCHEMA}.staff_group_of(p_name);
BEGIN
  IF grp IS NULL THEN
    RAISE EXCEPTION 'No staff account "%"', p_name USING ERRCODE = 'undefined_object';
  END IF;
  RETURN grp;
END $$""",
    "staff_create(p_name text, p_group text, p_verifier text)": f"""RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM {SCHEMA}.staff_check(p_name, p_group, p_verifier);
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = p_name) THEN
    RAISE EXCEPTION 'A user named "%" already exists', p_name USING ERRCODE = 'duplicate_object';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', p_name, p_verifier, p_group);
  PERFORM audit.log_action('staff', p_name, 'CREATE', jsonb_build_object('group', p_group));
END $$""",
    "staff_set_enabled(p_name text, p_enabled boolean)": f"""RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM {SCHEMA}.staff_require(p_name);
  IF NOT p_enabled AND p_name = session_user THEN
    RAISE EXCEPTION 'You cannot disable your own account'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('ALTER ROLE %I %s', p_name, CASE WHEN p_enabled THEN 'LOGIN' ELSE 'NOLOGIN' END);
  PERFORM audit.log_action('staff', p_name, CASE WHEN p_enabled THEN 'ENABLE' ELSE 'DISABLE' END,
                           NULL);
END $$""",
    "staff_set_password(p_name text, p_verifier text)": f"""RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM {SCHEMA}.staff_require(p_name);
  PERFORM {SCHEMA}.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', p_name, p_verifier);
  PERFORM audit.log_action('staff', p_name, 'RESET_PASSWORD', NULL);
END $$""",
    "staff_set_group(p_name text, p_group text)": f"""RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  old_group text := {SCHEMA}.staff_require(p_name);
  g text;
BEGIN
  PERFORM {SCHEMA}.staff_check(NULL, p_group, NULL);
  IF p_name = session_user THEN
    RAISE EXCEPTION 'You cannot change your own group' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH g IN ARRAY {_GROUP_ARRAY} LOOP
    IF pg_has_role(p_name, g, 'MEMBER') AND g <> p_group THEN
      EXECUTE format('REVOKE %I FROM %I', g, p_name);
    END IF;
  END LOOP;
  EXECUTE format('GRANT %I TO %I', p_group, p_name);
  PERFORM audit.log_action('staff', p_name, 'CHANGE_GROUP',
                           jsonb_build_object('from', old_group, 'to', p_group));
END $$""",
}

_EXECUTABLE_BY_ADMIN = (
    "staff_create(text, text, text)",
    "staff_set_enabled(text, boolean)",
    "staff_set_password(text, text)",
    "staff_set_group(text, text)",
)


def create_staff_functions() -> list[str]:
    stmts = [f"CREATE FUNCTION {SCHEMA}.{sig} {body}" for sig, body in _FUNCTIONS.items()]
    stmts.append(
        f"""CREATE VIEW {SCHEMA}.staff AS
  SELECT r.rolname::text AS name, g.rolname::text AS group_role,
         r.rolcanlogin AS enabled, r.rolvaliduntil AS valid_until
    FROM pg_roles r
    JOIN pg_auth_members m ON m.member = r.oid
    JOIN pg_roles g ON g.oid = m.roleid
   WHERE g.rolname = ANY ({_GROUP_ARRAY}) AND r.rolname NOT LIKE 'phms\\_%'"""
    )
    stmts.append(f"GRANT SELECT ON {SCHEMA}.staff TO {ADMIN}")
    stmts += [
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.{sig} TO {ADMIN}" for sig in _EXECUTABLE_BY_ADMIN
    ]
    return stmts


def function_definition(signature: str) -> str:
    """``CREATE OR REPLACE`` of one function as :func:`create_staff_functions` made it
    (a later migration's downgrade puts it back)."""
    return f"CREATE OR REPLACE FUNCTION {SCHEMA}.{signature} {_FUNCTIONS[signature]}"
