"""registry-upload end to end: two PHMS databases, one registry, real mutual TLS.

Each scenario of the registry-upload issue: first upload, incremental after
edits, a replayed batch, an interrupted upload resumed, a wrong certificate,
an expired certificate, a hospital ID mismatch; and at the end of each, what
the registry holds is checked (nothing lost, nothing doubled). Re-identifiable
cohorts (generalised, refused here, refused there) are in test_upload_anonymity.py.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from phms_admin import registry_client as rc
from phms_admin.cli import main
from phms_admin.connection import CommandError
from phms_admin.registry_upload_cmd import UploadConfig, read_passphrase, upload
from phms_schema.registry_format import canonical_json, sha256_hex
from tests.harness import PgDatabase
from tests.registry.conftest import PASSPHRASE, Registry

PAIRS = [
    {"born": 1955, "sex": "female", "group": 1, "who_fc": 3},
    {"born": 1955, "sex": "female", "group": 1, "who_fc": 2},
    {"born": 1970, "sex": "male", "group": 4, "who_fc": 3},
    {"born": 1970, "sex": "male", "group": 4, "who_fc": 3},
]
THIRD_PAIR = [{"born": 1990, "sex": "male", "group": 1}] * 2
NO_PH = {"born": 1980, "sex": "female", "group": None}


def run(db: PgDatabase, cfg: UploadConfig, **kw: Any) -> str:
    return upload(db.url_for("t_admin"), cfg, read_passphrase(cfg), **kw)


def held(registry: Registry, hospital_id: str) -> dict[str, Any]:
    rows = registry.query(
        "SELECT patient_key, records FROM registry.patient WHERE hospital_id = :h", h=hospital_id
    )
    return {r.patient_key: r.records for r in rows}


def batch_count(registry: Registry, hospital_id: str) -> int:
    rows = registry.query(
        "SELECT count(*) FROM registry.batch WHERE hospital_id = :h", h=hospital_id
    )
    return int(rows[0][0])


def local(db: PgDatabase, sql: str, **params: Any) -> list[sa.Row[Any]]:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text(sql), params))
    engine.dispose()
    return rows


def status_lines(db: PgDatabase, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["registry-upload", "--status", "--url", db.url_for("t_admin")]) == 0
    return capsys.readouterr().out


def test_first_upload_then_incremental_after_edits(
    registry: Registry,
    hospital_db: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The 1970 men are three: when one of them leaves the selection below, the other two
    # still share their values (k is judged over the whole cohort the registry holds).
    db = hospital_db(*PAIRS, PAIRS[2], NO_PH)
    cfg = registry.config(tmp_path, "H-FIRST", registry.issue("H-FIRST"))

    argv = ["registry-upload", "--estimate", "--url", db.url_for("t_admin"),
            "--config", str(tmp_path / "registry-upload.toml")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "5 new or changed patient(s)" in out and "0 removed" in out and "nothing sent" in out
    assert "asked just now: it needs k≥2" in out  # min_k is the registry's threshold
    assert "Anonymity: k=2 over the whole cohort" in out and "nothing generalised" in out
    assert batch_count(registry, "H-FIRST") == 0  # the estimate sent nothing

    message = run(db, cfg)
    assert "Sent 1 batch(es): 5 patient(s), 0 removed" in message
    first = held(registry, "H-FIRST")
    assert len(first) == 5  # PH diagnosis only: the sixth patient stays home
    acknowledged = local(db, "SELECT patient_key FROM phms.registry_upload_patient")
    assert {r[0] for r in acknowledged} == set(first)
    assert "Last successful upload" in status_lines(db, capsys)

    # Nothing changed: nothing is sent.
    assert "Nothing changed" in run(db, cfg)
    assert batch_count(registry, "H-FIRST") == 1

    # Edits: a followup for one, a walk deleted as entered in error for another, and
    # a third patient loses the PH diagnosis (leaves the ph-only selection).
    ids = [r[0] for r in local(db, "SELECT id FROM phms.patient ORDER BY id")]
    engine = db.engine_for("t_clinician")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO phms.assessment (patient_id, kind, study_date, who_fc)"
                " VALUES (:p, 'followup', :d, 2)"
            ),
            {"p": ids[0], "d": dt.date.today() - dt.timedelta(days=10)},
        )
        conn.execute(
            sa.text(
                "UPDATE phms.six_minute_walk SET entered_in_error = true,"
                " error_reason = 'wrong patient' WHERE patient_id = :p"
            ),
            {"p": ids[1]},
        )
        conn.execute(
            sa.text("UPDATE phms.patient SET ph_group = NULL WHERE id = :p"), {"p": ids[2]}
        )
        # A change the export does not carry sends nothing.
        conn.execute(sa.text("UPDATE phms.patient SET phone = '0123' WHERE id = :p"), {"p": ids[3]})
    engine.dispose()

    assert "Sent 1 batch(es): 2 patient(s), 1 removed" in run(db, cfg)
    after = held(registry, "H-FIRST")
    assert len(after) == 4 and set(after) < set(first)
    changed = [k for k in after if after[k] != first[k]]
    assert len(changed) == 2
    kinds = sorted(len(after[k]) for k in changed)
    assert kinds == [1 + 0, 3]  # one lost its walk (assessment only); one gained a followup
    last = registry.query(
        "SELECT patients, removed FROM registry.batch WHERE hospital_id = 'H-FIRST'"
        " ORDER BY received_at DESC LIMIT 1"
    )[0]
    assert (last.patients, last.removed) == (2, 1)
    assert "Nothing changed" in run(db, cfg)


class LoseAnswers:
    """Sends each batch for real, but the answer of the ``lose``-th send never arrives
    (the connection breaks after the registry has stored it)."""

    def __init__(self, lose: int) -> None:
        self.lose, self.calls = lose, 0
        self.sent: list[tuple[bytes, str]] = []

    def __call__(self, endpoint: rc.Endpoint, context: Any, payload: bytes, sha: str) -> rc.Ack:
        self.calls += 1
        ack = rc.send_batch(endpoint, context, payload, sha)
        self.sent.append((payload, sha))
        if self.calls == self.lose:
            raise rc.RegistryError("The connection to the registry broke off (test).")
        return ack


def test_interrupted_upload_is_resumed_and_replays_change_nothing(
    registry: Registry, hospital_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = hospital_db(*PAIRS, *THIRD_PAIR)
    issued = registry.issue("H-RESUME")
    cfg = registry.config(tmp_path, "H-RESUME", issued, batch_size=1)
    lossy = LoseAnswers(lose=2)
    with pytest.raises(CommandError, match="broke off"):
        run(db, cfg, send=lossy)
    # Batches keep each pair (a group) together: three batches of two.
    # Batch 1 acknowledged; batch 2 stored by the registry but its answer lost;
    # batch 3 made and stored here, never sent.
    assert len(held(registry, "H-RESUME")) == 4
    states = local(db, "SELECT state FROM phms.registry_upload_batch")
    assert sorted(r[0] for r in states) == ["acknowledged", "pending", "pending"]
    assert local(db, "SELECT count(*) FROM phms.registry_upload_patient")[0][0] == 2
    status = status_lines(db, capsys)
    assert "broke off" in status and "Waiting to be resent: 2 batch(es)" in status

    message = run(db, cfg)
    assert "2 interrupted batch(es) resent" in message
    assert len(held(registry, "H-RESUME")) == 6
    assert batch_count(registry, "H-RESUME") == 3  # batch 2 was applied once, not twice
    pending = "SELECT count(*) FROM phms.registry_upload_batch WHERE state = 'pending'"
    assert local(db, pending)[0][0] == 0
    assert local(db, "SELECT count(*) FROM phms.registry_upload_patient")[0][0] == 6
    assert "Nothing changed" in run(db, cfg)

    # A batch replayed byte for byte: acknowledged again, nothing changes.
    payload, sha = lossy.sent[0]
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)
    before = held(registry, "H-RESUME")
    ack = rc.send_batch(cfg.endpoint, context, payload, sha)
    assert ack.replayed
    assert held(registry, "H-RESUME") == before and batch_count(registry, "H-RESUME") == 3
    # The same batch ID with other content is refused.
    body = json.loads(payload)
    body["patients"][0]["status"] = "deceased"
    other = canonical_json(body)
    with pytest.raises(rc.RegistryRefused) as refused:
        rc.send_batch(cfg.endpoint, context, other, sha256_hex(other))
    assert refused.value.code == "batch_id_reused"
    assert held(registry, "H-RESUME") == before


def test_upload_cut_off_by_a_timeout_is_resumed_without_doubles(
    registry: Registry, hospital_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real interruption: the registry takes longer than the sender waits (it is held
    at its per-hospital lock), the sender gives up; the registry then stores the batch
    anyway. The next run sends the same batch again: acknowledged, applied once."""
    db = hospital_db(*PAIRS)
    cfg = registry.config(tmp_path, "H-SLOW", registry.issue("H-SLOW"), timeout_seconds=2)
    holder = registry.engine()
    with holder.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(hashtext('H-SLOW'))"))
        with pytest.raises(CommandError, match="did not answer within 2 s"):
            run(db, cfg)
        assert batch_count(registry, "H-SLOW") == 0  # still waiting at the registry
        conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext('H-SLOW'))"))
    holder.dispose()
    deadline = time.monotonic() + 20
    while batch_count(registry, "H-SLOW") == 0:  # the registry finishes what it started
        assert time.monotonic() < deadline, "the registry never stored the batch"
        time.sleep(0.1)
    assert len(held(registry, "H-SLOW")) == 4
    pending = local(db, "SELECT count(*) FROM phms.registry_upload_batch WHERE state = 'pending'")
    assert pending[0][0] == 1
    assert "Waiting to be resent: 1 batch(es)" in status_lines(db, capsys)

    said: list[str] = []
    message = run(db, cfg, say=said.append)
    assert "1 interrupted batch(es) resent" in message
    assert any("acknowledged again (it had arrived before)" in line for line in said)
    assert batch_count(registry, "H-SLOW") == 1 and len(held(registry, "H-SLOW")) == 4
    assert local(db, "SELECT count(*) FROM phms.registry_upload_patient")[0][0] == 4


