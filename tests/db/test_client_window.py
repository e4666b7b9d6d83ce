"""The compatibility window at login: which clients a database accepts, in one round trip.

A client release declares the oldest schema it works with; the database records the
oldest client version it accepts (``min_client_version``, migration 0016). Older and
newer releases are simulated with :class:`ClientRelease` values of their own: the code
that runs is this client's, its declarations are the other release's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from benchmarks.latency_proxy import LatencyProxy, ProxyThread
from phms_admin import migrate
from phms_client.db.database import Credentials, Database
from phms_client.db.errors import ClientTooOld, ErrorKind, NotStaff, SchemaMismatch, classify
from phms_client.db.gate import ClientRelease, Window, this_release
from phms_client.db.login import _open_step_by_step, login, open_session
from phms_client.services import about, appointments, chart, patients
from phms_client.version import OLDEST_SCHEMA, client_version
from phms_schema import SCHEMA_REVISION
from phms_schema.ddl_compat import DOWNLOAD_HINT_KEY, MIN_CLIENT_KEY
from tests.db.clinical_data import add_patient, insert
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase

PREVIOUS = f"{int(SCHEMA_REVISION) - 1:04d}"


def _down_revision(revision: str) -> str:
    """The migration before ``revision`` (ids are not consecutive: branches merge)."""
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    found = script.get_revision(revision)
    assert found is not None and isinstance(found.down_revision, str)
    return found.down_revision


BEFORE_OLDEST = _down_revision(OLDEST_SCHEMA)
HINT = r"\\fileserver\phms\setup.exe"


def _set(engine: sa.Engine, key: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = :k"),
            {"k": key, "v": json.dumps(value)},
        )


@contextmanager
def window(admin_engine: sa.Engine, minimum: str, hint: str = "") -> Iterator[None]:
    """The database accepts ``minimum`` or newer (set by the superuser, as IT), then
    puts the window back as the migrations left it."""
    _set(admin_engine, MIN_CLIENT_KEY, minimum)
    _set(admin_engine, DOWNLOAD_HINT_KEY, hint)
    try:
        yield
    finally:
        _set(admin_engine, MIN_CLIENT_KEY, "0.2.0")
        _set(admin_engine, DOWNLOAD_HINT_KEY, "")


def _work(database: Database, clinician_engine: sa.Engine) -> None:
    """A search, a chart opened and the day list: what a workstation does first."""
    with clinician_engine.begin() as conn:
        pid = add_patient(conn)
        code = conn.execute(
            sa.text("SELECT patient_code FROM phms.patient WHERE id = :p"), {"p": pid}
        ).scalar_one()
        insert(conn, "assessment", patient_id=pid, kind="assessment", study_date=dt.date.today())
    with database.session() as s:
        found = patients.search(s, code)
    assert [p.id for p in found] == [pid]
    with database.session() as s:
        loaded = chart.load_chart(s, pid)
    assert len(loaded.timeline) == 1
    with database.session() as s:
        day = appointments.day_list(s, dt.date.today(), dt.UTC)
    assert day.server_now is not None


# --------------------------------------------------------------------------- round trips


def test_login_is_one_round_trip_after_connecting(db: PgDatabase) -> None:
    with ProxyThread(LatencyProxy("127.0.0.1", db.server.port)) as proxy:
        config = config_for(db, port=proxy.port)
        psycopg.connect(**config.conninfo_kwargs("t_clerk", STAFF_PASSWORD)).close()
        connecting = proxy.counters.round_trips  # startup and SCRAM (no TLS here)
        proxy.counters.reset()
        database, info = login(config, "t_clerk", STAFF_PASSWORD)
        try:
            assert proxy.counters.round_trips == connecting + 1
            assert proxy.counters.connections == 1
            # A reconnect passes the same gate the same way.
            database.reset()
            proxy.counters.reset()
            assert open_session(database) == info
            assert proxy.counters.round_trips == connecting + 1
        finally:
            database.close()


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_admin", "t_auditor"])
def test_the_one_statement_says_what_the_steps_say(db: PgDatabase, user: str) -> None:
    database = Database(config_for(db), Credentials(user, STAFF_PASSWORD))
    try:
        quick = open_session(database)
        steps = _open_step_by_step(database, this_release())
    finally:
        database.close()
    assert quick == steps
    assert quick.settings.get(MIN_CLIENT_KEY) == "0.2.0"
    assert quick.settings.get(DOWNLOAD_HINT_KEY) == ""


def test_a_login_without_staff_rights_is_told_so(db: PgDatabase, admin_engine: sa.Engine) -> None:
    """The statement fails for want of rights; the steps then say what is wrong."""
    with admin_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE x_nobody LOGIN PASSWORD '{STAFF_PASSWORD}'"))
        conn.execute(sa.text(f'GRANT CONNECT ON DATABASE "{db.name}" TO x_nobody'))
    try:
        with pytest.raises(NotStaff, match="not a PHMS staff account"):
            login(config_for(db), "x_nobody", STAFF_PASSWORD)
    finally:
        with admin_engine.begin() as conn:
            conn.execute(sa.text(f'REVOKE CONNECT ON DATABASE "{db.name}" FROM x_nobody'))
            conn.execute(sa.text("DROP ROLE x_nobody"))


# --------------------------------------------------------------------------- releases


def test_previous_release_inside_the_window_works_on_the_new_schema(
    db: PgDatabase, clinician: sa.Engine
) -> None:
    """Built for the revision before, declaring it works from there: it logs in to head
    and searches, opens a chart and lists the day."""
    previous = ClientRelease(client_version(), schema=PREVIOUS, oldest_schema=PREVIOUS)
    database, info = login(config_for(db), "t_clinician", STAFF_PASSWORD, previous)
    try:
        assert info.schema_revision == SCHEMA_REVISION
        _work(database, clinician)
    finally:
        database.close()


def test_a_client_older_than_the_minimum_is_told_which_and_where(
    db: PgDatabase, admin_engine: sa.Engine
) -> None:
    old = ClientRelease("0.1.0", schema=PREVIOUS, oldest_schema=PREVIOUS)
    with pytest.raises(ClientTooOld) as exc:
        login(config_for(db), "t_clerk", STAFF_PASSWORD, old)
    assert (exc.value.client, exc.value.minimum) == ("0.1.0", "0.2.0")
    with window(admin_engine, "0.3.0", HINT), pytest.raises(ClientTooOld) as exc:
        login(config_for(db), "t_clerk", STAFF_PASSWORD)  # this very client
    assert (exc.value.minimum, exc.value.where) == ("0.3.0", HINT)
    error = classify(exc.value)
    assert error.kind is ErrorKind.CLIENT_TOO_OLD
    assert error.message.startswith(
        f"This workstation's PHMS {client_version()} is older than this clinic's database "
        f"accepts (0.3.0 or newer). Get it from {HINT}."
    )


def test_a_newer_client_works_on_an_older_schema_it_still_supports(db: PgDatabase) -> None:
    newer = ClientRelease("0.3.0", schema=f"{int(SCHEMA_REVISION) + 1:04d}", oldest_schema=PREVIOUS)
    database, info = login(config_for(db), "t_clerk", STAFF_PASSWORD, newer)
    database.close()
    assert info.schema_revision == SCHEMA_REVISION
    too_new = ClientRelease("0.3.0", schema="0099", oldest_schema="0099")
    with pytest.raises(SchemaMismatch) as exc:
        login(config_for(db), "t_clerk", STAFF_PASSWORD, too_new)
    assert exc.value.database_is_older is True
    assert "phms-admin db upgrade" in classify(exc.value).message


def test_a_newer_schema_is_accepted_while_it_accepts_the_client(
    db: PgDatabase, admin_engine: sa.Engine
) -> None:
    """Only additive migrations after the client's: the minimum stayed, it logs in."""
    with admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        database, info = login(config_for(db), "t_clerk", STAFF_PASSWORD)
        database.close()
        assert info.schema_revision == "9999"
        with window(admin_engine, "0.9.0"), pytest.raises(ClientTooOld):
            login(config_for(db), "t_clerk", STAFF_PASSWORD)
    finally:
        with admin_engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE alembic_version SET version_num = :r"), {"r": SCHEMA_REVISION}
            )


