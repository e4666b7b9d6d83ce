"""Opening a chart costs one round trip, whatever its size, and the access is logged
(two the first time on a pooled connection, which prepares the statement)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_client.db.database import Credentials, Database
from phms_client.services import chart, patients
from tests.db.clinical_data import add_patient, insert
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase


def _patient_with_records(db: PgDatabase, n: int) -> int:
    engine = db.engine_for("t_clinician")
    with engine.begin() as conn:
        pid = add_patient(conn)
        start = dt.date.today() - dt.timedelta(days=2 * n + 10)
        for i in range(n):
            kind = "assessment" if i == 0 else "followup"
            d = start + dt.timedelta(days=2 * i)
            insert(conn, "assessment", patient_id=pid, kind=kind, study_date=d, who_fc=2)
            insert(conn, "six_minute_walk", patient_id=pid, study_date=d, distance_m=400)
    engine.dispose()
    return pid


def _accesses(db: PgDatabase, pid: int) -> int:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        n = conn.execute(
            sa.text("SELECT count(*) FROM audit.chart_access WHERE patient_id = :p"), {"p": pid}
        ).scalar()
    engine.dispose()
    return int(n or 0)


def test_two_round_trips_for_small_and_big_charts(db: PgDatabase) -> None:
    small, big = _patient_with_records(db, 1), _patient_with_records(db, 60)
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        client = Database(
            config_for(db, port=proxy.port), Credentials("t_clinician", STAFF_PASSWORD)
        )
        try:
            with client.session() as s:  # logged in: a pooled connection
                s.execute(sa.text("SELECT 1"))
            for n, (pid, records) in enumerate(((small, 2), (big, 120))):
                proxy.counters.reset()
                with client.session() as s:
                    loaded = chart.load_chart(s, pid)
                assert len(loaded.timeline) == records
                # the statement alone: no BEGIN, no COMMIT, no liveness ping (the
                # connection was used moments ago); the
                # first time on a connection one more: the statement is prepared
                assert proxy.counters.round_trips == (2 if n == 0 else 1)
                with client.session() as s:  # the connection is transactional again
                    s.execute(sa.text("SELECT 1"))
                    raw = s.connection().connection.dbapi_connection
                    assert raw is not None and not getattr(raw, "autocommit", True)
        finally:
            client.close()
    assert _accesses(db, small) == 1 and _accesses(db, big) == 1


def test_inside_a_unit_of_work_it_joins_the_transaction(db: PgDatabase) -> None:
    pid = _patient_with_records(db, 1)
    client = Database(config_for(db), Credentials("t_clinician", STAFF_PASSWORD))
    try:
        with client._sessions() as s:
            s.execute(sa.text("SELECT 1"))
            chart.load_chart(s, pid)
            s.rollback()  # takes the access log back with it
    finally:
        client.close()
    assert _accesses(db, pid) == 0


def test_chart_with_details_is_one_statement_and_matches_get(db: PgDatabase) -> None:
    pid = _patient_with_records(db, 3)
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        client = Database(
            config_for(db, port=proxy.port), Credentials("t_clinician", STAFF_PASSWORD)
        )
        try:
            with client.session() as s:
                s.execute(sa.text("SELECT 1"))
            for expected in (2, 1):  # prepared on its first use on the connection
                proxy.counters.reset()
                with client.session() as s:
                    details, loaded = chart.load_chart_with_details(s, pid)
                assert proxy.counters.round_trips == expected
            with client.session() as s:
                assert details == patients.get(s, pid)
                assert loaded == chart.load_chart(s, pid)
        finally:
            client.close()
