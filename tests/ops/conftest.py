"""Fixtures of the operations tests.

``clinic`` is a migrated database of its own with patients and audit rows.
``primary_standby`` is a primary and a streaming-replication hot standby (see
:mod:`tests.ops.cluster`), for failover tests of the server and of the client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phms_admin import migrate
from tests.harness import PgDatabase
from tests.ops.cluster import PrimaryStandby, primary_and_standby
from tests.ops.helpers import fill_clinic


@pytest.fixture
def clinic(fresh_database: PgDatabase) -> PgDatabase:
    migrate.upgrade(fresh_database.admin_url)
    fill_clinic(fresh_database)
    return fresh_database


@pytest.fixture
def primary_standby() -> Iterator[PrimaryStandby]:
    """A primary on 127.0.0.1 and its hot standby on 127.0.0.2, both on one port.

    Yields a :class:`PrimaryStandby`: ``hosts``, ``port``, ``data_dirs``, a migrated
    ``phms`` database with the logins of ``tests.harness.STAFF``, ``client_config()``
    (what a workstation's config would say), ``stop_primary()`` and ``promote()``.
    Both servers are stopped and their folders removed afterwards.
    """
    with primary_and_standby() as pair:
        yield pair
