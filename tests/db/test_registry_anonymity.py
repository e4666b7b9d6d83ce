"""The registry export measures its k-anonymity and generalises or refuses, on a real server.

The cohort is built to be re-identifiable: ten women in PH group 1, one born in
each year 1950-1959, each with their own subtype-free diagnosis, so birth year
alone picks every one of them out.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from phms_admin import embedded
from phms_admin.cli import main
from phms_registry.validate import SchemaError, validate
from phms_schema.registry_format import BATCH_FORMAT, FORMAT
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase

FIRST_SEEN = dt.date(2021, 3, 1)


@pytest.fixture(scope="module")
def cohort(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    with migrated_database(pg_server) as database:
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            for i in range(10):
                pid = add_person(
                    conn, birth_date=dt.date(1950 + i, 6, 1), sex="female", ph_group=1
                )["id"]
                insert(
                    conn,
                    "assessment",
                    patient_id=pid,
                    kind="assessment",
                    study_date=FIRST_SEEN + dt.timedelta(days=7 * i),
                    who_fc=3,
                )
        engine.dispose()
        yield database


def run(database: PgDatabase, out: Path, *options: str) -> int:
    argv = ["registry-export", "--out", str(out), "--url", database.url_for("t_admin")]
    return main([*argv, "--hospital-id", "RBH", *options])


def test_unique_birth_years_are_banded_to_reach_k(
    cohort: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert run(cohort, out) == 0
    printed = capsys.readouterr().out
    assert "with dates shifted" in printed
    assert "k-anonymity 5 (at least 5 asked; 1 before generalising" in printed
    assert "birth year in 5-year bands" in printed
    doc = json.loads(out.read_bytes())
    assert doc["anonymity"]["k"] == 5 and doc["anonymity"]["min_k"] == 5
    assert doc["anonymity"]["generalised"] == ["birth year in 5-year bands"]
    assert doc["dates_shifted"] is True
    years = Counter(p["birth_year"] for p in doc["patients"])
    assert years == {"1950-1954": 5, "1955-1959": 5}
    assert not any(isinstance(p["birth_year"], int) for p in doc["patients"])
    # The rung is declared, and the registry's own check takes the values as declared:
    # the file's patients are a batch of the format as they stand.
    assert doc["format"] == FORMAT
    assert doc["generalisation"] == {"birth_year_band": 5, "ph_subtype_kept": True}
    header = {k: doc[k] for k in ("hospital_id", "generated_on", "ph_only", "dates_shifted")}
    batch = {"format": BATCH_FORMAT, "export_format": doc["format"], **header,
             "batch_id": str(uuid.uuid4()), "generalisation": doc["generalisation"],
             "patients": doc["patients"], "removed": []}  # fmt: skip
    validate(batch)
    batch["generalisation"] = {"birth_year_band": 10, "ph_subtype_kept": True}
    with pytest.raises(SchemaError, match=r"patients\[0\]\.birth_year: not a 10-year band"):
        validate(batch)


def test_exact_dates_warn_and_count_the_year_of_diagnosis(
    cohort: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert run(cohort, out, "--exact-dates") == 0
    captured = capsys.readouterr()
    assert "WARNING: --exact-dates" in captured.err
    assert "with EXACT dates" in captured.out
    doc = json.loads(out.read_bytes())
    assert "diagnosis_year" in doc["anonymity"]["quasi_identifiers"]
    assert doc["dates_shifted"] is False
    assert min(r["date"] for p in doc["patients"] for r in p["records"]) == "2021-03-01"


def test_a_k_the_cohort_cannot_reach_is_refused_and_nothing_written(
    cohort: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert run(cohort, out, "--min-k", "11") == 1
    err = capsys.readouterr().err
    assert "Not anonymous enough: Only 10 patients to export" in err and "11" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_a_lone_patient_is_never_dropped_silently(
    cohort: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = cohort.engine_for("t_clinician")
    with engine.begin() as conn:
        lone = add_person(conn, birth_date=dt.date(1990, 1, 1), sex="male", ph_group=4)["id"]
    engine.dispose()
    out = tmp_path / "r.json"
    try:
        assert run(cohort, out) == 1
        err = capsys.readouterr().err
        assert "1 of 11 patients are in groups smaller than 5" in err
        assert not out.exists()
        assert run(cohort, out, "--min-k", "1") == 0  # asked for less: all 11 go out
        assert len(json.loads(out.read_bytes())["patients"]) == 11
    finally:
        admin = sa.create_engine(cohort.admin_url, poolclass=sa.pool.NullPool)
        with admin.begin() as conn:
            conn.execute(sa.text("DELETE FROM phms.patient WHERE id = :id"), {"id": lone})
        admin.dispose()


@pytest.mark.parametrize("bad", ["0", "x", "-3"])
def test_min_k_must_be_a_sensible_number(
    cohort: PgDatabase, tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run(cohort, tmp_path / "r.json", "--min-k", bad)
    assert "--min-k" in capsys.readouterr().err
