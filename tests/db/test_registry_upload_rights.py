"""Who may see and change the registry upload's state (migration 0013): admins only.

Each refusal is tried for real as a clerk, a clinician and an auditor login.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa

from phms_admin.cli import main
from phms_schema.ddl_registry_upload import TABLES
from tests.harness import PgDatabase

KEY = "ab" * 32
STATEMENTS = {
    "registry_upload_patient": {
        "read": "SELECT * FROM phms.registry_upload_patient",
        "insert": "INSERT INTO phms.registry_upload_patient VALUES"
        f" ('X', '{KEY}', '{KEY}', '{uuid.uuid4()}', now())",
        "update": "UPDATE phms.registry_upload_patient SET content_sha256 = content_sha256",
        "delete": "DELETE FROM phms.registry_upload_patient",
    },
    "registry_upload_batch": {
        "read": "SELECT * FROM phms.registry_upload_batch",
        "insert": "INSERT INTO phms.registry_upload_batch (batch_id, hospital_id, registry_url,"
        f" content_sha256, patients, removed, records) VALUES ('{uuid.uuid4()}', 'X',"
        f" 'https://r', '{KEY}', 0, 0, 0)",
        "update": "UPDATE phms.registry_upload_batch SET state = state",
        "delete": "DELETE FROM phms.registry_upload_batch",
    },
    "registry_upload_run": {
        "read": "SELECT * FROM phms.registry_upload_run",
        "insert": "INSERT INTO phms.registry_upload_run (started_at, ok, message)"
        " VALUES (now(), true, 'x')",
        "update": "UPDATE phms.registry_upload_run SET ok = ok",
        "delete": "DELETE FROM phms.registry_upload_run",
    },
}
assert set(STATEMENTS) == set(TABLES)
CASES = [
    (user, f"{verb} {table}", sql)
    for user in ("t_clerk", "t_clinician", "t_auditor")
    for table, verbs in STATEMENTS.items()
    for verb, sql in verbs.items()
]


@pytest.mark.parametrize(("user", "label", "sql"), CASES, ids=[f"{u}-{lbl}" for u, lbl, _ in CASES])
def test_only_admins_touch_the_upload_state(
    db: PgDatabase, user: str, label: str, sql: str
) -> None:
    engine = db.engine_for(user)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
        conn.execute(sa.text(sql))
    engine.dispose()
    assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege), label


def test_admin_reads_and_writes_the_upload_state(db: PgDatabase) -> None:
    engine = db.engine_for("t_admin")
    with engine.connect() as conn:
        for verbs in STATEMENTS.values():
            for sql in verbs.values():
                conn.execute(sa.text(sql))
        conn.rollback()
    engine.dispose()


def test_status_command_needs_an_admin(db: PgDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry-upload", "--status", "--url", db.url_for("t_clinician")]) == 1
    assert "Permission denied" in capsys.readouterr().err
    assert main(["registry-upload", "--status", "--url", db.url_for("t_admin")]) == 0
    assert "Last successful upload" in capsys.readouterr().out


def test_text_columns_are_bounded(db: PgDatabase) -> None:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                " WHERE c.table_schema = 'phms' AND c.table_name = ANY(:t)"
                " AND c.data_type = 'text'"
            ),
            {"t": list(TABLES)},
        ).all()
        checks = [
            str(d)
            for d in conn.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = ANY(CAST(:t AS regclass[])) AND contype = 'c'"
                ),
                {"t": [f"phms.{t}" for t in TABLES]},
            ).scalars()
        ]
    engine.dispose()
    assert len(columns) == 10
    for table, column in columns:
        assert any(f"char_length({column})" in c for c in checks), (table, column)
