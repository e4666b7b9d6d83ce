"""Every text, JSON and binary column is in the de-identification plan, and only those.

A migration that adds such a column fails here until somebody decides what a
de-identified staging copy does with it (phms_admin/deidentify_plan.py).
"""

from __future__ import annotations

import pytest

from phms_admin.connection import CommandError
from phms_admin.deidentify import check_plan, present_columns
from phms_admin.deidentify_plan import EMPTIED, PLAN, audit_keys
from phms_admin.pgtools import Target
from tests.harness import PgDatabase


def test_plan_names_every_text_json_and_binary_column(db: PgDatabase) -> None:
    with Target.from_url(db.admin_url).connect() as conn:
        found = present_columns(conn)
    planned = {(table, column) for table, cols in PLAN.items() for column in cols}
    assert sorted(found - planned) == [], "columns without a de-identification decision"
    assert sorted(planned - found) == [], "planned columns that do not exist"
    assert set(EMPTIED) <= set(PLAN)
    check_plan(found)


def test_a_copy_with_a_column_nobody_decided_on_is_refused() -> None:
    with pytest.raises(CommandError, match=r"phms\.patient\.nickname"):
        check_plan(frozenset({("phms.patient", "family_name"), ("phms.patient", "nickname")}))


def test_audit_values_lose_every_replaced_column_of_their_table() -> None:
    keys = audit_keys()
    assert {"family_name", "given_name", "patient_code", "phone", "email", "address"} <= set(
        keys["patient"]
    )
    assert "search_name" in keys["patient"]  # generated from the names
    assert keys["appointment"] == ["note"]
    assert set(keys["medication"]) == {"details", "error_reason", "stop_reason"}
    assert "setting" not in keys and "report_template" not in keys
