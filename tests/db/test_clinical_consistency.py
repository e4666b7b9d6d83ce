"""Values that add up (0012), refused by the database itself, as plain SQL by staff logins.

- PAWP ≤ mPAP and mPAP > 0 on assessments and vasodilator steps;
- no record after the date of death, no date of death before a record (also for a
  clerk, who may set the date but not read the records);
- a medication's therapy class only on a name of the site's list, and only its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.db.clinical_data import YEAR_AGO, add_patient, insert, rejected, update
from tests.harness import PgDatabase


@pytest.fixture
def conn(clinician: sa.Engine) -> Iterator[sa.Connection]:
    with clinician.connect() as connection:
        connection.begin()
        yield connection
        connection.rollback()


@pytest.fixture
def patient(conn: sa.Connection) -> int:
    return add_patient(conn)


def _assessment(conn: sa.Connection, patient: int, **values: object) -> sa.RowMapping:
    return insert(conn, "assessment", patient_id=patient, kind="assessment", study_date=YEAR_AGO,
                  **values)  # fmt: skip


def test_pawp_above_mpap_is_refused(conn: sa.Connection, patient: int) -> None:
    with rejected(conn, "ck_assessment_valid_pawp_mpap"):
        _assessment(conn, patient, mpap_mmhg=10, pawp_mmhg=25, co_l_min=5)
    row = _assessment(conn, patient, mpap_mmhg=25, pawp_mmhg=25, co_l_min=5)  # TPG 0
    assert (row.tpg_mmhg, row.pvr_wu) == (0, 0)
    with rejected(conn, "ck_assessment_valid_pawp_mpap"):
        update(conn, "assessment", row.id, pawp_mmhg=Decimal("25.1"))


def test_mpap_zero_is_refused(conn: sa.Connection, patient: int) -> None:
    with rejected(conn, "ck_assessment_valid_mpap_positive"):
        _assessment(conn, patient, mpap_mmhg=0)
    assert _assessment(conn, patient, mpap_mmhg=Decimal("0.5")).ph_class == "no PH"


def test_steps_add_up_too(conn: sa.Connection, patient: int) -> None:
    _assessment(conn, patient)
    challenge = insert(conn, "vasodilator_challenge", patient_id=patient, study_date=YEAR_AGO).id
    with rejected(conn, "ck_vasodilator_step_valid_pawp_mpap"):
        insert(conn, "vasodilator_step", challenge_id=challenge, step_no=0, mpap_mmhg=20,
               pawp_mmhg=30)  # fmt: skip
    with rejected(conn, "ck_vasodilator_step_valid_mpap_positive"):
        insert(conn, "vasodilator_step", challenge_id=challenge, step_no=0, mpap_mmhg=0)
    insert(conn, "vasodilator_step", challenge_id=challenge, step_no=0, mpap_mmhg=40, pawp_mmhg=8)


def test_no_record_after_death(conn: sa.Connection, db: PgDatabase) -> None:
    pid = add_patient(conn)
    died = YEAR_AGO + dt.timedelta(days=100)
    _assessment(conn, pid)
    conn.execute(
        sa.text("UPDATE phms.patient SET status = 'deceased', deceased_date = :d WHERE id = :p"),
        {"d": died, "p": pid},
    )
    insert(conn, "six_minute_walk", patient_id=pid, study_date=died, distance_m=100)  # that day
    for table, values in (
        ("assessment", {"kind": "followup"}),
        ("six_minute_walk", {"distance_m": 100}),
        ("vasodilator_challenge", {}),
    ):
        with rejected(conn, f"ck_{table}_study_date_before_death"):
            insert(conn, table, patient_id=pid, study_date=died + dt.timedelta(days=1), **values)


def test_no_date_of_death_before_a_record(db: PgDatabase) -> None:
    """A clerk sets the date of death; the rule reads records the clerk may not read."""
    clinician, clerk = db.engine_for("t_clinician"), db.engine_for("t_clerk")
    try:
        with clinician.begin() as c:
            pid = add_patient(c)
            _assessment(c, pid)
        with clerk.connect() as c:
            c.begin()
            with rejected(c, "ck_patient_deceased_after_records"):
                c.execute(
                    sa.text(
                        "UPDATE phms.patient SET status = 'deceased', deceased_date = :d"
                        " WHERE id = :p"
                    ),
                    {"d": YEAR_AGO - dt.timedelta(days=1), "p": pid},
                )
            c.execute(
                sa.text(
                    "UPDATE phms.patient SET status = 'deceased', deceased_date = :d WHERE id = :p"
                ),
                {"d": YEAR_AGO, "p": pid},
            )  # the day of the last record is fine
            c.rollback()
    finally:
        clinician.dispose()
        clerk.dispose()


def test_a_therapy_class_needs_the_list_and_its_own_class(
    conn: sa.Connection, patient: int
) -> None:
    def med(name: str, therapy_class: str | None) -> sa.RowMapping:
        return insert(conn, "medication", patient_id=patient, name=name, started_on=YEAR_AGO,
                      therapy_class=therapy_class)  # fmt: skip

    with rejected(conn, "ck_medication_listed"):
        med("Bosen", "era")  # not on the list: free text has no class
    with rejected(conn, "ck_medication_class_matches"):
        med("bosentan", "pde5i")
    with rejected(conn, "ck_medication_class_matches"):  # the trigger runs before the CHECK
        med("bosentan", "beta blocker")
    assert med("bosentan", "era").therapy_class == "era"
    tadalafil = med("  Tadalafil ", "pde5i")  # any case and spacing: stored as the entry
    assert (tadalafil.name, tadalafil.therapy_class) == ("tadalafil", "pde5i")
    # A name on the list is that list entry with its class, whatever the client sent.
    riociguat = med("RIOCIGUAT", None)
    assert (riociguat.name, riociguat.therapy_class) == ("riociguat", "sgc")
    free = med("Bosen", None)
    assert free.therapy_class is None
    # Stopping an entry does not look at the list again.
    update(conn, "medication", free.id, stopped_on=YEAR_AGO, stop_reason="typo")


def test_a_site_medicine_not_known_to_phms_is_other(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as admin:
        admin.begin()
        admin.execute(
            sa.text(
                "UPDATE phms.setting SET value = value || '[\"Opsumit\"]'::jsonb"
                " WHERE key = 'pah_medicines'"
            )
        )
        pid = add_patient(admin)
        with rejected(admin, "ck_medication_class_matches"):
            insert(admin, "medication", patient_id=pid, name="Opsumit", started_on=YEAR_AGO,
                   therapy_class="era")  # fmt: skip
        row = insert(admin, "medication", patient_id=pid, name="Opsumit", started_on=YEAR_AGO,
                     therapy_class="other")  # fmt: skip
        assert row.therapy_class == "other"
        admin.rollback()


def test_a_clinic_without_such_rows_has_the_rules_validated(admin_engine: sa.Engine) -> None:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT conname, convalidated FROM pg_constraint"
                " WHERE conname ~ '^ck_(assessment|vasodilator_step)_valid_(pawp_mpap|mpap_pos)'"
            )
        ).all()
    assert len(rows) == 4 and all(validated for _, validated in rows)
