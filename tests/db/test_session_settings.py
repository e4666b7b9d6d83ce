"""What every client session starts with, and what a long unit of work changes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.database import LONG_RUNNING_PARALLEL_WORKERS
from tests.db.test_timeouts import client
from tests.harness import PgDatabase

_CHEAP_PARALLEL = (
    "SELECT set_config('parallel_setup_cost', '0', true),"
    " set_config('parallel_tuple_cost', '0', true),"
    " set_config('min_parallel_table_scan_size', '0', true)"
)


def _plan(s: Session) -> str:
    """The plan of a count over the patients, parallel query made as cheap as can be."""
    s.execute(sa.text(_CHEAP_PARALLEL))
    rows = s.execute(sa.text("EXPLAIN SELECT count(*) FROM phms.patient")).scalars()
    return "\n".join(rows)


def test_ordinary_work_runs_no_parallel_query_long_running_work_may(db: PgDatabase) -> None:
    database = client(db)
    try:
        with database.session() as s:
            assert s.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
            assert "Gather" not in _plan(s)
        with database.session(long_running=True) as s:
            shown = s.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar()
            assert shown == str(LONG_RUNNING_PARALLEL_WORKERS)
            assert "Gather" in _plan(s)
        with database.session() as s:  # ended with its unit of work
            assert s.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
    finally:
        database.close()
