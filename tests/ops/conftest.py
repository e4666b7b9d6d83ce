"""Fixtures of the operations tests.

``clinic`` is a migrated database of its own with patients and audit rows.
"""

from __future__ import annotations

import pytest

from phms_admin import migrate
from tests.harness import PgDatabase
from tests.ops.helpers import fill_clinic


@pytest.fixture
def clinic(fresh_database: PgDatabase) -> PgDatabase:
    migrate.upgrade(fresh_database.admin_url)
    fill_clinic(fresh_database)
    return fresh_database
