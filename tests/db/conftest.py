"""Fixtures shared by the database tests (a module may define its own of the same name)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.harness import PgDatabase


@pytest.fixture(scope="module")
def clinician(db: PgDatabase) -> Iterator[sa.Engine]:
    """An engine logged in as t_clinician."""
    engine = db.engine_for("t_clinician")
    yield engine
    engine.dispose()


@pytest.fixture
def session(clinician: sa.Engine) -> Iterator[Session]:
    """An ORM session as t_clinician, rolled back afterwards."""
    with Session(clinician) as s:
        yield s
        s.rollback()
