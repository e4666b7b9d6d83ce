"""The trust boundary of the SECURITY DEFINER code (migration 0010).

A SECURITY DEFINER function runs with the owner's rights, so it must not be
fooled by its caller:

- Its ``search_path`` is ``pg_catalog, pg_temp``. Without ``pg_temp`` named
  last, PostgreSQL searches the caller's temporary schema *first* for tables,
  so a ``CREATE TEMP TABLE pg_roles`` would be read instead of the catalog.
- A function that takes a role name acts only on a real staff login:
  ``phms.staff_login_required`` refuses the groups, the owner, superusers and
  every other role PHMS does not manage, with a sentence that says why.
- ``phms.log_chart_access`` records only patients that exist.
- Each password set through PHMS leaves its verifier's fingerprint in the audit
  trail (:data:`FINGERPRINT_KEY`).

``tests/db/test_security_definer.py`` lists every SECURITY DEFINER function in
the database and checks these settings, so a new one cannot slip through.

As with ``ddl.py``: once a migration has used a builder, change its output only
together with a new migration.
"""

from __future__ import annotations

from phms_schema.base import SCHEMA
from phms_schema.ddl import STAFF_GROUPS
from phms_schema.roles import OWNER

#: The one search_path of every SECURITY DEFINER function.
PINNED_PATH = "pg_catalog, pg_temp"

_GROUP_ARRAY = "ARRAY[" + ", ".join(f"'{g}'" for g in STAFF_GROUPS) + "]"
_DEFINER = f"SECURITY DEFINER SET search_path = {PINNED_PATH}"

#: SECURITY DEFINER functions of revisions 0001-0009 whose bodies 0010 keeps; it
#: only pins their search_path.
REPINNED = (
    "audit.log_change()",
    "audit.log_action(text, text, text, jsonb)",
    f"{SCHEMA}.check_patient()",
    f"{SCHEMA}.record_rules()",
    f"{SCHEMA}.baseline_in_use()",
    f"{SCHEMA}.step_rules()",
    f"{SCHEMA}.tally_row()",
    f"{SCHEMA}.tally_challenge_deleted()",
    f"{SCHEMA}.value_tally_compact()",
    f"{SCHEMA}.value_tally_rebuild()",
    f"{SCHEMA}.cohort_statistics(date, date)",
    f"{SCHEMA}.registry_secret()",
    f"{SCHEMA}.must_change_password()",
    f"{SCHEMA}.staff_group_of(text)",
)


def pin_search_paths(path: str = PINNED_PATH) -> list[str]:
    """``ALTER FUNCTION … SET search_path`` for every function in :data:`REPINNED`."""
    return [f"ALTER FUNCTION {sig} SET search_path = {path}" for sig in REPINNED]


def _refuse(message: str, *args: str, hint: str = "", code: str = "invalid_parameter_value") -> str:
    params = "".join(f", {a}" for a in args)
    using = f"ERRCODE = '{code}'" + (f",\n        HINT = '{hint}'" if hint else "")
    return f"RAISE EXCEPTION '{message}'{params}\n      USING {using};"


#: Audit detail of every password set through PHMS: the SHA-256 of the SCRAM verifier.
#: It reveals nothing of the password (the verifier's salt is not in it), yet lets the
#: superuser see whether a login's verifier is still the one PHMS set
#: (``phms-admin user password-check``), i.e. whether it was changed with plain ALTER ROLE.
FINGERPRINT_KEY = "verifier_sha256"
_FINGERPRINT_KEY = f"'{FINGERPRINT_KEY}'"

#: Events whose details carry :data:`FINGERPRINT_KEY`.
PASSWORD_EVENTS = ("CREATE", "RESET_PASSWORD", "CHANGE_OWN_PASSWORD")


def fingerprint(expression: str) -> str:
    """SQL: the fingerprint of the verifier ``expression`` (hex SHA-256)."""
    return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"


_MANAGE_ON_SERVER = "Manage it on the server as the database superuser, not through PHMS."

