"""Migration 0012 on a clinic's old rows: nothing is lost, inconsistent rows are kept.

Rows are written at the revision before 0012 (as the database's administrator, the
way an old client's data arrived), then the database is upgraded.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from phms_admin import migrate
from tests.harness import PgDatabase, unique_code

DAY = dt.date.today() - dt.timedelta(days=100)


def _before_0012() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    revision = script.get_revision("0012")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def _insert(conn: sa.Connection, table: str, **values: object) -> int:
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    sql = f"INSERT INTO phms.{table} ({columns}) VALUES ({params}) RETURNING id"
    return int(conn.execute(sa.text(sql), values).scalar_one())


def _old_clinic(conn: sa.Connection) -> dict[str, int]:
    pid = _insert(conn, "patient", patient_code=unique_code(), family_name="Old",
                  given_name="Row", sex="female", birth_date=dt.date(1950, 1, 1))  # fmt: skip
    ids = {"patient": pid}

    def assessment(name: str, **values: object) -> None:
        ids[name] = _insert(conn, "assessment", patient_id=pid, kind="assessment",
                            study_date=DAY, **values)  # fmt: skip

    assessment("effusion_yes", pericardial_effusion=True, mpap_mmhg=40, pawp_mmhg=10, co_l_min=4)
    assessment("effusion_no", pericardial_effusion=False)
    assessment("not_recorded")
    assessment("wedge_above_mean", mpap_mmhg=10, pawp_mmhg=25, co_l_min=5)  # TPG −15
    assessment("mean_zero", mpap_mmhg=0)
    challenge = _insert(conn, "vasodilator_challenge", patient_id=pid, study_date=DAY)
    ids["step"] = _insert(conn, "vasodilator_step", challenge_id=challenge, step_no=0,
                          mpap_mmhg=20, pawp_mmhg=30)  # fmt: skip
    for name, drug in (("listed", " Bosentan "), ("typo", "Bosen"), ("other", "aspirin")):
        ids[name] = _insert(conn, "medication", patient_id=pid, name=drug, started_on=DAY)
    ids["in_error"] = _insert(conn, "medication", patient_id=pid, name="sildenafil",
                              started_on=DAY)  # fmt: skip
    conn.execute(
        sa.text(
            "UPDATE phms.medication SET entered_in_error = true, error_reason = 'typo'"
            " WHERE id = :i"
        ),
        {"i": ids["in_error"]},
    )
    return ids


def test_old_rows_survive_0012_and_its_downgrade(fresh_database: PgDatabase) -> None:
    url = fresh_database.admin_url
    previous = _before_0012()
    migrate.upgrade(url, previous)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        ids = _old_clinic(conn)
        before = conn.execute(sa.text("SELECT count(*) FROM phms.assessment")).scalar_one()

    migrate.upgrade(url, "0012")
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.text("SELECT * FROM phms.assessment")).mappings()}
        assert len(rows) == before
        assert rows[ids["effusion_yes"]].pericardial_effusion == "present"  # size not recorded
        assert rows[ids["effusion_no"]].pericardial_effusion == "none"
        assert rows[ids["not_recorded"]].pericardial_effusion is None
        bad = rows[ids["wedge_above_mean"]]
        assert (bad.mpap_mmhg, bad.pawp_mmhg, bad.tpg_mmhg) == (10, 25, -15)  # kept as it was
        assert rows[ids["mean_zero"]].mpap_mmhg == 0
        assert rows[ids["effusion_yes"]].svi_ml_m2 is None  # no height, weight or HR
        classes = dict(conn.execute(sa.text("SELECT id, therapy_class FROM phms.medication")).all())
        assert classes == {
            ids["listed"]: "era",  # on the list, whatever the case and spacing
            ids["typo"]: None,  # not on the list: free text
            ids["other"]: None,
            ids["in_error"]: None,  # deleted entries are final
        }
        names = set(conn.execute(sa.text("SELECT name FROM phms.medication")).scalars())
        assert names == {" Bosentan ", "Bosen", "aspirin", "sildenafil"}  # never rewritten
        validated = dict(
            conn.execute(
                sa.text(
                    "SELECT conname, convalidated FROM pg_constraint"
                    " WHERE conname LIKE 'ck_%valid_pawp_mpap' OR conname LIKE 'ck_%mpap_positive'"
                )
            ).all()
        )
        assert validated == {
            "ck_assessment_valid_pawp_mpap": False,  # rows break it: kept, not validated
            "ck_assessment_valid_mpap_positive": False,
            "ck_vasodilator_step_valid_pawp_mpap": False,
            "ck_vasodilator_step_valid_mpap_positive": True,  # nothing breaks it
        }
        letter = conn.execute(
            sa.text("SELECT body FROM phms.report_template WHERE name = 'Clinic letter'")
        ).scalar_one()
        assert "{{ risk.scale }}" in letter and "{{ pah_therapy.text }}" in letter
        cohort = conn.execute(
            sa.text("SELECT body FROM phms.report_template WHERE name = 'Cohort report'")
        ).scalar_one()
        assert "cohort.risk_at_diagnosis" in cohort
        function = conn.execute(
            sa.text("SELECT prosrc FROM pg_proc WHERE proname = 'cohort_statistics'")
        ).scalar_one()
        assert "NOT d.at_diagnosis" in function and "'risk_at_diagnosis'" in function

    # An inconsistent old row is corrected or deleted as entered in error, never
    # saved again as it is.
    with engine.connect() as conn:
        conn.begin()
        change = sa.text("UPDATE phms.assessment SET who_fc = 3 WHERE id = :i")
        nested = conn.begin_nested()
        try:
            conn.execute(change, {"i": ids["wedge_above_mean"]})
            raise AssertionError("an inconsistent row was saved again")
        except sa.exc.IntegrityError as refused:
            assert "ck_assessment_valid_pawp_mpap" in str(refused.orig)
            nested.rollback()
        conn.execute(
            sa.text("UPDATE phms.assessment SET pawp_mmhg = 8 WHERE id = :i"),
            {"i": ids["wedge_above_mean"]},
        )
        conn.execute(
            sa.text(
                "UPDATE phms.assessment SET entered_in_error = true, error_reason = 'mPAP 0'"
                " WHERE id = :i"
            ),
            {"i": ids["mean_zero"]},
        )
        conn.commit()

    migrate.downgrade(url, previous)
    with engine.connect() as conn:
        effusions = dict(
            conn.execute(sa.text("SELECT id, pericardial_effusion FROM phms.assessment")).all()
        )
        assert effusions[ids["effusion_yes"]] is True
        assert effusions[ids["effusion_no"]] is False
        assert effusions[ids["not_recorded"]] is None
        letter = conn.execute(
            sa.text("SELECT body FROM phms.report_template WHERE name = 'Clinic letter'")
        ).scalar_one()
        assert "{{ risk.risk_label }}" in letter and "pah_therapy" not in letter
        function = conn.execute(
            sa.text("SELECT prosrc FROM pg_proc WHERE proname = 'cohort_statistics'")
        ).scalar_one()
        assert "assessment_risk_at_diagnosis" not in function  # 0005's text again
    engine.dispose()
    migrate.upgrade(url)  # and up again, to head
