"""Both accepted format versions, stored and judged alike; the registry's migration r0002.

The compatibility rule (``phms_schema.registry_format``): a registry takes the
current batch (export /3, generalisation declared) and the previous one (export
/2, a batch-wide ``birth_year_band``, the band's first year as a number). A row
from either is the same group when the values are the same.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from phms_admin import embedded
from phms_admin import registry_client as rc
from phms_registry import dbmigrate
from phms_schema.registry_format import canonical_json, sha256_hex
from tests.harness import create_database
from tests.registry.conftest import PASSPHRASE, Registry


def key() -> str:
    return uuid.uuid4().hex * 2


def patient(birth_year: int | str, diagnosed: str = "2020-02-03", **kw: Any) -> dict[str, Any]:
    return {
        "patient_key": key(),
        "birth_year": birth_year,
        "sex": "female",
        "ph_group": 1,
        "ph_subtype": kw.get("ph_subtype", "idiopathic"),
        "status": "active",
        "deceased_date": None,
        "records": [
            {"type": "assessment", "no": 1, "date": diagnosed, "who_fc": 3},
            {"type": "assessment", "no": 2, "date": "2023-05-06", "who_fc": 2},
        ],
    }


def legacy(hospital_id: str, patients: list[dict[str, Any]], band: int) -> dict[str, Any]:
    return {
        "format": "phms-registry-batch/1",
        "export_format": "phms-registry-export/2",
        "batch_id": str(uuid.uuid4()),
        "hospital_id": hospital_id,
        "generated_on": dt.date.today().isoformat(),
        "ph_only": True,
        "dates_shifted": False,
        "birth_year_band": band,
        "patients": patients,
        "removed": [],
    }


def current(hospital_id: str, patients: list[dict[str, Any]], band: int) -> dict[str, Any]:
    body = legacy(hospital_id, patients, band)
    del body["birth_year_band"]
    body.update(
        format="phms-registry-batch/2",
        export_format="phms-registry-export/3",
        generalisation={"birth_year_band": band, "ph_subtype_kept": True},
    )
    return body


def test_both_versions_are_stored_and_judged_alike(registry: Registry, tmp_path: Path) -> None:
    cfg = registry.config(tmp_path, "H-VERSIONS", registry.issue("H-VERSIONS"))
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)

    def send(body: dict[str, Any]) -> rc.Ack:
        payload = canonical_json(body)
        return rc.send_batch(cfg.endpoint, context, payload, sha256_hex(payload))

    # The previous version: two women in the 1955 band, diagnosed in 2020.
    send(legacy("H-VERSIONS", [patient(1955), patient(1955)], 5))
    # A lone one in the previous version is refused, as in the current one.
    with pytest.raises(rc.RegistryRefused, match="reidentifying"):
        send(legacy("H-VERSIONS", [patient(1980)], 1))
    # The current version's "1955-1959", same sex, group, subtype and year of diagnosis:
    # the same group as the legacy rows (k=3 now), so a batch of one is accepted ...
    send(current("H-VERSIONS", [patient("1955-1959", "2020-11-30")], 5))
    # ... while the same woman diagnosed a year later is a group of her own.
    with pytest.raises(rc.RegistryRefused, match="diagnosed 2021 \\(1 patient\\)"):
        send(current("H-VERSIONS", [patient("1955-1959", "2021-01-04")], 5))
    rows = registry.query(
        "SELECT p.birth_year, p.birth_year_band, p.diagnosis_year, b.export_format,"
        " b.ph_subtype_kept FROM registry.patient p JOIN registry.batch b USING (batch_id)"
        " WHERE p.hospital_id = 'H-VERSIONS' ORDER BY b.export_format"
    )
    assert [tuple(r) for r in rows] == [
        (1955, 5, 2020, "phms-registry-export/2", True),
        (1955, 5, 2020, "phms-registry-export/2", True),
        (1955, 5, 2020, "phms-registry-export/3", True),
    ]
    listed = rc.cohort(cfg.endpoint, context)
    assert {h.key() for h in listed.patients.values()} == {
        ("1955-1959", "female", 1, "idiopathic", 2020, None)
    }


def test_migration_r0002_counts_the_year_of_diagnosis_of_what_is_held(
    pg_server: embedded.ServerInfo,
) -> None:
    name = f"registry_mig_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name)
    url = pg_server.url(name)
    dbmigrate.upgrade(url, "r0001")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    records = (
        '[{"type": "six_minute_walk", "no": 1, "date": "2018-01-01"},'
        ' {"type": "assessment", "no": 1, "date": "2019-12-30"},'
        ' {"type": "assessment", "no": 2, "date": "2021-03-01"}]'
    )
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO registry.hospital VALUES ('H', now())"))
        conn.execute(
            sa.text(
                "INSERT INTO registry.certificate (serial, fingerprint, hospital_id, not_before,"
                " not_after) VALUES ('ab', :f, 'H', now(), now() + interval '1 day')"
            ),
            {"f": "0" * 64},
        )
        for shifted in (False, True):
            batch = uuid.uuid4()
            conn.execute(
                sa.text(
                    "INSERT INTO registry.batch (batch_id, hospital_id, certificate_serial,"
                    " content_sha256, generated_on, ph_only, dates_shifted, birth_year_band,"
                    " patients, removed, records) VALUES (:b, 'H', 'ab', :sha, now(), true,"
                    " :shifted, 1, 1, 0, 3)"
                ),
                {"b": batch, "sha": "1" * 64, "shifted": shifted},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO registry.patient (hospital_id, patient_key, birth_year,"
                    " birth_year_band, sex, status, records, batch_id) VALUES ('H', :k, 1950,"
                    " 1, 'male', 'active', CAST(:r AS jsonb), :b)"
                ),
                {"k": ("f" if shifted else "e") * 64, "r": records, "b": batch},
            )
    dbmigrate.upgrade(url)
    with engine.connect() as conn:
        years = dict(
            conn.execute(
                sa.text("SELECT left(patient_key, 1), diagnosis_year FROM registry.patient")
            ).all()
        )
        formats = conn.execute(
            sa.text("SELECT DISTINCT export_format, ph_subtype_kept FROM registry.batch")
        ).all()
    assert years == {"e": 2019, "f": None}  # exact dates: the first assessment's year
    assert [tuple(f) for f in formats] == [("phms-registry-export/2", True)]
    dbmigrate.downgrade(url, "r0001")
    with engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'registry' AND table_name = 'patient'"
            )
        ).scalars()
        assert "diagnosis_year" not in set(columns)
    engine.dispose()