STAFF_LOGIN_REQUIRED = f"""CREATE FUNCTION {SCHEMA}.staff_login_required(p_name text)
  RETURNS text
  LANGUAGE plpgsql STABLE {_DEFINER} AS $$
-- The staff group of p_name, a login PHMS manages; anything else is refused.
DECLARE
  r record;
  staff_groups text[];
  other_roles text[];
BEGIN
  SELECT oid, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
    INTO r FROM pg_catalog.pg_roles WHERE rolname = p_name;
  IF NOT FOUND THEN
    {_refuse('No staff account "%"', "p_name", code="undefined_object")}
  END IF;
  IF p_name = ANY ({_GROUP_ARRAY}) THEN
    {
    _refuse(
        '"%" is a staff group, not a staff login',
        "p_name",
        hint="Groups give rights to logins; they never log in themselves.",
    )
}
  END IF;
  IF p_name = '{OWNER}' THEN
    {_refuse('"%" owns the PHMS database objects; it is not a staff login', "p_name")}
  END IF;
  IF p_name = 'postgres' OR p_name LIKE 'pg\\_%' OR r.rolsuper OR r.rolcreaterole
     OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls THEN
    {
    _refuse(
        '"%" is a database administration role, not a staff login',
        "p_name",
        hint=_MANAGE_ON_SERVER,
    )
}
  END IF;
  -- Since PostgreSQL 16 the owner holds ADMIN on each login it created: not a member.
  IF EXISTS (SELECT FROM pg_catalog.pg_auth_members m
              WHERE m.roleid = r.oid
                AND m.member <> (SELECT oid FROM pg_catalog.pg_roles
                                  WHERE rolname = '{OWNER}')) THEN
    {
    _refuse(
        '"%" is a group (other roles are members of it), not a staff login',
        "p_name",
        hint=_MANAGE_ON_SERVER,
    )
}
  END IF;
  SELECT array_agg(g.rolname::text ORDER BY g.rolname)
           FILTER (WHERE g.rolname = ANY ({_GROUP_ARRAY})),
         array_agg(g.rolname::text ORDER BY g.rolname)
           FILTER (WHERE NOT g.rolname = ANY ({_GROUP_ARRAY}))
    INTO staff_groups, other_roles
    FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
   WHERE m.member = r.oid;
  IF other_roles IS NOT NULL THEN
    {
    _refuse(
        '"%" is also a member of %, which PHMS does not manage',
        "p_name",
        "array_to_string(other_roles, ', ')",
        hint=_MANAGE_ON_SERVER,
    )
}
  END IF;
  IF staff_groups IS NULL THEN
    {_refuse('No staff account "%" (it is in no staff group)', "p_name", code="undefined_object")}
  END IF;
  IF cardinality(staff_groups) > 1 THEN
    {
    _refuse(
        '"%" is in more than one staff group (%)',
        "p_name",
        "array_to_string(staff_groups, ', ')",
        hint="A staff login is in exactly one group. " + _MANAGE_ON_SERVER,
    )
}
  END IF;
  RETURN staff_groups[1];
END $$"""

