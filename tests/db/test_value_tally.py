"""phms.value_tally on a real server: the triggers keep it equal to a recount of the
records through every kind of change, compaction and rebuild keep the sums, writers
never wait on each other, nobody writes it directly, and the Error Check computed
from it equals the one computed from the records."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa

from phms_admin import embedded, migrate
from phms_client.services import error_check
from phms_schema import ddl_tally
from phms_schema.value_tally import TALLIED
from tests.db.clinical_data import insert, update
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase

START = dt.date.today() - dt.timedelta(days=700)

Tally = Counter[tuple[str, str, Decimal]]


@pytest.fixture
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    with migrated_database(pg_server) as database:
        yield database


def net_tally(conn: sa.Connection) -> Tally:
    rows = conn.execute(sa.text(error_check.TALLY))
    return Counter({(t, f, Decimal(v)): int(n) for t, f, v, n in rows if n})


def recount(conn: sa.Connection) -> Tally:
    rows = conn.execute(sa.text(ddl_tally.recount()))
    return Counter({(t, f, Decimal(v)): int(n) for t, f, v, n in rows})


def tally_rows(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT count(*) FROM phms.value_tally")).scalar_one())


def add_records(conn: sa.Connection, rng: random.Random, patients: int) -> dict[str, list[int]]:
    """Assessments, walks and challenges with steps for ``patients`` patients."""
    ids: dict[str, list[int]] = {"assessment": [], "six_minute_walk": [], "challenge": []}
    ids["step"] = []
    for i in range(patients):
        pid = add_person(conn, family_name=f"Tally{i}", sex="female")["id"]
        day = START + dt.timedelta(days=i)
        ids["assessment"].append(
            insert(
                conn,
                "assessment",
                patient_id=pid,
                kind="assessment",
                study_date=day,
                height_cm=Decimal(rng.randint(150, 180)),
                weight_kg=Decimal(rng.randint(500, 900)) / 10,
                mpap_mmhg=Decimal(rng.randint(25, 60)),
                pawp_mmhg=Decimal(rng.randint(6, 14)),
                co_l_min=Decimal(rng.randint(30, 60)) / 10,
            )["id"]
        )
        ids["six_minute_walk"].append(
            insert(
                conn,
                "six_minute_walk",
                patient_id=pid,
                study_date=day,
                distance_m=Decimal(rng.randint(200, 500)),
                borg_after=Decimal(rng.randint(1, 6)),
            )["id"]
        )
        challenge = insert(conn, "vasodilator_challenge", patient_id=pid, study_date=day)["id"]
        ids["challenge"].append(challenge)
        for step_no in (0, 1):
            agent = (None, None, None) if step_no == 0 else ("IV adenosine", 50, "µg/kg/min")
            ids["step"].append(
                insert(
                    conn,
                    "vasodilator_step",
                    challenge_id=challenge,
                    step_no=step_no,
                    agent=agent[0],
                    dose=agent[1],
                    dose_unit=agent[2],
                    mpap_mmhg=Decimal(rng.randint(30, 50)),
                    co_l_min=Decimal(rng.randint(30, 60)) / 10,
                )["id"]
            )
    return ids


def add_records_to_fold(conn: sa.Connection, *, seed: int, patients: int) -> None:
    """Records whose mPAP is then changed to one value: deltas for compaction to fold."""
    for row_id in add_records(conn, random.Random(seed), patients)["assessment"]:
        update(conn, "assessment", row_id, mpap_mmhg=Decimal(35))


def delete_in_error(conn: sa.Connection, table: str, row_id: int) -> None:
    update(conn, table, row_id, entered_in_error=True, error_reason="wrong patient")


def test_every_kind_of_change_keeps_the_tally_equal_to_a_recount(own_db: PgDatabase) -> None:
    rng = random.Random(11)
    engine = own_db.engine_for("t_clinician")
    with engine.begin() as conn:
        ids = add_records(conn, rng, 12)
        assert net_tally(conn) == recount(conn)
        # New values, a value cleared, a value set where there was none.
        for row_id in ids["assessment"][:6]:
            update(conn, "assessment", row_id, weight_kg=Decimal("70.5"), height_cm=None)
        update(conn, "assessment", ids["assessment"][6], tapse_mm=Decimal(18))
        update(conn, "six_minute_walk", ids["six_minute_walk"][0], distance_m=Decimal(410))
        update(conn, "vasodilator_step", ids["step"][0], mpap_mmhg=Decimal(44))
        # A change to no tallied field writes no tally row.
        before = tally_rows(conn)
        update(conn, "six_minute_walk", ids["six_minute_walk"][1], study_date=START)
        assert tally_rows(conn) == before
        # Entered in error: a record, a walk, one step, and a whole challenge.
        delete_in_error(conn, "six_minute_walk", ids["six_minute_walk"][2])
        delete_in_error(conn, "vasodilator_step", ids["step"][3])
        delete_in_error(conn, "vasodilator_challenge", ids["challenge"][1])
        delete_in_error(conn, "vasodilator_challenge", ids["challenge"][4])
        delete_in_error(conn, "vasodilator_challenge", ids["challenge"][11])
        delete_in_error(conn, "assessment", ids["assessment"][11])
        # A step of a challenge already entered in error stays uncounted.
        delete_in_error(conn, "vasodilator_step", ids["step"][8])
        tally = net_tally(conn)
        assert tally == recount(conn)
        assert tally[("assessment", "weight_kg", Decimal("70.5"))] >= 6
    # Deleting rows (only the owner may) takes their values away too.
    owner = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    with owner.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM phms.vasodilator_step WHERE id = :i"), {"i": ids["step"][5]}
        )
        assert net_tally(conn) == recount(conn)
    owner.dispose()
    engine.dispose()


def test_compaction_folds_rows_and_keeps_the_sums(own_db: PgDatabase) -> None:
    engine = own_db.engine_for("t_clinician")
    with engine.begin() as conn:
        add_records_to_fold(conn, seed=3, patients=8)
        net, rows = net_tally(conn), tally_rows(conn)
        removed = conn.execute(sa.text("SELECT phms.value_tally_compact()")).scalar_one()
        assert removed > 0 and tally_rows(conn) == rows - removed
        assert net_tally(conn) == net == recount(conn)
        # One row per (table, field, value) now, none of them zero.
        keys = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT (source_table, field, value)),"
                " count(*) FILTER (WHERE n <= 0) FROM phms.value_tally"
            )
        ).one()
        assert keys[0] == keys[1] and keys[2] == 0
        assert conn.execute(sa.text("SELECT phms.value_tally_compact()")).scalar_one() == 0
    engine.dispose()


def test_rebuild_counts_the_records_again(own_db: PgDatabase) -> None:
    clinician = own_db.engine_for("t_clinician")
    with clinician.begin() as conn:
        add_records(conn, random.Random(5), 6)
    owner = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    with owner.begin() as conn:
        expected = recount(conn)
        conn.execute(sa.text("TRUNCATE phms.value_tally"))
        assert net_tally(conn) == Counter()
        rows = conn.execute(sa.text("SELECT phms.value_tally_rebuild()")).scalar_one()
        assert rows == len(expected) and net_tally(conn) == expected
    owner.dispose()
    clinician.dispose()


def test_the_migration_counts_existing_records(
    db: PgDatabase, pg_server: embedded.ServerInfo
) -> None:
    with migrated_database(pg_server) as database:
        migrate.downgrade(database.admin_url, "0006")
        clinician = database.engine_for("t_clinician")
        with clinician.begin() as conn:
            add_records(conn, random.Random(9), 5)
        migrate.upgrade(database.admin_url)
        with clinician.begin() as conn:
            tally = net_tally(conn)
            assert tally == recount(conn) and sum(tally.values()) > 0
        clinician.dispose()


def test_a_step_waits_for_its_challenge_being_deleted(own_db: PgDatabase) -> None:
    """One session deletes a challenge as entered in error; another meanwhile adds a
    step to it and changes an existing one. They wait for the first, are refused once
    it commits, and the tally still equals a recount."""
    engine = own_db.engine_for("t_clinician")
    with engine.begin() as conn:
        ids = add_records(conn, random.Random(21), 2)
    challenge, step = ids["challenge"][0], ids["step"][1]
    deleting = engine.connect()
    delete_in_error(deleting, "vasodilator_challenge", challenge)
    outcomes: dict[str, BaseException | None] = {}

    def write(name: str, statement: str) -> None:
        with engine.connect() as conn:
            try:
                conn.execute(sa.text(statement), {"c": challenge, "s": step})
                conn.commit()
                outcomes[name] = None
            except sa.exc.DBAPIError as exc:
                outcomes[name] = exc

    writers = [
        threading.Thread(
            target=write,
            args=(
                "insert",
                "INSERT INTO phms.vasodilator_step (challenge_id, step_no, agent, dose,"
                " dose_unit, mpap_mmhg) VALUES (:c, 2, 'IV adenosine', 100, 'µg/kg/min', 77)",
            ),
        ),
        threading.Thread(
            target=write,
            args=("update", "UPDATE phms.vasodilator_step SET mpap_mmhg = 78 WHERE id = :s"),
        ),
    ]
    for thread in writers:
        thread.start()
    time.sleep(1.0)
    assert outcomes == {}  # both wait for the deleting session
    deleting.commit()
    deleting.close()
    for thread in writers:
        thread.join(timeout=30)
    assert set(outcomes) == {"insert", "update"}
    for exc in outcomes.values():
        assert isinstance(exc, sa.exc.IntegrityError)
        assert exc.orig.diag.constraint_name == "ck_vasodilator_step_challenge_live"  # type: ignore[union-attr]
    with engine.begin() as conn:
        assert net_tally(conn) == recount(conn)
    engine.dispose()


def test_a_second_compaction_does_not_wait_for_the_first(own_db: PgDatabase) -> None:
    engine = own_db.engine_for("t_clinician")
    with engine.begin() as conn:
        add_records_to_fold(conn, seed=2, patients=4)
    first, second = engine.connect(), engine.connect()
    try:
        second.execute(sa.text("SET lock_timeout = '1s'"))
        compact = sa.text("SELECT phms.value_tally_compact()")
        assert first.execute(compact).scalar_one() > 0  # holds its locks: not committed
        assert second.execute(compact).scalar_one() == 0  # returns at once
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    with engine.begin() as conn:
        assert net_tally(conn) == recount(conn)
    engine.dispose()


def test_writers_do_not_wait_on_each_other_or_on_compaction(own_db: PgDatabase) -> None:
    """Two open transactions write the same values, a third compacts meanwhile: none
    waits (lock_timeout would fail it), and after both commit the sums are right."""
    engine = own_db.engine_for("t_clinician")
    with engine.begin() as conn:
        ids = add_records(conn, random.Random(1), 4)
    first, second, third = engine.connect(), engine.connect(), engine.connect()
    try:
        for conn in (first, second, third):
            conn.execute(sa.text("SET lock_timeout = '1s'"))
        update(first, "assessment", ids["assessment"][0], mpap_mmhg=Decimal(41))
        update(second, "assessment", ids["assessment"][1], mpap_mmhg=Decimal(41))
        third.execute(sa.text("SELECT phms.value_tally_compact()"))
        third.commit()
        first.commit()
        second.commit()
    finally:
        for conn in (first, second, third):
            conn.close()
    with engine.begin() as conn:
        assert net_tally(conn) == recount(conn)
        conn.execute(sa.text("SELECT phms.value_tally_compact()"))
        assert net_tally(conn) == recount(conn)
    engine.dispose()


def test_the_check_from_the_tally_equals_the_check_from_the_records(
    own_db: PgDatabase,
) -> None:
    engine = own_db.engine_for("t_clinician")
    with engine.begin() as conn:
        ids = add_records(conn, random.Random(17), 30)
        update(conn, "assessment", ids["assessment"][0], height_cm=Decimal(71))
        update(conn, "six_minute_walk", ids["six_minute_walk"][0], distance_m=Decimal("4.2"))
        update(conn, "vasodilator_step", ids["step"][0], mpap_mmhg=Decimal("4.5"))
    from_records = error_check.statement(ddl_tally.recount())
    with engine.connect() as conn:
        for n_sd in (3, 5, 50):
            tallied = conn.execute(error_check.statement(), {"n_sd": n_sd}).all()
            counted = conn.execute(from_records, {"n_sd": n_sd}).all()
            assert sorted(tallied, key=repr) == sorted(counted, key=repr)
        hits = conn.execute(error_check.statement(), {"n_sd": 5}).all()
        # The trimmed mean and SD, against Python's statistics on the raw values.
        for hit in (h for h in hits if h.field):
            values = sorted(
                conn.execute(
                    sa.text(
                        f"SELECT t.{hit.field} FROM phms.{hit.source_table} t"
                        f" WHERE t.{hit.field} IS NOT NULL AND {ddl_tally.live(hit.source_table)}"
                    )
                ).scalars()
            )
            cut = len(values) // 8
            middle = values[cut : len(values) - cut]
            assert hit.n == len(values)
            assert hit.mean == pytest.approx(statistics.mean(middle), rel=Decimal("1e-12"))
            assert hit.sd == pytest.approx(statistics.stdev(middle), rel=Decimal("1e-12"))
        assert {(r.source_table, r.field) for r in hits if r.field} == {
            ("assessment", "height_cm"),
            ("six_minute_walk", "distance_m"),
            ("vasodilator_step", "mpap_mmhg"),
        }
    engine.dispose()


def test_the_labelled_fields_are_the_tallied_ones() -> None:
    assert {t: tuple(f) for t, f in error_check.FIELDS.items()} == dict(TALLIED)


@pytest.mark.parametrize(
    ("user", "statement"),
    [
        *(
            (user, sql)
            for user in ("t_clinician", "t_admin")
            for sql in (
                "INSERT INTO phms.value_tally (source_table, field, value, n)"
                " VALUES ('assessment', 'height_cm', 170, 1)",
                "UPDATE phms.value_tally SET n = n + 1",
                "DELETE FROM phms.value_tally",
                "TRUNCATE phms.value_tally",
                "SELECT phms.value_tally_rebuild()",
                "SELECT phms.tally_challenge_deleted()",
            )
        ),
        *(
            (user, sql)
            for user in ("t_clerk", "t_auditor")
            for sql in (
                "SELECT count(*) FROM phms.value_tally",
                "SELECT phms.value_tally_compact()",
            )
        ),
    ],
)
def test_nobody_writes_the_tally_and_only_clinical_staff_read_it(
    own_db: PgDatabase, user: str, statement: str
) -> None:
    engine = own_db.engine_for(user)
    with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
        conn.execute(sa.text(statement))
    engine.dispose()
    assert "permission denied" in str(info.value.orig)