# --------------------------------------------------------------------------- old schema


def test_a_database_at_the_oldest_schema_accepts_this_client(
    db: PgDatabase, fresh_database: PgDatabase
) -> None:
    """Before OLDEST_SCHEMA: refused (upgrade). At it: login, search (0019's dictionary
    of name words), chart and day list work. (``db`` made the staff logins: roles
    belong to the whole server.)"""
    url = fresh_database.admin_url
    migrate.upgrade(url, BEFORE_OLDEST)
    with pytest.raises(SchemaMismatch) as exc:
        login(config_for(fresh_database), "t_clinician", STAFF_PASSWORD)
    assert (exc.value.database_is_older, exc.value.database_revision) == (True, BEFORE_OLDEST)
    assert "phms-admin db upgrade" in classify(exc.value).message

    migrate.upgrade(url, OLDEST_SCHEMA)
    clinician = fresh_database.engine_for("t_clinician")
    database, info = login(config_for(fresh_database), "t_clinician", STAFF_PASSWORD)
    try:
        assert (info.group, info.schema_revision) == ("clinician", OLDEST_SCHEMA)
        window = Window.from_settings(info.schema_revision, info.settings.values)
        assert window.revision == OLDEST_SCHEMA
        _work(database, clinician)
        with database.session() as s:
            facts = about.server_facts(s)
        assert (facts.schema_revision, facts.min_client_version) == (
            OLDEST_SCHEMA,
            window.min_client_version,
        )
    finally:
        database.close()
        clinician.dispose()

    # Marked newer than this client, the database still accepts it: it records (since
    # 0016) a minimum client version this client meets. (Without one, a newer database
    # promises nothing: tests/unit/phms_client/test_gate.py.)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    database, info = login(config_for(fresh_database), "t_clinician", STAFF_PASSWORD)
    database.close()
    assert info.schema_revision == "9999"


def test_an_empty_database_asks_for_the_upgrade(db: PgDatabase, fresh_database: PgDatabase) -> None:
    """The one statement finds no tables; the steps say the database has no schema yet.
    (``db`` made the staff logins: roles belong to the whole server.)"""
    with pytest.raises(SchemaMismatch) as exc:
        login(config_for(fresh_database), "t_clerk", STAFF_PASSWORD)
    assert (exc.value.database_revision, exc.value.database_is_older) == (None, True)
