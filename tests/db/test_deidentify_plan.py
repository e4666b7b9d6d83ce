"""Every text, JSON and binary column is in the de-identification plan, and only those.

A migration that adds such a column fails here until somebody decides what a
de-identified staging copy does with it (phms_admin/deidentify_plan.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from phms_admin.deidentify_plan import EMPTIED, PLAN, audit_keys
from tests.harness import PgDatabase

_TYPES = ["text", "character varying", "character", "jsonb", "json", "bytea", "ARRAY"]


def test_plan_names_every_text_json_and_binary_column(db: PgDatabase) -> None:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        found = {
            (f"{r.table_schema}.{r.table_name}", r.column_name)
            for r in conn.execute(
                sa.text(
                    """SELECT c.table_schema, c.table_name, c.column_name
                         FROM information_schema.columns c
                         JOIN information_schema.tables t USING (table_schema, table_name)
                        WHERE t.table_type = 'BASE TABLE'
                          AND c.table_schema IN ('phms', 'audit', 'public')
                          AND c.data_type = ANY(:types)"""
                ),
                {"types": _TYPES},
            )
        }
    engine.dispose()
    planned = {(table, column) for table, cols in PLAN.items() for column in cols}
    assert sorted(found - planned) == [], "columns without a de-identification decision"
    assert sorted(planned - found) == [], "planned columns that do not exist"
    assert set(EMPTIED) <= set(PLAN)


def test_audit_values_lose_every_replaced_column_of_their_table() -> None:
    keys = audit_keys()
    assert {"family_name", "given_name", "patient_code", "phone", "email", "address"} <= set(
        keys["patient"]
    )
    assert "search_name" in keys["patient"]  # generated from the names
    assert keys["appointment"] == ["note"]
    assert set(keys["medication"]) == {"details", "error_reason", "stop_reason"}
    assert "setting" not in keys and "report_template" not in keys
