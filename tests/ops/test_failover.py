"""Failover at the connection level: the client's own conninfo finds the new primary."""

from __future__ import annotations

import psycopg
import pytest

from tests.ops.cluster import PrimaryStandby


def test_standby_is_read_only_and_receives_the_primarys_rows(
    primary_standby: PrimaryStandby,
) -> None:
    pair = primary_standby
    with psycopg.connect(pair.superuser_conninfo(0), autocommit=True) as primary:
        primary.execute("CREATE TABLE public.ha_probe (n int)")
        primary.execute("INSERT INTO public.ha_probe VALUES (1), (2)")
    pair.wait_replicated()
    with psycopg.connect(pair.superuser_conninfo(1), autocommit=True) as standby:
        row = standby.execute(
            "SELECT pg_is_in_recovery(), count(*) FROM public.ha_probe"
        ).fetchone()
        assert row == (True, 2)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            standby.execute("INSERT INTO public.ha_probe VALUES (3)")


def test_client_conninfo_follows_the_promoted_standby(primary_standby: PrimaryStandby) -> None:
    pair = primary_standby
    conninfo = pair.client_conninfo("t_clerk")
    assert conninfo["target_session_attrs"] == "read-write"
    assert conninfo["host"] == "127.0.0.1,127.0.0.2"

    # Before: the client's conninfo lands on the primary, and a clerk registers a patient.
    with psycopg.connect(**conninfo) as conn:  # type: ignore[arg-type]
        assert conn.info.host == "127.0.0.1"
        conn.execute(
            "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date) "
            "VALUES ('1000001-1', 'Before', 'Failover', 'female', '1970-01-01')"
        )
    pair.wait_replicated()

    pair.stop_primary()
    assert not pair.is_running(0)
    # Only the read-only standby is left: a read-write session is refused, not faked.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**conninfo)  # type: ignore[arg-type]

    pair.promote()
    # After: the same conninfo reaches the new primary, the row is there, writes work.
    with psycopg.connect(**conninfo) as conn:  # type: ignore[arg-type]
        assert conn.info.host == "127.0.0.2"
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        names = conn.execute(
            "SELECT family_name FROM phms.patient WHERE patient_code = '1000001-1'"
        ).fetchall()
        assert names == [("Before",)]
        conn.execute(
            "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date) "
            "VALUES ('1000002-2', 'After', 'Failover', 'male', '1971-01-01')"
        )
    with psycopg.connect(**conninfo) as conn:  # type: ignore[arg-type]
        row = conn.execute(
            "SELECT count(*) FROM phms.patient WHERE given_name = 'Failover'"
        ).fetchone()
        assert row == (2,)
        # The audit trail followed too: both inserts are recorded, by the clerk.
        who = conn.execute(
            "SELECT DISTINCT created_by FROM phms.patient WHERE given_name = 'Failover'"
        ).fetchall()
        assert who == [("t_clerk",)]
