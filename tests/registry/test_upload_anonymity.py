"""One anonymity for export and upload, end to end: re-identifiable cohorts, a real registry.

The registry in these tests needs k≥2 (``K_THRESHOLD``). Each cohort is built so
that its exact values pick patients out: the upload generalises it with the
export's ladder and the registry accepts it; a cohort no rung can protect is
refused here, before anything is sent; an incremental upload after edits keeps
the cohort's rung (and moves every patient when the rung moves); and the
registry's k, computed on what it stores, is the sender's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import registry_client as rc
from phms_admin.cli import main
from phms_admin.connection import CommandError
from phms_admin.registry_upload_cmd import UploadConfig, read_passphrase, upload
from phms_client.services import registry_export
from phms_registry import store
from phms_schema.registry_anonymity import judge
from phms_schema.registry_format import canonical_json, sha256_hex
from tests.harness import PgDatabase
from tests.registry.conftest import DAY, K_THRESHOLD, PASSPHRASE, Registry

#: Each unique by birth year; in 5-year bands, two pairs.
SPREAD = [
    {"born": 1961, "sex": "female", "group": 1, "subtype": "idiopathic"},
    {"born": 1964, "sex": "female", "group": 1, "subtype": "heritable"},
    {"born": 1970, "sex": "male", "group": 4},
    {"born": 1972, "sex": "male", "group": 4},
]


def run(db: PgDatabase, cfg: UploadConfig, **kw: Any) -> str:
    return upload(db.url_for("t_admin"), cfg, read_passphrase(cfg), **kw)


def local(db: PgDatabase, sql: str, **params: Any) -> list[sa.Row[Any]]:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text(sql), params))
    engine.dispose()
    return rows


def stored(registry: Registry, hospital_id: str) -> list[sa.Row[Any]]:
    return registry.query(
        "SELECT patient_key, birth_year, birth_year_band, ph_subtype, diagnosis_year"
        " FROM registry.patient WHERE hospital_id = :h ORDER BY patient_key",
        h=hospital_id,
    )


def registry_k(registry: Registry, hospital_id: str) -> int:
    """k as the registry computes it, on what it stores."""
    engine = registry.engine()
    with engine.connect() as conn:
        cohort = store.held_cohort(conn, hospital_id)
    engine.dispose()
    return judge(cohort.values(), K_THRESHOLD).k


def sender_k(db: PgDatabase, min_k: int = K_THRESHOLD) -> tuple[int, list[str]]:
    """k as the sender's ladder computes it (the export's own code), and what it did."""
    engine = sa.create_engine(db.url_for("t_admin"), poolclass=sa.pool.NullPool)
    with Session(engine) as s:
        export = registry_export.build_export(
            s,
            secret=registry_export.registry_secret(s),
            hospital_id="any",
            ph_only=True,
            shift_dates=False,
            min_k=min_k,
        )
        s.rollback()
    engine.dispose()
    return export.anonymity.k, export.anonymity.generalised


def registry_batches(registry: Registry, hospital_id: str) -> list[sa.Row[Any]]:
    return registry.query(
        "SELECT patients, removed, birth_year_band, ph_subtype_kept, export_format"
        " FROM registry.batch WHERE hospital_id = :h ORDER BY received_at",
        h=hospital_id,
    )


def test_a_re_identifiable_cohort_is_generalised_and_accepted(
    registry: Registry, hospital_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = hospital_db(*SPREAD)
    cfg = registry.config(tmp_path, "H-GEN", registry.issue("H-GEN"))
    argv = ["registry-upload", "--estimate", "--url", db.url_for("t_admin"),
            "--config", str(tmp_path / "registry-upload.toml")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Anonymity: k=2 over the whole cohort (at least 2 asked; k=1 before" in out
    assert "generalised: birth year in 5-year bands, PH group without subtype" in out
    assert "After the upload the registry holds 4 patient(s) of this hospital: k=2" in out
    # --min-k asks for more than this cohort can give: not sendable, and why.
    assert main([*argv, "--min-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "NOT SENDABLE. Nothing was sent" in out and "fewer than 3 (k=3 asked)" in out
    assert "ask for less with min_k = 2 (the registry's threshold" in out
    # Without a passphrase file the estimate cannot ask the registry: it says so and
    # assumes k≥5, which four patients cannot reach.
    toml = tmp_path / "registry-upload.toml"
    offline = tmp_path / "offline.toml"
    offline.write_text(
        "".join(line for line in toml.read_text().splitlines(True) if "passphrase" not in line)
    )
    assert main([*argv[:-1], str(offline)]) == 0
    out = capsys.readouterr().out
    assert "not asked (no passphrase_file" in out and "k≥5" in out
    assert "NOT SENDABLE. Nothing was sent: only 4 patient(s) to send" in out

    message = run(db, cfg)
    assert "Sent 1 batch(es): 4 patient(s)" in message
    assert "k=2; birth year in 5-year bands, PH group without subtype" in message
    rows = stored(registry, "H-GEN")
    assert sorted((r.birth_year, r.birth_year_band) for r in rows) == [
        (1960, 5), (1960, 5), (1970, 5), (1970, 5)
    ]  # fmt: skip
    assert {r.ph_subtype for r in rows} == {None}
    assert {r.diagnosis_year for r in rows} == {DAY.year}  # exact dates: counted
    assert [tuple(b) for b in registry_batches(registry, "H-GEN")] == [
        (4, 0, 5, False, "phms-registry-export/3")
    ]
    # The registry's k on what it stores is the sender's on its own data.
    assert registry_k(registry, "H-GEN") == sender_k(db)[0] == 2
    assert sender_k(db)[1] == ["birth year in 5-year bands", "PH group without subtype"]
    # And the registry lists the same to the hospital (what the pre-check starts from).
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)
    listed = rc.cohort(cfg.endpoint, context)
    assert listed.k_threshold == K_THRESHOLD and len(listed.patients) == 4
    assert judge(listed.patients.values(), K_THRESHOLD).k == 2


def test_a_cohort_no_rung_protects_is_refused_here_and_nothing_is_sent(
    registry: Registry, hospital_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = hospital_db(
        {"born": 1950, "sex": "female", "group": 1},
        {"born": 1952, "sex": "female", "group": 1},
        {"born": 1990, "sex": "male", "group": 4},  # alone whatever the rung
    )
    issued = registry.issue("H-RARE")
    cfg = registry.config(tmp_path, "H-RARE", issued)
    with pytest.raises(CommandError) as refused:
        run(db, cfg)
    message = str(refused.value)
    assert message.startswith("Nothing was sent: even with birth year in 10-year bands")
    assert "Too rare: born 1990-1999, male, PH group 4, diagnosed" in message
    assert "shift_dates = true" in message and 'patients = "all"' in message
    assert "wait until more patients" in message
    # Nothing reached the registry, nothing was even stored to be sent.
    assert registry_batches(registry, "H-RARE") == [] and stored(registry, "H-RARE") == []
    assert registry.query("SELECT 1 FROM registry.refusal WHERE hospital_id = 'H-RARE'") == []
    assert local(db, "SELECT count(*) FROM phms.registry_upload_batch")[0][0] == 0
    runs = local(db, "SELECT ok, message FROM phms.registry_upload_run")
    assert [(r.ok, r.message) for r in runs] == [(False, message)]

    # A min_k below the registry's: the ladder is satisfied at k=1, the pre-check judges
    # as the registry will (k≥2) and refuses too.
    low = registry.config(tmp_path / "low", "H-RARE", issued, min_k=1)
    with pytest.raises(CommandError, match=r"remove min_k = 1 .*below the registry's threshold 2"):
        run(db, low)
    assert registry_batches(registry, "H-RARE") == []
    argv = ["registry-upload", "--estimate", "--url", db.url_for("t_admin"),
            "--config", str(tmp_path / "low" / "registry-upload.toml")]  # fmt: skip
    assert main(argv) == 0
    assert "NOT SENDABLE. Nothing was sent" in capsys.readouterr().out

    # With shifted dates the year of diagnosis no longer counts, but nothing makes the
    # 1990 man less alone: refused again, never dropped.
    with pytest.raises(CommandError, match="Too rare: born 1990-1999, male"):
        run(db, registry.config(tmp_path / "shift", "H-RARE", issued, shift_dates=True))
    assert stored(registry, "H-RARE") == []


def test_incremental_uploads_keep_the_cohort_generalisation(
    registry: Registry, hospital_db: Any, tmp_path: Path
) -> None:
    from tests.registry.conftest import add_ph_patient

    db = hospital_db(*SPREAD)
    cfg = registry.config(tmp_path, "H-INC", registry.issue("H-INC"), batch_size=1)
    assert "Sent 2 batch(es): 4 patient(s)" in run(db, cfg)  # one band group per batch
    assert {(r.birth_year, r.birth_year_band) for r in stored(registry, "H-INC")} == {
        (1960, 5), (1970, 5)
    }  # fmt: skip

    # A followup for one patient: a batch of that one patient, written at the cohort's
    # rung ("1960-1964"), judged by the registry with the whole cohort: k=2, not 1.
    first = local(db, "SELECT id FROM phms.patient ORDER BY id LIMIT 1")[0][0]
    engine = db.engine_for("t_clinician")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO phms.assessment (patient_id, kind, study_date, who_fc)"
                " VALUES (:p, 'followup', :d, 2)"
            ),
            {"p": first, "d": dt.date.today() - dt.timedelta(days=3)},
        )
    engine.dispose()
    assert "Sent 1 batch(es): 1 patient(s)" in run(db, cfg)
    assert registry_batches(registry, "H-INC")[-1].patients == 1
    assert {(r.birth_year, r.birth_year_band) for r in stored(registry, "H-INC")} == {
        (1960, 5), (1970, 5)
    }  # fmt: skip
    assert registry_k(registry, "H-INC") == 2

    # Four more patients, the same values again, make every exact value a pair: the
    # ladder now needs no generalisation, so every patient is rewritten exact. Linked
    # through their old band and their new years, the women travel in one batch and the
    # men in another, so the registry never holds a group of one in between.
    engine = db.engine_for("t_clinician")
    with engine.begin() as conn:
        for spec in SPREAD:
            add_ph_patient(conn, **spec)
    engine.dispose()
    said: list[str] = []
    assert "Sent 2 batch(es): 8 patient(s)" in run(db, cfg, say=said.append)
    assert any("nothing generalised" in line for line in said)
    rows = stored(registry, "H-INC")
    assert sorted(r.birth_year for r in rows) == [1961, 1961, 1964, 1964, 1970, 1970, 1972, 1972]
    assert {r.birth_year_band for r in rows} == {1}
    assert (
        sorted(r.ph_subtype or "" for r in rows)
        == [""] * 4 + ["heritable"] * 2 + ["idiopathic"] * 2
    )
    assert registry_k(registry, "H-INC") == sender_k(db)[0] == 2
    assert [b.patients for b in registry_batches(registry, "H-INC")] == [2, 2, 1, 4, 4]
    assert "Nothing changed" in run(db, cfg)


def test_the_registry_refuses_a_re_identifying_batch_sent_around_the_check(
    registry: Registry, hospital_db: Any, tmp_path: Path
) -> None:
    """A sender that skips the pre-check (or an older one): the registry judges the same
    way, over the whole cohort it would hold, and refuses the batch whole."""
    db = hospital_db(*SPREAD)
    cfg = registry.config(tmp_path, "H-AROUND", registry.issue("H-AROUND"))
    run(db, cfg)
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)
    lone = {
        "patient_key": uuid.uuid4().hex * 2,
        "birth_year": "1980-1984",
        "sex": "other",
        "ph_group": 3,
        "ph_subtype": None,
        "status": "active",
        "deceased_date": None,
        "records": [],
    }
    body = {
        "format": "phms-registry-batch/2",
        "export_format": "phms-registry-export/3",
        "batch_id": str(uuid.uuid4()),
        "hospital_id": "H-AROUND",
        "generated_on": dt.date.today().isoformat(),
        "ph_only": True,
        "dates_shifted": False,
        "generalisation": {"birth_year_band": 5, "ph_subtype_kept": False},
        "patients": [lone],
        "removed": [],
    }
    payload = canonical_json(body)
    with pytest.raises(rc.RegistryRefused) as refused:
        rc.send_batch(cfg.endpoint, context, payload, sha256_hex(payload))
    assert refused.value.code == "reidentifying"
    assert "1 of the hospital's 5 patient(s)" in refused.value.reason
    assert "(k=1, the registry needs k≥2)" in refused.value.reason
    assert "Too rare: born 1980-1984, other, PH group 3 (1 patient)" in refused.value.reason
    # Removing one of a pair leaves the other alone: refused too (the old per-batch
    # rule never looked at the patients a batch does not send).
    keys = [r.patient_key for r in stored(registry, "H-AROUND")]
    body.update(batch_id=str(uuid.uuid4()), patients=[], removed=[keys[0]])
    payload = canonical_json(body)
    with pytest.raises(rc.RegistryRefused, match="k=1"):
        rc.send_batch(cfg.endpoint, context, payload, sha256_hex(payload))
    assert len(stored(registry, "H-AROUND")) == 4