def test_wrong_and_revoked_certificates_and_passphrase(
    registry: Registry, hospital_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phms_registry import pki

    db = hospital_db(*PAIRS[:2])
    # A certificate made by another CA, for the right hospital ID.
    stranger_ca = tmp_path / "stranger-ca"
    pki.create_ca(stranger_ca, "Not the registry")
    foreign = pki.issue_hospital(stranger_ca, tmp_path / "foreign", "H-CERT", PASSPHRASE)
    cfg = registry.config(tmp_path / "a", "H-CERT", foreign)
    with pytest.raises(CommandError, match=r"did not accept"):
        run(db, cfg)

    issued = registry.issue("H-CERT")
    wrong = registry.config(tmp_path / "b", "H-CERT", issued, passphrase=b"not the passphrase")
    with pytest.raises(CommandError, match="Wrong passphrase"):
        run(db, wrong)

    good = registry.config(tmp_path / "c", "H-CERT", issued)
    assert "Sent 1 batch" in run(db, good)
    assert main(["registry-upload", "--status", "--url", db.url_for("t_admin")]) == 0
    out = capsys.readouterr().out
    assert "Wrong passphrase" in out and "an upload has succeeded since" in out

    from phms_registry.cli import main as registry_main

    assert registry_main(["hospital", "revoke", issued.serial, "--db", registry.db_url]) == 0
    with pytest.raises(CommandError, match="revoked"):
        run(db, good)
    assert batch_count(registry, "H-CERT") == 1
    assert len(held(registry, "H-CERT")) == 2


def test_expired_or_not_yet_valid_certificate(
    registry: Registry, hospital_db: Any, tmp_path: Path
) -> None:
    db = hospital_db(*PAIRS[:2])
    now = dt.datetime.now(dt.UTC)
    expired = registry.issue(
        "H-OLD", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
    )
    cfg = registry.config(tmp_path / "old", "H-OLD", expired)
    with pytest.raises(CommandError, match="expired on"):
        run(db, cfg)
    # Past the sender's own check, the registry's TLS refuses it too.
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)
    with pytest.raises(rc.RegistryError, match=r"did not accept"):
        rc.hello(cfg.endpoint, context)

    future = registry.issue(
        "H-OLD", not_before=now + dt.timedelta(days=2), not_after=now + dt.timedelta(days=30)
    )
    with pytest.raises(CommandError, match="not valid yet"):
        run(db, registry.config(tmp_path / "new", "H-OLD", future))
    assert batch_count(registry, "H-OLD") == 0
    errors = local(db, "SELECT message FROM phms.registry_upload_run WHERE NOT ok")
    assert len(errors) == 2


