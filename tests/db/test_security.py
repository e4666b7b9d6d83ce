"""Rights live in the database: each role tries what it must not do, and fails.

Every test connects as a real staff login (a PostgreSQL LOGIN role in one
group) with its password, exactly as a modified client or psql could.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from phms_client.services import staff
from phms_schema import ddl_clinical
from phms_schema.roles import GROUPS, OWNER
from tests.harness import STAFF, STAFF_PASSWORD, PgDatabase, unique_code

ALL_STAFF = sorted(STAFF)

# Forbidden for every staff group, admin included.
FORBIDDEN_FOR_ALL = {
    "update audit.event": "UPDATE audit.event SET operation = 'X'",
    "delete audit.event": "DELETE FROM audit.event",
    "truncate audit.event": "TRUNCATE audit.event",
    "insert audit.event": "INSERT INTO audit.event (table_name, operation) VALUES ('x', 'x')",
    "delete audit.chart_access": "DELETE FROM audit.chart_access",
    "drop table patient": "DROP TABLE phms.patient",
    "alter table patient": "ALTER TABLE phms.patient ADD COLUMN x int",
    "truncate patient": "TRUNCATE phms.patient",
    "delete patient": "DELETE FROM phms.patient",
    "disable audit trigger": "ALTER TABLE phms.patient DISABLE TRIGGER audit_change",
    "create table in phms": "CREATE TABLE phms.x (id int)",
    "create table in public": "CREATE TABLE public.x (id int)",
    "create role": "CREATE ROLE intruder LOGIN PASSWORD 'x'",
    "alter role self superuser": "ALTER ROLE CURRENT_USER SUPERUSER",
    "alter role self createrole": "ALTER ROLE CURRENT_USER CREATEROLE",
    "alter role self bypassrls": "ALTER ROLE CURRENT_USER BYPASSRLS",
    "join the owner role": f"GRANT {OWNER} TO CURRENT_USER",
    "set role owner": f"SET ROLE {OWNER}",
    "raw audit write": "SELECT audit.log_action('staff', 'x', 'FAKE', NULL)",
    "update alembic_version": "UPDATE public.alembic_version SET version_num = 'x'",
}

FORBIDDEN_BY_ROLE = {
    "t_clerk": {
        "read audit trail": "SELECT * FROM audit.event",
        "change settings": "UPDATE phms.setting SET value = '5' WHERE key = 'idle_lock_minutes'",
        "create staff": "SELECT phms.staff_create('x_new', 'phms_admin', 'SCRAM-SHA-256$x')",
        "list staff": "SELECT * FROM phms.staff",
    },
    "t_clinician": {
        "read audit trail": "SELECT * FROM audit.event",
        "change settings": "UPDATE phms.setting SET value = '5' WHERE key = 'idle_lock_minutes'",
        "add setting": "INSERT INTO phms.setting (key, value, value_type) "
        "VALUES ('x', '1', 'integer')",
        "create staff": "SELECT phms.staff_create('x_new', 'phms_admin', 'SCRAM-SHA-256$x')",
        "disable staff": "SELECT phms.staff_set_enabled('t_admin', false)",
        "promote self": "SELECT phms.staff_set_group('t_clinician', 'phms_admin')",
        "grant self admin": "GRANT phms_admin TO t_clinician",
    },
    "t_auditor": {
        "read audit trail unrecorded": "SELECT * FROM audit.event",
        "read chart openings unrecorded": "SELECT * FROM audit.chart_access",
        "read patients": "SELECT * FROM phms.patient",
        "insert patient": "INSERT INTO phms.patient (patient_code, family_name, given_name, "
        "sex, birth_date) VALUES ('1234567-8', 'A', 'B', 'male', '1970-01-01')",
        "change settings": "UPDATE phms.setting SET value = '5' WHERE key = 'idle_lock_minutes'",
        "log chart access": "SELECT phms.log_chart_access(1)",
        "create staff": "SELECT phms.staff_create('x_new', 'phms_admin', 'SCRAM-SHA-256$x')",
    },
    "t_admin": {
        "read audit trail": "SELECT * FROM audit.event",
        "create superuser via name": "SELECT phms.staff_create('x\" SUPERUSER --', "
        "'phms_admin', 'SCRAM-SHA-256$x')",
        "create login in owner role": "SELECT phms.staff_create('x_owner', 'phms_owner', "
        "'SCRAM-SHA-256$x')",
        "take over postgres": "SELECT phms.staff_set_password('postgres', 'SCRAM-SHA-256$x')",
        "plain-text password": "SELECT phms.staff_create('x_plain', 'phms_clerk', "
        "'secret12345678')",
        "disable self": "SELECT phms.staff_set_enabled('t_admin', false)",
    },
}

CASES = [(user, label, sql) for user in ALL_STAFF for label, sql in FORBIDDEN_FOR_ALL.items()]
CASES += [
    (user, label, sql) for user, cases in FORBIDDEN_BY_ROLE.items() for label, sql in cases.items()
]

# Clinical records (migration 0003). Del is "entered in error": no staff role, admin
# included, may DELETE or TRUNCATE; clerks and auditors may not touch them at all.
CLINICAL_FOR_ALL = {
    f"{verb.split()[0].lower()} {table}": f"{verb} phms.{table}"
    for table in ddl_clinical.TABLES
    for verb in ("DELETE FROM", "TRUNCATE")
}
CLINICAL_FOR_CLERK_AND_AUDITOR = {
    **{f"read {t}": f"SELECT * FROM phms.{t}" for t in ddl_clinical.TABLES},
    **{f"insert {t}": f"INSERT INTO phms.{t} DEFAULT VALUES" for t in ddl_clinical.TABLES},
    **{f"update {t}": f"UPDATE phms.{t} SET version = version" for t in ddl_clinical.TABLES},
    **{f"read {v}": f"SELECT * FROM phms.{v}" for v in ddl_clinical.VIEWS},
    "risk grade function": "SELECT phms.risk_grade_bnp(100)",
}
CASES += [(u, label, sql) for u in ALL_STAFF for label, sql in CLINICAL_FOR_ALL.items()]
CASES += [
    (u, label, sql)
    for u in ("t_clerk", "t_auditor")
    for label, sql in CLINICAL_FOR_CLERK_AND_AUDITOR.items()
]


@pytest.mark.parametrize(("user", "label", "sql"), CASES, ids=[f"{u}-{lbl}" for u, lbl, _ in CASES])
def test_forbidden(db: PgDatabase, user: str, label: str, sql: str) -> None:
    engine = db.engine_for(user)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(sql))
    engine.dispose()
    assert isinstance(
        info.value.orig,
        psycopg.errors.InsufficientPrivilege
        | psycopg.errors.InvalidParameterValue
        | psycopg.errors.UndefinedObject
        | psycopg.errors.ObjectNotInPrerequisiteState,
    ), (label, info.value.orig)


def test_staff_are_plain_members_of_one_group(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
                "FROM pg_roles WHERE rolname = ANY(:names)"
            ),
            {"names": ALL_STAFF},
        ).all()
    assert len(rows) == len(ALL_STAFF)
    for name, *powers in rows:
        assert not any(powers), name


def test_objects_are_owned_by_the_nologin_owner(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as conn:
        owners = set(
            conn.execute(
                sa.text(
                    "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname IN ('phms', 'audit')"
                )
            ).scalars()
        )
        functions = set(
            conn.execute(
                sa.text(
                    "SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname IN ('phms', 'audit')"
                )
            ).scalars()
        )
        can_login = conn.execute(
            sa.text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :o"), {"o": OWNER}
        ).scalar()
    assert owners == {OWNER}
    assert functions == {OWNER}
    assert can_login is False


def _audit_rows(admin_engine: sa.Engine, table: str, key: str) -> list[sa.Row[tuple[str, str]]]:
    with admin_engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT operation, session_user_name FROM audit.event "
                    "WHERE table_name = :t AND row_key = :k ORDER BY id"
                ),
                {"t": table, "k": key},
            )
        )


def test_clerk_change_is_audited_with_their_name(db: PgDatabase, admin_engine: sa.Engine) -> None:
    engine = db.engine_for("t_clerk")
    code = unique_code()
    with engine.begin() as conn:
        pid = conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date)"
                " VALUES (:c, 'Núñez', 'José', 'male', '1961-02-03') RETURNING id"
            ),
            {"c": code},
        ).scalar()
        conn.execute(sa.text("UPDATE phms.patient SET phone = '555' WHERE id = :i"), {"i": pid})
        conn.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": pid})
    engine.dispose()
    assert [tuple(r) for r in _audit_rows(admin_engine, "patient", str(pid))] == [
        ("INSERT", "t_clerk"),
        ("UPDATE", "t_clerk"),
    ]
    with admin_engine.connect() as conn:
        who = (
            conn.execute(
                sa.text("SELECT session_user_name FROM audit.chart_access WHERE patient_id = :i"),
                {"i": pid},
            )
            .scalars()
            .all()
        )
    assert who == ["t_clerk"]


def test_admin_setting_change_is_audited(db: PgDatabase, admin_engine: sa.Engine) -> None:
    engine = db.engine_for("t_admin")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.setting SET value = '20' WHERE key = 'idle_lock_minutes'")
        )
        conn.execute(
            sa.text("UPDATE phms.setting SET value = '15' WHERE key = 'idle_lock_minutes'")
        )
    engine.dispose()
    rows = _audit_rows(admin_engine, "setting", "idle_lock_minutes")
    assert [tuple(r) for r in rows[-2:]] == [("UPDATE", "t_admin"), ("UPDATE", "t_admin")]


def test_auditor_reads_the_trail(db: PgDatabase) -> None:
    """Through the recorded review functions (tests/db/test_audit_review.py)."""
    engine = db.engine_for("t_auditor")
    with engine.connect() as conn:
        n = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.review_activity(NULL, NULL, NULL, NULL, NULL,"
                " NULL, NULL, NULL, NULL, 100)"
            )
        ).scalar()
    engine.dispose()
    assert n is not None and n > 0


def test_admin_manages_staff_and_it_is_audited(db: PgDatabase, admin_engine: sa.Engine) -> None:
    engine = db.engine_for("t_admin")
    with engine.begin() as conn:
        staff.create(conn, "x_nurse", "clinician", "a-long-password-1")
        staff.set_enabled(conn, "x_nurse", False)
    with pytest.raises(sa.exc.OperationalError, match="not permitted to log in"):
        db.engine_for("x_nurse", "a-long-password-1").connect()
    with engine.begin() as conn:
        staff.set_enabled(conn, "x_nurse", True)
        staff.reset_password(conn, "x_nurse", "another-long-password")
        staff.set_group(conn, "x_nurse", "clerk")
        members = {m.name: m for m in staff.list_staff(conn)}
    engine.dispose()
    assert members["x_nurse"].group == "clerk" and members["x_nurse"].enabled
    nurse = db.engine_for("x_nurse", "another-long-password")
    with nurse.connect() as conn:
        groups = (
            conn.execute(
                sa.text(
                    "SELECT g FROM unnest(CAST(:g AS text[])) g WHERE pg_has_role(g, 'MEMBER')"
                ),
                {"g": list(GROUPS.values())},
            )
            .scalars()
            .all()
        )
    nurse.dispose()
    assert groups == ["phms_clerk"]
    assert [tuple(r) for r in _audit_rows(admin_engine, "staff", "x_nurse")] == [
        ("CREATE", "t_admin"),
        ("DISABLE", "t_admin"),
        ("ENABLE", "t_admin"),
        ("RESET_PASSWORD", "t_admin"),
        ("CHANGE_GROUP", "t_admin"),
    ]


def test_short_password_is_refused_before_reaching_the_server(db: PgDatabase) -> None:
    engine = db.engine_for("t_admin")
    with engine.begin() as conn, pytest.raises(staff.PasswordPolicyError, match="12"):
        staff.create(conn, "x_short", "clerk", "short")
    engine.dispose()


def test_wrong_password_is_refused(db: PgDatabase) -> None:
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        db.engine_for("t_clerk", STAFF_PASSWORD + "x").connect()


# Reports (migration 0005): templates are written by admins only; the registry key is
# read by admins only and only through phms.registry_secret(); the cohort aggregates are
# for clinical staff and auditors, not for clerks.
REPORT_CASES = [
    ("t_clerk", "read templates", "SELECT * FROM phms.report_template"),
    ("t_clerk", "cohort statistics", "SELECT phms.cohort_statistics(NULL, NULL)"),
    *(
        (user, f"{verb} template", sql)
        for user in ("t_clinician", "t_auditor")
        for verb, sql in (
            (
                "insert",
                "INSERT INTO phms.report_template (name, kind, body) "
                "VALUES ('x', 'statistical', 'x')",
            ),
            ("update", "UPDATE phms.report_template SET body = 'x'"),
            ("delete", "DELETE FROM phms.report_template"),
        )
    ),
    *((user, "read site secrets", "SELECT * FROM phms.site_secret") for user in ALL_STAFF),
    *(
        (user, "registry key", "SELECT phms.registry_secret()")
        for user in ("t_clerk", "t_clinician", "t_auditor")
    ),
    ("t_admin", "change site secrets", "UPDATE phms.site_secret SET value = value"),
    ("t_admin", "truncate templates", "TRUNCATE phms.report_template"),
]


@pytest.mark.parametrize(
    ("user", "label", "sql"), REPORT_CASES, ids=[f"{u}-{lbl}" for u, lbl, _ in REPORT_CASES]
)
def test_report_rights(db: PgDatabase, user: str, label: str, sql: str) -> None:
    engine = db.engine_for(user)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(sql))
    engine.dispose()
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege), (label, info.value)


def test_auditor_sees_statistical_templates_and_aggregates_only(db: PgDatabase) -> None:
    """Auditors read statistical templates only: individual ones are invisible rows."""
    engine = db.engine_for("t_auditor")
    with engine.connect() as conn:
        kinds = set(conn.execute(sa.text("SELECT kind FROM phms.report_template")).scalars())
        aggregates = conn.execute(sa.text("SELECT phms.cohort_statistics(NULL, NULL)")).scalar()
    engine.dispose()
    assert kinds == {"statistical"}
    assert isinstance(aggregates, dict) and "by_group" in aggregates


def test_admin_reads_the_registry_key_and_it_is_audited(
    db: PgDatabase, admin_engine: sa.Engine
) -> None:
    engine = db.engine_for("t_admin")
    with engine.begin() as conn:
        key = conn.execute(sa.text("SELECT phms.registry_secret()")).scalar()
    engine.dispose()
    assert isinstance(key, bytes) and len(key) >= 32
    rows = _audit_rows(admin_engine, "site_secret", "registry_hmac")
    assert tuple(rows[-1]) == ("READ", "t_admin")


# Preferences and staff accounts (issue 5): with plain SQL, nobody but an admin changes a
# setting or an account, and nobody clears their own forced password change directly.
_VERIFIER = "'SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2VydmVy'"
ACCOUNT_CASES = [
    *(
        (user, label, sql)
        for user in ("t_clerk", "t_clinician", "t_auditor")
        for label, sql in (
            ("delete setting", "DELETE FROM phms.setting WHERE key = 'patient_id_format'"),
            (
                "change id format",
                "UPDATE phms.setting SET value = '\"NNNN\"' WHERE key = 'patient_id_format'",
            ),
            ("reset a password", f"SELECT phms.staff_set_password('t_admin', {_VERIFIER})"),
            ("enable a login", "SELECT phms.staff_set_enabled('t_clerk', true)"),
            ("regroup a login", "SELECT phms.staff_set_group('t_clerk', 'phms_clinician')"),
            ("list staff", "SELECT * FROM phms.staff"),
            ("read staff accounts", "SELECT * FROM phms.staff_account"),
            ("alter another role", f"ALTER ROLE t_admin PASSWORD {_VERIFIER}"),
        )
    ),
    (
        "t_clerk",
        "add setting",
        "INSERT INTO phms.setting (key, value, value_type) VALUES ('y', '1', 'integer')",
    ),
    (
        "t_admin",
        "clear own forced change",
        "UPDATE phms.staff_account SET must_change_password = false WHERE name = session_user",
    ),
    ("t_admin", "regroup self", "SELECT phms.staff_set_group('t_admin', 'phms_clerk')"),
]


@pytest.mark.parametrize(
    ("user", "label", "sql"), ACCOUNT_CASES, ids=[f"{u}-{lbl}" for u, lbl, _ in ACCOUNT_CASES]
)
def test_settings_and_accounts_are_for_admins(
    db: PgDatabase, user: str, label: str, sql: str
) -> None:
    engine = db.engine_for(user)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(sql))
    engine.dispose()
    assert isinstance(
        info.value.orig,
        psycopg.errors.InsufficientPrivilege | psycopg.errors.InvalidParameterValue,
    ), (label, info.value.orig)


def test_change_own_password_touches_only_ones_own_login(
    db: PgDatabase, admin_engine: sa.Engine
) -> None:
    """``phms.change_own_password`` is for everyone, and only ever for session_user."""
    with admin_engine.begin() as conn:
        staff.create(conn, "x_own_pw", "clerk", "given-password-12")
    engine = db.engine_for("x_own_pw", "given-password-12")
    with engine.begin() as conn:
        staff.change_own_password(conn, "x_own_pw", "chosen-password-12")
    engine.dispose()
    for user, password, works in (
        ("x_own_pw", "chosen-password-12", True),
        ("x_own_pw", "given-password-12", False),
        ("t_admin", STAFF_PASSWORD, True),  # untouched
    ):
        probe = db.engine_for(user, password)
        if works:
            with probe.connect():
                pass
        else:
            with pytest.raises(sa.exc.OperationalError, match="password authentication"):
                probe.connect()
        probe.dispose()
    assert [tuple(r) for r in _audit_rows(admin_engine, "staff", "x_own_pw")] == [
        ("CREATE", db.server.superuser),
        ("CHANGE_OWN_PASSWORD", "x_own_pw"),
    ]
