"""Every SECURITY DEFINER function in the database, listed and checked (DESIGN rule 11).

A SECURITY DEFINER function runs with the owner's rights whoever calls it. Each
one pins ``search_path = pg_catalog, pg_temp`` (nothing else in its settings),
is owned by the NOLOGIN owner, is not executable by PUBLIC, and appears in
:data:`REVIEWED` with exactly the groups that may call it: a new one, or a new
grant, fails here until someone has looked at it.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from phms_schema.roles import OWNER
from tests.harness import PgDatabase, unique_code

CLERK, CLINICIAN, ADMIN, AUDITOR = "phms_clerk", "phms_clinician", "phms_admin", "phms_auditor"
STAFF = frozenset({CLERK, CLINICIAN, ADMIN, AUDITOR})

#: Every SECURITY DEFINER function -> the roles granted EXECUTE on it (directly).
#: Trigger functions and internal helpers are granted to nobody.
REVIEWED: dict[str, frozenset[str]] = {
    "audit.log_action(text,text,text,jsonb)": frozenset(),
    "audit.log_change()": frozenset(),
    "audit.review_activity(text,text,timestamp with time zone,timestamp with time zone,"
    "text,text,timestamp with time zone,text,bigint,integer)": frozenset({AUDITOR}),
    "audit.review_event(text,bigint)": frozenset({AUDITOR}),
    "audit.review_flags(timestamp with time zone,timestamp with time zone,integer)": frozenset(
        {AUDITOR}
    ),
    "audit.review_patients(text,integer)": frozenset({AUDITOR}),
    "phms.baseline_in_use()": frozenset(),
    "phms.change_own_password(text)": STAFF,
    "phms.check_patient()": frozenset(),
    "phms.death_after_records()": frozenset(),
    "phms.cohort_statistics(date,date)": frozenset({CLINICIAN, AUDITOR}),
    "phms.log_chart_access(bigint)": frozenset({CLERK}),
    "phms.medication_rules()": frozenset(),
    "phms.must_change_password()": STAFF,
    "phms.record_before_death()": frozenset(),
    "phms.record_rules()": frozenset(),
    "phms.registry_secret()": frozenset({ADMIN}),
    "phms.search_words_add()": frozenset(),
    "phms.staff_create(text,text,text)": frozenset({ADMIN}),
    "phms.staff_group_of(text)": frozenset(),
    "phms.staff_login_required(text)": frozenset(),
    "phms.staff_require(text)": frozenset(),
    "phms.staff_set_enabled(text,boolean)": frozenset({ADMIN}),
    "phms.staff_set_group(text,text)": frozenset({ADMIN}),
    "phms.staff_set_password(text,text)": frozenset({ADMIN}),
    "phms.step_rules()": frozenset(),
    "phms.tally_challenge_deleted()": frozenset(),
    "phms.tally_row()": frozenset(),
    "phms.value_tally_compact()": frozenset({CLINICIAN}),
    "phms.value_tally_rebuild()": frozenset(),
}

PINNED = ["search_path=pg_catalog, pg_temp"]

# Every SECURITY DEFINER function outside PostgreSQL's own schemas.
_DEFINERS = """
SELECT p.oid::regprocedure::text AS signature,
       p.proconfig AS config,
       pg_get_userbyid(p.proowner) AS owner,
       p.proacl IS NULL AS default_acl,
       coalesce((SELECT array_agg(CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                  ELSE pg_get_userbyid(a.grantee) END)
                   FROM aclexplode(p.proacl) a
                  WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner),
                '{}') AS executors
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY 1
"""


def _definers(admin_engine: sa.Engine) -> dict[str, sa.Row[tuple[object, ...]]]:
    with admin_engine.connect() as conn:
        return {r.signature: r for r in conn.execute(sa.text(_DEFINERS))}


def test_every_security_definer_function_is_reviewed(admin_engine: sa.Engine) -> None:
    found = _definers(admin_engine)
    assert sorted(found) == sorted(REVIEWED), "review the new or vanished ones, then list them"
    for signature, row in found.items():
        assert row.owner == OWNER, signature
        assert row.config == PINNED, (signature, row.config)
        # A NULL acl means the default: EXECUTE for PUBLIC.
        assert not row.default_acl, signature
        assert "PUBLIC" not in row.executors, signature
        assert set(row.executors) == REVIEWED[signature], (signature, row.executors)


def test_a_temp_table_named_like_the_catalog_is_not_read(db: PgDatabase) -> None:
    """A session's temporary tables come first on a search_path without pg_temp; with
    ``pg_catalog, pg_temp`` pinned they come last, after the real catalog."""
    engine = db.engine_for("t_admin")
    with engine.begin() as conn:
        # An empty pg_roles: every name looks free. A pg_auth_members and pg_roles
        # saying that postgres is a plain clerk.
        conn.execute(sa.text("CREATE TEMP TABLE pg_roles (oid oid, rolname name)"))
        # Readable by the functions' owner, or it would fail on "permission denied".
        conn.execute(sa.text("GRANT SELECT ON pg_temp.pg_roles TO PUBLIC"))
        with pytest.raises(sa.exc.DBAPIError) as info, conn.begin_nested():
            conn.execute(
                sa.text("SELECT phms.staff_create('t_clerk', 'phms_clerk', :v)"),
                {"v": "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy"},
            )
        # The function's own duplicate check spoke, not CREATE ROLE failing later.
        assert isinstance(info.value.orig, psycopg.errors.DuplicateObject)
        assert info.value.orig.diag.message_primary == 'A user named "t_clerk" already exists'

        conn.execute(
            sa.text(
                "INSERT INTO pg_roles SELECT oid, rolname FROM pg_catalog.pg_roles "
                "WHERE rolname IN ('postgres', 'phms_clerk')"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TEMP TABLE pg_auth_members AS "
                "SELECT (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'phms_clerk') "
                "         AS roleid, "
                "       (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'postgres') "
                "         AS member"
            )
        )
        conn.execute(sa.text("GRANT SELECT ON pg_temp.pg_auth_members TO PUBLIC"))
        for sql in (
            "SELECT phms.staff_set_password('postgres', :v)",
            "SELECT phms.staff_set_enabled('postgres', false)",
        ):
            with pytest.raises(sa.exc.DBAPIError) as info, conn.begin_nested():
                conn.execute(sa.text(sql), {"v": "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy"})
            assert "is a database administration role" in str(info.value.orig)
    engine.dispose()


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician"])
def test_chart_access_is_logged_only_for_patients_that_exist(
    db: PgDatabase, admin_engine: sa.Engine, user: str
) -> None:
    with admin_engine.connect() as conn:
        missing = conn.execute(sa.text("SELECT coalesce(max(id), 0) + 1000 FROM phms.patient"))
        missing_id = missing.scalar()
        before = conn.execute(sa.text("SELECT count(*) FROM audit.chart_access")).scalar()
    engine = db.engine_for(user)
    with engine.begin() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": missing_id})
    assert isinstance(info.value.orig, psycopg.errors.ForeignKeyViolation)
    assert info.value.orig.diag.message_primary == f"No patient with id {missing_id}"
    with engine.begin() as conn, pytest.raises(sa.exc.DBAPIError, match="No patient"):
        conn.execute(sa.text("SELECT phms.log_chart_access(NULL)"))

    with engine.begin() as conn:  # an existing patient is logged as before
        pid = conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date)"
                " VALUES (:c, 'Access', 'Logged', 'female', '1970-01-01') RETURNING id"
            ),
            {"c": unique_code()},
        ).scalar()
        conn.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": pid})
    engine.dispose()
    with admin_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT patient_id, session_user_name FROM audit.chart_access "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
        after = conn.execute(sa.text("SELECT count(*) FROM audit.chart_access")).scalar()
    assert tuple(rows) == (pid, user)
    assert after == (before or 0) + 1