_FUNCTIONS = {
    # Kept for any caller of revisions before 0010; the same rule as everywhere else.
    "staff_require(p_name text)": f"""RETURNS text
  LANGUAGE sql STABLE {_DEFINER}
  RETURN {SCHEMA}.staff_login_required(p_name)""",
    "staff_create(p_name text, p_group text, p_verifier text)": f"""RETURNS void
  LANGUAGE plpgsql {_DEFINER} AS $$
BEGIN
  PERFORM {SCHEMA}.staff_check(p_name, p_group, p_verifier);
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = p_name) THEN
    RAISE EXCEPTION 'A user named "%" already exists', p_name USING ERRCODE = 'duplicate_object';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', p_name, p_verifier, p_group);
  PERFORM audit.log_action('staff', p_name, 'CREATE',
                           jsonb_build_object('group', p_group, {_FINGERPRINT_KEY},
                                              {fingerprint("p_verifier")}));
END $$""",
    "staff_set_enabled(p_name text, p_enabled boolean)": f"""RETURNS void
  LANGUAGE plpgsql {_DEFINER} AS $$
BEGIN
  PERFORM {SCHEMA}.staff_login_required(p_name);
  IF NOT p_enabled AND p_name = session_user THEN
    RAISE EXCEPTION 'You cannot disable your own account'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('ALTER ROLE %I %s', p_name, CASE WHEN p_enabled THEN 'LOGIN' ELSE 'NOLOGIN' END);
  PERFORM audit.log_action('staff', p_name, CASE WHEN p_enabled THEN 'ENABLE' ELSE 'DISABLE' END,
                           NULL);
END $$""",
    # An admin's reset also makes the person choose their own password at next login.
    "staff_set_password(p_name text, p_verifier text)": f"""RETURNS void
  LANGUAGE plpgsql {_DEFINER} AS $$
BEGIN
  PERFORM {SCHEMA}.staff_login_required(p_name);
  PERFORM {SCHEMA}.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', p_name, p_verifier);
  INSERT INTO {SCHEMA}.staff_account (name, must_change_password) VALUES (p_name, true)
    ON CONFLICT (name) DO UPDATE SET must_change_password = true;
  PERFORM audit.log_action('staff', p_name, 'RESET_PASSWORD',
                           jsonb_build_object({_FINGERPRINT_KEY}, {fingerprint("p_verifier")}));
END $$""",
    "staff_set_group(p_name text, p_group text)": f"""RETURNS void
  LANGUAGE plpgsql {_DEFINER} AS $$
DECLARE
  old_group text := {SCHEMA}.staff_login_required(p_name);
BEGIN
  PERFORM {SCHEMA}.staff_check(NULL, p_group, NULL);
  IF p_name = session_user THEN
    RAISE EXCEPTION 'You cannot change your own group' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF old_group <> p_group THEN
    EXECUTE format('REVOKE %I FROM %I', old_group, p_name);
    EXECUTE format('GRANT %I TO %I', p_group, p_name);
  END IF;
  PERFORM audit.log_action('staff', p_name, 'CHANGE_GROUP',
                           jsonb_build_object('from', old_group, 'to', p_group));
END $$""",
    "change_own_password(p_verifier text)": f"""RETURNS void
  LANGUAGE plpgsql {_DEFINER} AS $$
BEGIN
  PERFORM {SCHEMA}.staff_login_required(session_user);
  PERFORM {SCHEMA}.staff_check(NULL, NULL, p_verifier);
  EXECUTE format('ALTER ROLE %I PASSWORD %L', session_user, p_verifier);
  INSERT INTO {SCHEMA}.staff_account (name, must_change_password) VALUES (session_user, false)
    ON CONFLICT (name) DO UPDATE SET must_change_password = false;
  PERFORM audit.log_action('staff', session_user, 'CHANGE_OWN_PASSWORD',
                           jsonb_build_object({_FINGERPRINT_KEY}, {fingerprint("p_verifier")}));
END $$""",
    "log_chart_access(p_patient_id bigint)": f"""RETURNS void
  LANGUAGE plpgsql {_DEFINER} AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM {SCHEMA}.patient WHERE id = p_patient_id) THEN
    RAISE EXCEPTION 'No patient with id %', p_patient_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  INSERT INTO audit.chart_access (patient_id) VALUES (p_patient_id);
END $$""",
}


def trusted_functions() -> list[str]:
    """The staff check, and the functions 0010 rewrites to use it (CREATE OR REPLACE)."""
    return [
        STAFF_LOGIN_REQUIRED,
        *(f"CREATE OR REPLACE FUNCTION {SCHEMA}.{sig} {body}" for sig, body in _FUNCTIONS.items()),
    ]


def assert_all_pinned() -> str:
    """Fails the migration if any SECURITY DEFINER function of ours is not pinned."""
    return f"""DO $$
DECLARE
  loose text;
BEGIN
  SELECT string_agg(p.oid::regprocedure::text, ', ') INTO loose
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE p.prosecdef AND n.nspname IN ('{SCHEMA}', 'audit')
     AND p.proconfig IS DISTINCT FROM ARRAY['search_path={PINNED_PATH}'];
  IF loose IS NOT NULL THEN
    RAISE EXCEPTION 'SECURITY DEFINER functions without search_path = {PINNED_PATH}: %', loose;
  END IF;
END $$"""


def group_roles_cannot_log_in() -> str:
    """Groups and the owner: NOLOGIN, no password (undoes an earlier misuse, with a warning).

    Run as the migrating login (it created these roles), not as the owner.
    """
    roles = ", ".join(f"'{r}'" for r in (*STAFF_GROUPS, OWNER))
    return f"""DO $$
DECLARE
  r text;
BEGIN
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ({roles}) LOOP
    IF (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      RAISE WARNING 'role % could log in; it no longer can. Look for ENABLE and '
                    'RESET_PASSWORD rows on it in audit.event.', r;
    END IF;
    BEGIN
      EXECUTE format('ALTER ROLE %I NOLOGIN PASSWORD NULL', r);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'could not make sure role % cannot log in: %', r, SQLERRM;
    END;
  END LOOP;
END $$"""
