"""phms-admin registry-export, end to end on a real server: anonymous, keyed, shifted."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from phms_admin import embedded
from phms_admin.cli import main
from phms_client.services import registry_export
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase

DAY = dt.date.today() - dt.timedelta(days=500)

PEOPLE: list[dict[str, Any]] = [
    {
        "family_name": "Łukasiewicz-Müller",
        "given_name": "Zoë Ångström",
        "sex": "female",
        "birth_date": dt.date(1958, 2, 27),
        "phone": "+33 1 23 45 67 89",
        "email": "zoe.lukasiewicz@example.org",
        "address": "12 Rue de l'Église, 75001 Paris",
        "ph_group": 1,
        "ph_subtype": "idiopathic",
    },
    {
        "family_name": "Ó Briain",
        "given_name": "Seán",
        "sex": "male",
        "birth_date": dt.date(1971, 11, 3),
        "phone": "0044 20 7946 0958",
        "email": "sean@obriain.ie",
        "address": "Flat 3, 7 Quay Street, Galway H91 X2YZ",
        "ph_group": 4,
        # Free text in the subtype field must not travel.
        "ph_subtype": "suspected — ask Mrs Dupont at Galway",
    },
    {
        "family_name": "Nguyễn",
        "given_name": "Thị Hương",
        "sex": "female",
        "birth_date": dt.date(1989, 7, 14),
        "phone": "(555) 010-4477",
        "email": None,
        "address": "Apt 9B, 221 Baker Road, Springfield",
        "ph_group": None,
        "ph_subtype": None,
    },
]


@pytest.fixture(scope="module")
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    with migrated_database(pg_server) as database:
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            for n, person in enumerate(PEOPLE):
                pid = add_person(conn, **person)["id"]
                insert(
                    conn,
                    "assessment",
                    patient_id=pid,
                    kind="assessment",
                    study_date=DAY + dt.timedelta(days=n),
                    who_fc=3,
                    height_cm=Decimal(170),
                    weight_kg=Decimal(70),
                    mpap_mmhg=Decimal(48),
                    pawp_mmhg=Decimal(11),
                    co_l_min=Decimal("4.1"),
                    nt_probnp_pg_ml=Decimal(1200),
                )
                insert(
                    conn,
                    "assessment",
                    patient_id=pid,
                    kind="followup",
                    study_date=DAY + dt.timedelta(days=n + 120),
                    who_fc=2,
                )
                insert(
                    conn,
                    "six_minute_walk",
                    patient_id=pid,
                    study_date=DAY + dt.timedelta(days=n + 3),
                    distance_m=Decimal(380 + n),
                )
                insert(
                    conn,
                    "medication",
                    patient_id=pid,
                    name="Sildenafil",
                    details=f"20 mg tds, prescribed by Dr {person['family_name']}",
                    started_on=DAY + dt.timedelta(days=n + 1),
                    stopped_on=DAY + dt.timedelta(days=n + 60),
                    stop_reason=f"{person['given_name']} asked to stop",
                )
                insert(
                    conn,
                    "medication",
                    patient_id=pid,
                    name=f"aspirin (from {person['family_name']}'s GP)",
                    started_on=DAY,
                )
                insert(
                    conn,
                    "comorbidity",
                    patient_id=pid,
                    name=f"lives with {person['given_name']}",
                    started_on=DAY,
                )
        engine.dispose()
        yield database


def export(own_db: PgDatabase, tmp_path: Path, *options: str, user: str = "t_admin") -> bytes:
    out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}"
    if "--min-k" not in options:  # three people cannot be anonymous among five
        options = ("--min-k", "1", *options)
    argv = ["registry-export", "--out", str(out), "--url", own_db.url_for(user), *options]
    assert main(argv) == 0
    assert out.stat().st_mode & 0o077 == 0  # owner only
    return out.read_bytes()


def secret_of(own_db: PgDatabase) -> bytes:
    engine = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        value = conn.execute(
            sa.text("SELECT value FROM phms.site_secret WHERE name = 'registry_hmac'")
        ).scalar_one()
    engine.dispose()
    return bytes(value)


def all_patients(own_db: PgDatabase) -> list[sa.RowMapping]:
    engine = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text("SELECT * FROM phms.patient")).mappings())
    engine.dispose()
    return rows


def forbidden_values(patient: sa.RowMapping) -> set[str]:
    """Everything that identifies the patient or reaches them, in the forms it could take."""
    born: dt.date = patient["birth_date"]
    values: set[str] = {
        patient["patient_code"],
        patient["patient_code"].replace("-", ""),
        born.isoformat(),
        born.strftime("%d.%m.%Y"),
        born.strftime("%d/%m/%Y"),
        born.strftime("%Y%m%d"),
    }
    for column in ("family_name", "given_name", "phone", "email", "address", "search_name"):
        text = patient[column]
        if not text:
            continue
        values.add(text)
        values.update(w for w in text.replace(",", " ").split() if len(w) >= 4)
        if column == "phone":
            values.add("".join(c for c in text if c.isdigit()))
    if patient["ph_subtype"]:
        values.add(patient["ph_subtype"])
    stripped = {
        "".join(c for c in unicodedata.normalize("NFD", v) if not unicodedata.combining(c))
        for v in values
    }
    escaped = {json.dumps(v)[1:-1] for v in values}  # as JSON would write them
    return {v.casefold() for v in values | stripped | escaped if v}


@pytest.mark.parametrize(
    "options",
    [
        ("--format", "json", "--exact-dates"),
        ("--format", "csv", "--exact-dates"),
        ("--format", "json"),
    ],
    ids=["json-exact", "csv-exact", "json-shifted"],
)
def test_no_identifying_value_of_any_patient_appears(
    own_db: PgDatabase, tmp_path: Path, options: tuple[str, ...]
) -> None:
    data = export(own_db, tmp_path, "--hospital-id", "RBH", *options)
    text = data.decode("utf-8").casefold()
    patients = all_patients(own_db)
    assert len(patients) == len(PEOPLE)
    for patient in patients:
        for value in forbidden_values(patient):
            if value in {"ph_subtype", "idiopathic"}:  # a configured subtype is data
                continue
            assert value not in text, (patient["id"], value)
    for staff in ("t_clinician", "t_admin", "postgres"):
        assert staff not in text
    assert "sildenafil" in text and "aspirin" not in text and "lives with" not in text


def test_json_export_content(own_db: PgDatabase, tmp_path: Path) -> None:
    doc = json.loads(
        export(own_db, tmp_path, "--hospital-id", "RBH", "--format", "json", "--exact-dates")
    )
    assert doc["format"] == registry_export.FORMAT
    assert doc["hospital_id"] == "RBH" and doc["dates_shifted"] is False
    assert doc["anonymity"] == {
        "k": 1,
        "min_k": 1,
        "quasi_identifiers": ["birth_year", "diagnosis_year", "ph_group", "ph_subtype", "sex"],
        "generalised": [],
    }
    secret = secret_of(own_db)
    patients = {row["patient_code"]: row for row in all_patients(own_db)}
    keys = {
        hmac.new(secret, code.encode(), hashlib.sha256).hexdigest(): row
        for code, row in patients.items()
    }
    assert [p["patient_key"] for p in doc["patients"]] == sorted(keys)
    for p in doc["patients"]:
        row = keys[p["patient_key"]]
        assert p["birth_year"] == row["birth_date"].year
        assert p["ph_group"] == row["ph_group"]
        types = [r["type"] for r in p["records"]]
        assert types == ["assessment", "assessment", "six_minute_walk", "medication"]
        first = p["records"][0]
        assert first["kind"] == "assessment" and first["mpap_mmhg"] == 48
        assert first["pvr_wu"] == pytest.approx(37 / 4.1, abs=1e-4)
        assert first["ph_class"] == "pre-capillary"
        # The first assessment is at diagnosis: three strata (FC III 2, 380 m 2, NT 1200 3,
        # CI 2.26 2 -> 2.25 -> intermediate); its four strata are not exported.
        assert first["at_diagnosis"] is True and first["risk_label"] is None
        assert (first["risk_at_diagnosis_stratum"], first["risk_at_diagnosis_label"]) == (
            2,
            "intermediate",
        )
        followup = p["records"][1]
        assert followup["at_diagnosis"] is False and followup["risk_at_diagnosis_label"] is None
        medication = p["records"][-1]
        assert medication["name"] == "sildenafil"  # spelled as in the pah_medicines list
        assert set(medication) == {"type", "no", "date", "name", "therapy_class", "stopped_on"}
        assert medication["therapy_class"] == "pde5i"  # a row from before classes: by its name
    subtypes = {p["ph_group"]: p["ph_subtype"] for p in doc["patients"]}
    assert subtypes == {1: "idiopathic", 4: "other", None: None}


def test_ph_only(own_db: PgDatabase, tmp_path: Path) -> None:
    doc = json.loads(export(own_db, tmp_path, "--hospital-id", "RBH", "--ph-only"))
    assert sorted(p["ph_group"] for p in doc["patients"]) == [1, 4]
    assert doc["ph_only"] is True


def test_csv_is_one_row_per_record(own_db: PgDatabase, tmp_path: Path) -> None:
    data = export(own_db, tmp_path, "--hospital-id", "RBH", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert tuple(rows[0]) == registry_export.csv_columns()
    assert [r["record_type"] for r in rows].count("patient") == len(PEOPLE)
    assert {r["hospital_id"] for r in rows} == {"RBH"}
    walks = [r for r in rows if r["record_type"] == "six_minute_walk"]
    assert sorted(r["distance_m"] for r in walks) == ["380", "381", "382"]


def dates(doc: dict[str, Any]) -> dict[str, list[dt.date]]:
    return {
        p["patient_key"]: [dt.date.fromisoformat(r["date"]) for r in p["records"]]
        + [dt.date.fromisoformat(r["stopped_on"]) for r in p["records"] if r.get("stopped_on")]
        for p in doc["patients"]
    }


def test_shifted_dates_keep_intervals_within_a_patient(own_db: PgDatabase, tmp_path: Path) -> None:
    plain = dates(json.loads(export(own_db, tmp_path, "--hospital-id", "RBH", "--exact-dates")))
    shifted_doc = json.loads(export(own_db, tmp_path, "--hospital-id", "RBH"))  # the default
    shifted = dates(shifted_doc)
    again = dates(json.loads(export(own_db, tmp_path, "--hospital-id", "RBH", "--shift-dates")))
    assert shifted_doc["dates_shifted"] is True
    assert shifted == again  # the same shift every time
    offsets = set()
    for key, days in plain.items():
        moved = {(b - a).days for a, b in zip(days, shifted[key], strict=True)}
        assert len(moved) == 1  # every date of the patient moved by the same amount
        offset = moved.pop()
        assert 1 <= abs(offset) <= registry_export.MAX_SHIFT_DAYS
        offsets.add(offset)
    assert len(offsets) > 1  # not one shift for everybody


def test_secret_file_replaces_the_database_secret(own_db: PgDatabase, tmp_path: Path) -> None:
    key_file = tmp_path / "registry.key"
    key_file.write_bytes(b"k" * 40)
    doc = json.loads(
        export(own_db, tmp_path, "--hospital-id", "RBH", "--secret-file", str(key_file))
    )
    codes = [row["patient_code"] for row in all_patients(own_db)]
    expected = sorted(hmac.new(b"k" * 40, c.encode(), hashlib.sha256).hexdigest() for c in codes)
    assert [p["patient_key"] for p in doc["patients"]] == expected


def test_reading_the_secret_is_admins_only_and_audited(
    own_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no.json"
    argv = ["registry-export", "--out", str(out), "--hospital-id", "RBH"]
    assert main([*argv, "--url", own_db.url_for("t_clinician")]) == 1
    assert "permission denied for function registry_secret" in capsys.readouterr().err
    assert not out.exists()
    engine = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    count = sa.text(
        "SELECT count(*) FROM audit.event WHERE table_name = 'site_secret'"
        " AND operation = 'READ' AND session_user_name = 't_admin'"
    )
    with engine.connect() as conn:
        before = conn.execute(count).scalar_one()
        export(own_db, tmp_path, "--hospital-id", "RBH")
        after = conn.execute(count).scalar_one()
        leaked = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit.event WHERE position("
                "encode(CAST(:s AS bytea), 'hex') IN coalesce(new_values::text, '')) > 0"
            ),
            {"s": secret_of(own_db)},
        ).scalar_one()
    engine.dispose()
    assert after == before + 1
    assert leaked == 0


def test_hospital_id_is_required(
    own_db: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("PHMS_SITE_CONFIG", str(empty))
    monkeypatch.setenv("PHMS_USER_CONFIG", str(empty))
    monkeypatch.delenv("PHMS_HOSPITAL_ID", raising=False)
    argv = [
        "registry-export",
        "--out",
        str(tmp_path / "x.json"),
        "--url",
        own_db.url_for("t_admin"),
        "--min-k",
        "1",
    ]
    assert main(argv) == 1
    assert "No hospital ID" in capsys.readouterr().err
    monkeypatch.setenv("PHMS_HOSPITAL_ID", "CFG-7")
    assert main(argv) == 0
    assert json.loads((tmp_path / "x.json").read_bytes())["hospital_id"] == "CFG-7"
