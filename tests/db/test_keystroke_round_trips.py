"""A search keystroke is one round trip; a pooled connection is pinged only after a pause.

The pool pings a connection that was idle longer than ``PING_AFTER_IDLE`` before it is
used again (``db/database.py``); one used moments ago is trusted. These tests count the
round trips through the shaping proxy and break connections on the server for real.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.db import database as database_module
from phms_client.db.database import Credentials, Database
from phms_client.db.errors import ErrorKind, classify
from phms_client.services import chart, patients
from phms_client.services.chart_types import AssessmentInput
from tests.db.clinical_data import add_patient
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase

#: Short enough for a test to wait it out.
IDLE = 0.4


@pytest.fixture
def short_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE", IDLE)


@pytest.fixture
def proxied(db: PgDatabase, short_idle: None) -> Iterator[tuple[Database, LatencyProxy]]:
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        client = Database(
            config_for(db, port=proxy.port), Credentials("t_clinician", STAFF_PASSWORD)
        )
        try:
            yield client, proxy
        finally:
            client.close()


def _backend_pid(client: Database) -> int:
    with client.session() as s:
        return int(s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _end_backend(db: PgDatabase, pid: int) -> None:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}).scalar()
    engine.dispose()


def test_a_keystroke_while_typing_is_one_round_trip(
    db: PgDatabase, proxied: tuple[Database, LatencyProxy]
) -> None:
    client, proxy = proxied
    with db.engine_for("t_clinician").begin() as conn:
        add_patient(conn, birth_date=dt.date(1931, 2, 3))
    _backend_pid(client)  # logged in: a pooled connection
    # Name prefixes, a misspelling, a birth date, an ID prefix.
    for text in ("T", "Te", "Tes", "Test Cl", "Tset", "1931-02-03", "12"):
        proxy.counters.reset()
        with client.session() as s:
            patients.search(s, text)
        # The statement alone: no liveness ping, no BEGIN, no COMMIT.
        assert proxy.counters.round_trips == 1, text
    with client.session() as s:
        assert [p.birth_date for p in patients.search(s, "1931-02-03")] == [dt.date(1931, 2, 3)]
        raw = s.connection().connection.dbapi_connection
        assert raw is not None and not getattr(raw, "autocommit", True)  # transactional again


def test_after_a_pause_the_connection_is_pinged_first(
    proxied: tuple[Database, LatencyProxy],
) -> None:
    client, proxy = proxied
    _backend_pid(client)
    time.sleep(IDLE + 0.2)
    proxy.counters.reset()
    with client.session() as s:
        patients.search(s, "Smi")
    assert proxy.counters.round_trips == 2  # the ping, then the statement
    proxy.counters.reset()
    with client.session() as s:
        patients.search(s, "Smit")
    assert proxy.counters.round_trips == 1  # and not again while in use


def test_the_connection_used_last_is_used_next(proxied: tuple[Database, LatencyProxy]) -> None:
    client, _proxy = proxied
    with client.session() as a, client.session() as b:  # two pooled connections
        first = a.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        second = b.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    assert first != second
    # b went back last, so it comes first, every time (the other idles).
    assert {_backend_pid(client) for _ in range(5)} == {first}


def test_a_connection_ended_during_a_pause_is_replaced_unseen(
    db: PgDatabase, proxied: tuple[Database, LatencyProxy]
) -> None:
    client, proxy = proxied
    old = _backend_pid(client)
    _end_backend(db, old)  # a failover, a server restart, an idle cut-off
    time.sleep(IDLE + 0.2)
    proxy.counters.reset()
    with client.session() as s:
        assert patients.search(s, "Smi") is not None
        new = s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    assert new != old
    assert proxy.counters.connections == 1  # the failed ping's replacement


def test_a_connection_ended_moments_ago_fails_as_lost_then_the_next_works(
    db: PgDatabase, proxied: tuple[Database, LatencyProxy]
) -> None:
    client, _proxy = proxied
    old = _backend_pid(client)
    _end_backend(db, old)
    with pytest.raises(Exception) as info, client.session() as s:
        patients.search(s, "Smi")
    assert classify(info.value).kind is ErrorKind.CONNECTION_LOST
    # The pool threw that connection away: the next unit of work gets a new one.
    assert _backend_pid(client) != old


def test_saving_a_followup_is_one_round_trip(
    db: PgDatabase, proxied: tuple[Database, LatencyProxy]
) -> None:
    client, proxy = proxied
    with db.engine_for("t_clinician").begin() as conn:
        pid = add_patient(conn)
    today = dt.date.today()
    earlier = today - dt.timedelta(days=90)
    with client.session() as s:
        first = chart.create_assessment(s, AssessmentInput(pid, earlier, "assessment", who_fc=3))
    proxy.counters.reset()
    with client.session() as s:
        followup = chart.create_assessment(s, AssessmentInput(pid, today, "followup", who_fc=2))
    assert proxy.counters.round_trips == 1
    proxy.counters.reset()
    with client.session() as s:
        changed = chart.update_assessment(
            s,
            followup.id,
            followup.stamp.version,
            AssessmentInput(pid, today, "followup", who_fc=1),
        )
    assert proxy.counters.round_trips == 1
    assert (changed.data.who_fc, changed.stamp.version) == (1, followup.stamp.version + 1)
    # Sent alone, it is still all or nothing: a stale version changes nothing.
    with client.session() as s, pytest.raises(chart.StaleEntry):
        chart.update_assessment(
            s,
            first.id,
            first.stamp.version + 5,
            AssessmentInput(pid, earlier, "assessment", who_fc=1),
        )
    with client.session() as s:
        assert chart.get_assessment(s, first.id).data.who_fc == 3


def test_id_and_birth_date_searches_are_never_prepared(
    proxied: tuple[Database, LatencyProxy],
) -> None:
    """psycopg prepares a statement on its sixth use, in a round trip of its own; the
    short ID and birth-date statements are planned in a fraction of a millisecond
    and never prepared, so no keystroke of theirs waits for that round trip."""
    client, proxy = proxied
    _backend_pid(client)
    for text in [f"{n}{n}" for n in range(1, 9)] + [f"1950-01-0{n}" for n in range(1, 9)]:
        proxy.counters.reset()
        with client.session() as s:
            patients.search(s, text)
        assert proxy.counters.round_trips == 1, text
    trips = []
    for text in ("Sa", "Sm", "Ta", "Te", "Ti", "To", "Tu", "Ty"):  # the name statement
        proxy.counters.reset()
        with client.session() as s:
            patients.search(s, text)
        trips.append(proxy.counters.round_trips)
    assert trips == [1, 1, 1, 1, 1, 2, 1, 1]  # prepared on its sixth use, once