def test_hospital_id_mismatch(registry: Registry, hospital_db: Any, tmp_path: Path) -> None:
    db = hospital_db(*PAIRS[:2])
    issued = registry.issue("H-MINE")
    cfg = registry.config(tmp_path, "H-OTHER", issued)
    with pytest.raises(CommandError, match="does not match the certificate"):
        run(db, cfg)
    # The registry checks it too: a batch for another hospital under this certificate.
    body = {
        "format": "phms-registry-batch/1",
        "export_format": "phms-registry-export/2",
        "batch_id": str(uuid.uuid4()),
        "hospital_id": "H-OTHER",
        "generated_on": dt.date.today().isoformat(),
        "ph_only": True,
        "dates_shifted": False,
        "birth_year_band": 1,
        "patients": [],
        "removed": [],
    }
    payload = canonical_json(body)
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)
    with pytest.raises(rc.RegistryRefused) as refused:
        rc.send_batch(cfg.endpoint, context, payload, sha256_hex(payload))
    assert refused.value.code == "hospital_mismatch"
    assert "issued to 'H-MINE'" in refused.value.reason
    logged = registry.query(
        "SELECT batch_id FROM registry.refusal WHERE hospital_id = 'H-MINE'"
        " AND code = 'hospital_mismatch'"
    )
    assert [r.batch_id for r in logged] == [body["batch_id"]]
    assert batch_count(registry, "H-MINE") == batch_count(registry, "H-OTHER") == 0


def test_batch_outside_the_format_is_refused_whole(
    registry: Registry, hospital_db: Any, tmp_path: Path
) -> None:
    db = hospital_db(*PAIRS[:2])
    cfg = registry.config(tmp_path, "H-FORMAT", registry.issue("H-FORMAT"))
    lossy = LoseAnswers(lose=0)
    run(db, cfg, send=lossy)
    body = json.loads(lossy.sent[0][0])
    body["batch_id"] = str(uuid.uuid4())
    body["patients"][0]["status"] = "transferred"
    body["patients"][1]["family_name"] = "Smith"  # not in the export format
    payload = canonical_json(body)
    context = rc.ssl_context(cfg.endpoint, PASSPHRASE)
    before = held(registry, "H-FORMAT")
    with pytest.raises(rc.RegistryRefused, match=r"patients\[1\].*family_name") as refused:
        rc.send_batch(cfg.endpoint, context, payload, sha256_hex(payload))
    assert refused.value.code == "schema"
    assert held(registry, "H-FORMAT") == before  # not even the valid first patient changed
    with pytest.raises(rc.RegistryRefused, match="does not match its hash"):
        rc.send_batch(cfg.endpoint, context, payload, "0" * 64)
