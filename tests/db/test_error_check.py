"""Tools > Error Check on a real server: planted unit and typing errors are found,
clean data gives nothing, the threshold comes from the settings, Cancel stops a
running statement."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.services.error_check import (
    STEPS,
    Cancelled,
    CancelToken,
    ErrorCheckResult,
    run_error_check,
)
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase

START = dt.date.today() - dt.timedelta(days=900)
PATIENTS = 40


@pytest.fixture(scope="module")
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    """A cohort of plausible values, and nothing else."""
    with migrated_database(pg_server) as database:
        rng = random.Random(7)
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            for i in range(PATIENTS):
                pid = add_person(conn, family_name=f"Clean{i}", sex="male")["id"]
                day = START + dt.timedelta(days=i)
                assessment = insert(
                    conn,
                    "assessment",
                    patient_id=pid,
                    kind="assessment",
                    study_date=day,
                    height_cm=Decimal(rng.randint(160, 190)),
                    weight_kg=Decimal(rng.randint(600, 950)) / 10,
                    creatinine_umol_l=Decimal(rng.randint(60, 110)),
                    mpap_mmhg=Decimal(rng.randint(30, 60)),
                )
                insert(
                    conn,
                    "six_minute_walk",
                    patient_id=pid,
                    study_date=day,
                    distance_m=Decimal(rng.randint(250, 550)),
                )
                if i < 14:
                    challenge = insert(
                        conn, "vasodilator_challenge", patient_id=pid, study_date=day
                    )["id"]
                    for step_no, mpap in ((0, rng.randint(40, 50)), (1, rng.randint(34, 44))):
                        agent = (
                            (None, None, None)
                            if step_no == 0
                            else ("IV adenosine", 50, "µg/kg/min")
                        )
                        insert(
                            conn,
                            "vasodilator_step",
                            challenge_id=challenge,
                            step_no=step_no,
                            agent=agent[0],
                            dose=agent[1],
                            dose_unit=agent[2],
                            mpap_mmhg=Decimal(mpap),
                        )
                assert assessment["id"]
        engine.dispose()
        yield database


@pytest.fixture
def clinician(own_db: PgDatabase) -> Iterator[Session]:
    """A session whose changes are rolled back: planted errors do not stay."""
    engine = own_db.engine_for("t_clinician")
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            yield session
        outer.rollback()
    engine.dispose()


def plant(session: Session, table: str, **values: object) -> int:
    conn = session.connection()
    pid = add_person(conn, family_name="Planted", given_name="Error", sex="male")["id"]
    values = {"patient_id": pid, "study_date": START + dt.timedelta(days=100), **values}
    if table == "assessment":
        values.setdefault("kind", "assessment")
    return int(insert(conn, table, **values)["id"])


def values_of(session: Session, table: str, field: str) -> list[Decimal]:
    return list(
        session.execute(
            sa.text(f"SELECT {field} FROM phms.{table} WHERE {field} IS NOT NULL")
        ).scalars()
    )


def reference(values: list[Decimal], value: Decimal) -> Decimal:
    """How many SDs ``value`` is from the middle 75% of ``values`` (the rule, in Python)."""
    ordered = sorted(values)
    k = len(ordered) // 8
    middle = ordered[k : len(ordered) - k]
    return abs(value - statistics.mean(middle)) / statistics.stdev(middle)


def by_field(result: ErrorCheckResult) -> dict[str, list[Decimal]]:
    out: dict[str, list[Decimal]] = {}
    for hit in result.hits:
        out.setdefault(hit.field, []).append(hit.value)
    return out


def test_clean_data_gives_nothing(clinician: Session) -> None:
    result = run_error_check(clinician)
    assert result.threshold_sd == 50
    assert result.hits == ()
    # Every measured field with more than 10 values was looked at.
    # Height, weight, creatinine, mPAP; walk distance; challenge step mPAP.
    assert result.fields_checked == 6
    assert run_error_check(clinician, 5).hits == ()  # even a sensitive threshold


def test_planted_unit_and_typing_errors_are_found(clinician: Session) -> None:
    inches = plant(clinician, "assessment", height_cm=Decimal(71))  # 5 ft 11 in, typed in inches
    decimal = plant(clinician, "assessment", weight_kg=Decimal("7.5"))  # 75 kg, point misplaced
    walk = plant(clinician, "six_minute_walk", distance_m=Decimal("4.2"))  # 420 m, digits lost
    result = run_error_check(clinician, 5)
    found = {(h.record_table, h.record_id, h.field): h for h in result.hits}
    assert set(found) == {
        ("assessment", inches, "height_cm"),
        ("assessment", decimal, "weight_kg"),
        ("six_minute_walk", walk, "distance_m"),
    }
    hit = found[("assessment", inches, "height_cm")]
    assert hit.patient_name == "Planted, Error" and hit.label == "Height (cm)"
    assert hit.n_values == PATIENTS + 1
    expected = reference(values_of(clinician, "assessment", "height_cm"), Decimal(71))
    assert hit.n_sd == pytest.approx(expected, rel=Decimal("1e-9"))
    assert [h.n_sd for h in result.hits] == sorted((h.n_sd for h in result.hits), reverse=True)


def test_default_threshold_catches_gross_errors(clinician: Session) -> None:
    """50 SD of the middle 75%: a creatinine typed ten times too large (850 for 85)."""
    gross = plant(clinician, "assessment", creatinine_umol_l=Decimal(850))
    small = plant(clinician, "assessment", weight_kg=Decimal("7.5"))
    result = run_error_check(clinician)
    assert [(h.record_id, h.field) for h in result.hits] == [(gross, "creatinine_umol_l")]
    assert result.hits[0].n_sd > 50
    assert small not in {h.record_id for h in result.hits}


def test_threshold_comes_from_the_setting(own_db: PgDatabase, clinician: Session) -> None:
    planted = plant(clinician, "assessment", weight_kg=Decimal("7.5"))
    admin = own_db.engine_for("t_admin")
    update = sa.text(
        "UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = 'error_check_sd'"
    )
    with admin.begin() as conn:
        conn.execute(update, {"v": "6"})
    try:
        result = run_error_check(clinician)
    finally:
        with admin.begin() as conn:
            conn.execute(update, {"v": "50"})
        admin.dispose()
    assert result.threshold_sd == 6
    assert [(h.record_id, h.field) for h in result.hits] == [(planted, "weight_kg")]


def test_a_challenge_step_links_to_its_challenge(clinician: Session) -> None:
    conn = clinician.connection()
    pid = add_person(conn, family_name="Step", given_name="Outlier", sex="male")["id"]
    day = START + dt.timedelta(days=3)
    insert(conn, "assessment", patient_id=pid, kind="assessment", study_date=day)
    challenge = insert(conn, "vasodilator_challenge", patient_id=pid, study_date=day)["id"]
    insert(conn, "vasodilator_step", challenge_id=challenge, step_no=0, mpap_mmhg=Decimal("4.5"))
    hits = run_error_check(clinician, 5).hits
    assert [(h.record_table, h.record_id, h.table, h.field) for h in hits] == [
        ("vasodilator_challenge", challenge, "vasodilator_step", "mpap_mmhg")
    ]
    assert hits[0].patient_id == pid and hits[0].study_date == day


def test_fields_with_ten_values_or_fewer_are_not_judged(clinician: Session) -> None:
    for value in ("10", "11", "10", "12", "11", "10", "11", "12", "10"):
        plant(clinician, "assessment", tapse_mm=Decimal(value))
    far = plant(clinician, "assessment", tapse_mm=Decimal(59))  # 10 values: too few to judge
    assert all(h.field != "tapse_mm" for h in run_error_check(clinician, 5).hits)
    plant(clinician, "assessment", tapse_mm=Decimal(11))  # the 11th value
    hits = [h for h in run_error_check(clinician, 5).hits if h.field == "tapse_mm"]
    assert [(h.record_id, h.value) for h in hits] == [(far, Decimal(59))]


def test_cancel_stops_a_running_statement(own_db: PgDatabase, clinician: Session) -> None:
    """The walk table is locked by another session, so the check waits on it; Cancel
    must stop that statement on the server, not wait for the lock."""
    locker = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    token = CancelToken()
    steps: list[str] = []

    def progress(done: int, total: int, step: str) -> None:
        steps.append(step)
        if step == STEPS[-1]:
            threading.Timer(0.5, token.cancel).start()

    with locker.connect() as conn:
        conn.execute(sa.text("LOCK TABLE phms.six_minute_walk IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        with pytest.raises(Cancelled):
            run_error_check(clinician, progress=progress, cancel=token)
        elapsed = time.monotonic() - started
        conn.rollback()
    locker.dispose()
    assert steps == list(STEPS)
    assert elapsed < 10


def test_cancel_before_start(clinician: Session) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_error_check(clinician, cancel=token)


@pytest.mark.parametrize("user", ["t_clerk", "t_auditor"])
def test_only_clinical_staff_may_run_it(own_db: PgDatabase, user: str) -> None:
    engine = own_db.engine_for(user)
    with Session(engine) as session, pytest.raises(sa.exc.ProgrammingError) as info:
        run_error_check(session, 5)
    engine.dispose()
    assert "permission denied" in str(info.value.orig)
