"""The registry's own side: the cohort over several hospitals, its command, its checks."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from phms_admin.connection import CommandError
from phms_admin.registry_upload_cmd import read_passphrase, upload
from phms_registry import pki
from phms_registry.cli import main as registry_main
from phms_registry.store import cohort
from tests.harness import PgDatabase
from tests.registry.conftest import Registry

HOSPITAL_A = [
    {"born": 1950, "sex": "female", "group": 1, "who_fc": 3, "followup": True},
    {"born": 1950, "sex": "female", "group": 1, "who_fc": 3},
    {"born": 1950, "sex": "female", "group": 1, "who_fc": 2, "followup": True},
    {"born": 1966, "sex": "male", "group": 3, "who_fc": 2, "followup": True},
    {"born": 1966, "sex": "male", "group": 3, "who_fc": 2},
]
HOSPITAL_B = [
    {"born": 1950, "sex": "female", "group": 1, "who_fc": 3},
    {"born": 1950, "sex": "female", "group": 1, "who_fc": 3},
    {"born": 1975, "sex": "male", "group": 1, "who_fc": 2, "followup": True},
    {"born": 1975, "sex": "male", "group": 1, "who_fc": 2},
]

LOCAL_COHORT = """
SELECT p.ph_group,
       (SELECT r.risk_stratum FROM phms.assessment_risk r
          JOIN phms.assessment_risk_at_diagnosis d USING (assessment_id)
         WHERE r.patient_id = p.id AND r.risk_stratum IS NOT NULL AND NOT d.at_diagnosis
         ORDER BY r.study_date DESC LIMIT 1) AS risk_stratum
  FROM phms.patient p WHERE p.ph_group IS NOT NULL"""


def local_cohort(db: PgDatabase) -> Counter[tuple[int | None, int | None]]:
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = Counter((r.ph_group, r.risk_stratum) for r in conn.execute(sa.text(LOCAL_COHORT)))
    engine.dispose()
    return rows


def test_cohort_of_two_hospitals_adds_up(
    registry: Registry,
    hospital_db: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sites = {"H-COHORT-A": hospital_db(*HOSPITAL_A), "H-COHORT-B": hospital_db(*HOSPITAL_B)}
    for hospital_id, db in sites.items():
        cfg = registry.config(tmp_path / hospital_id, hospital_id, registry.issue(hospital_id))
        assert "Sent 1 batch" in upload(db.url_for("t_admin"), cfg, read_passphrase(cfg))

    engine = sa.create_engine(registry.db_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = cohort(conn)
    engine.dispose()
    per_hospital: dict[str, Counter[tuple[int | None, int | None]]] = {}
    total: Counter[tuple[int | None, int | None]] = Counter()
    for hospital, group, risk, n in rows:
        if hospital is None:
            total[(group, risk)] += n
        elif hospital in sites:
            per_hospital.setdefault(hospital, Counter())[(group, risk)] += n
    # Each hospital's rows are exactly what its own database says ...
    for hospital_id, db in sites.items():
        expected = local_cohort(db)
        assert per_hospital[hospital_id] == expected
        assert sum(expected.values()) == len(
            HOSPITAL_A if hospital_id.endswith("A") else HOSPITAL_B
        )
    # ... and the ALL rows are the sum over every hospital the registry holds.
    everyone: Counter[tuple[int | None, int | None]] = Counter()
    for hospital, group, risk, n in rows:
        if hospital is not None:
            everyone[(group, risk)] += n
    assert total == everyone
    both = per_hospital["H-COHORT-A"] + per_hospital["H-COHORT-B"]
    assert all(total[k] >= v for k, v in both.items())
    assert len({k for k in both}) >= 3  # several groups and strata, not one lump

    assert registry_main(["cohort", "--db", registry.db_url]) == 0
    out = capsys.readouterr().out
    assert "H-COHORT-A" in out and "ALL" in out
    assert registry_main(["hospital", "list", "--db", registry.db_url]) == 0
    listing = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert listing["H-COHORT-A"][3:5] == ["1", "5"]  # one batch, five patients
    assert listing["H-COHORT-B"][3:5] == ["1", "4"]
    assert registry_main(["batches", "--hospital-id", "H-COHORT-B", "--db", registry.db_url]) == 0
    assert "patients=4 removed=0" in capsys.readouterr().out


def test_registry_command_issues_and_revokes(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pass_file = tmp_path / "pass"
    pass_file.write_text("a long enough passphrase\n")
    argv = ["hospital", "issue", "H-CLI", "--ca-dir", str(registry.ca_dir),
            "--out-dir", str(tmp_path / "out"), "--passphrase-file", str(pass_file),
            "--db", registry.db_url]  # fmt: skip
    assert registry_main(argv) == 0
    out = capsys.readouterr().out
    serial = out.split("Issued certificate ", 1)[1].split()[0]
    key = next((tmp_path / "out").glob("*.key"))
    assert key.stat().st_mode & 0o077 == 0
    assert b"ENCRYPTED" in key.read_bytes()
    rows = registry.query(
        "SELECT hospital_id, revoked_at FROM registry.certificate WHERE serial = :s", s=serial
    )
    assert [(r.hospital_id, r.revoked_at) for r in rows] == [("H-CLI", None)]
    assert registry_main(["hospital", "revoke", serial, "--db", registry.db_url]) == 0
    assert registry_main(["hospital", "revoke", serial, "--db", registry.db_url]) == 1
    assert "No valid certificate" in capsys.readouterr().err
    # A short passphrase, or a CA that is not there, is a plain error.
    pass_file.write_text("short\n")
    assert registry_main(argv) == 1
    assert "at least 8" in capsys.readouterr().err
    with pytest.raises(pki.PkiError, match="already holds a CA"):
        pki.create_ca(registry.ca_dir)


def test_registry_unreachable_is_logged(
    registry: Registry, hospital_db: Any, tmp_path: Path
) -> None:
    from phms_admin import embedded

    db = hospital_db({"born": 1950, "sex": "female", "group": 1})
    cfg = registry.config(tmp_path, "H-DOWN", registry.issue("H-DOWN"))
    port = embedded.free_port()
    nowhere = cfg.endpoint.__class__(
        f"https://localhost:{port}", cfg.endpoint.ca_file, cfg.endpoint.cert_file,
        cfg.endpoint.key_file,
    )  # fmt: skip
    down = cfg.__class__(**{**cfg.__dict__, "endpoint": nowhere})
    with pytest.raises(CommandError, match="cannot be reached"):
        upload(db.url_for("t_admin"), down, read_passphrase(down))
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        run = conn.execute(
            sa.text("SELECT ok, message, finished_at FROM phms.registry_upload_run")
        ).one()
    engine.dispose()
    assert run.ok is False and "cannot be reached" in run.message
    assert run.finished_at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def test_one_upload_at_a_time(registry: Registry, hospital_db: Any, tmp_path: Path) -> None:
    from phms_client.services.registry_upload import UPLOAD_LOCK_KEY

    db = hospital_db(*[{"born": 1950, "sex": "male", "group": 5}] * 2)
    cfg = registry.config(tmp_path, "H-LOCK", registry.issue("H-LOCK"))
    engine = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as other:
        other.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": UPLOAD_LOCK_KEY})
        with pytest.raises(CommandError, match="Another registry upload is running"):
            upload(db.url_for("t_admin"), cfg, read_passphrase(cfg))
        other.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": UPLOAD_LOCK_KEY})
    engine.dispose()
    assert "Sent 1 batch" in upload(db.url_for("t_admin"), cfg, read_passphrase(cfg))


def test_serve_command_runs_the_service(registry: Registry, tmp_path: Path) -> None:
    """What the operator runs: 'phms-registry serve', reached with a hospital certificate."""
    import subprocess
    import sys
    import time

    from phms_admin import embedded
    from phms_admin import registry_client as rc
    from tests.registry.conftest import PASSPHRASE

    tls = tmp_path / "tls"
    crt, key = pki.issue_server(registry.ca_dir, tls, ["localhost"])
    port = embedded.free_port()
    argv = [sys.executable, "-m", "phms_registry", "serve", "--db", registry.db_url,
            "--cert", str(crt), "--key", str(key), "--ca", str(registry.ca_dir / pki.CA_FILE),
            "--host", "127.0.0.1", "--port", str(port), "--k", "7"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        issued = registry.issue("H-SERVE")
        endpoint = rc.Endpoint(f"https://localhost:{port}", registry.ca_dir / pki.CA_FILE,
                               issued.cert_path, issued.key_path)  # fmt: skip
        context = rc.ssl_context(endpoint, PASSPHRASE)
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = rc.hello(endpoint, context)
                break
            except rc.RegistryError:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        assert answer == {"hospital_id": "H-SERVE", "k_threshold": 7}
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "Traceback" not in output, output
