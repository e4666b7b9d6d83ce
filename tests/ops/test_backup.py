"""phms-admin backup: real pg_dump/pg_restore against the test server, real files."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from phms_admin import backup, embedded
from tests.harness import PgDatabase
from tests.ops.helpers import (
    database_names,
    drop_database,
    drop_role,
    live_counts,
    new_login,
    only_backup,
    patients_digest,
    run,
)

Capsys = pytest.CaptureFixture[str]


def _backup(db: PgDatabase, dest: Path, capsys: Capsys, *extra: str) -> Path:
    code, out, err = run(
        ["backup", "run", "--dest", str(dest), "--url", db.admin_url, *extra], capsys
    )
    assert code == 0, err
    assert "Backup complete" in out
    return Path(out.split("Backup complete: ")[1].splitlines()[0])


def test_backup_is_complete_private_and_described_by_its_manifest(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    path = _backup(clinic, tmp_path / "b", capsys)
    assert path.parent == tmp_path / "b" and path.name.startswith("phms-")
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "phms.dump", "roles.sql"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".partial-")]
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for file in path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file

    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["database"] == clinic.name
    assert manifest["schema_revision"] == backup.read_manifest(path)["schema_revision"]
    assert manifest["server_version_num"] >= 150000
    # The counts are the live database's, table by table (nothing changed since).
    live = live_counts(clinic.admin_url)
    assert manifest["row_counts"] == live
    assert live["phms.patient"] == 40 and live["audit.event"] > 40
    assert live["audit.chart_access"] == 3
    for name, facts in manifest["files"].items():
        assert facts["size"] == (path / name).stat().st_size
    assert (path / "roles.sql").read_text().count("CREATE ROLE phms_clerk;") == 1


def test_drill_restores_every_row_and_drops_its_scratch_database(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    dest = tmp_path / "b"
    _backup(clinic, dest, capsys)
    code, out, err = run(
        ["backup", "drill", "--dest", str(dest), "--url", clinic.admin_url], capsys
    )
    assert code == 0, err
    lines = {
        line.split()[0]: line.split()[1:4]
        for line in out.splitlines()
        if line[:5] in ("phms.", "audit")
    }
    live = live_counts(clinic.admin_url)
    assert set(lines) == {t for t in live if t.startswith(("phms.", "audit."))}
    for table, (in_backup, restored, now) in lines.items():
        assert in_backup == restored == now == str(live[table]), table
    assert "Drill passed" in out
    assert not [n for n in database_names(clinic) if n.startswith("phms_drill_")]


def test_drill_fails_when_the_restore_differs_from_the_backup(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    dest = tmp_path / "b"
    path = _backup(clinic, dest, capsys)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["row_counts"]["phms.patient"] += 1  # the backup "should" have had one more row
    (path / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = run(
        ["backup", "drill", "--dest", str(dest), "--url", clinic.admin_url], capsys
    )
    assert code == 1
    assert "phms.patient" in out and "DIFFERS" in out
    assert "Drill FAILED: 1 table" in err
    assert not [n for n in database_names(clinic) if n.startswith("phms_drill_")]


def test_drill_reports_tables_that_changed_since_the_backup(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    dest = tmp_path / "b"
    _backup(clinic, dest, capsys)
    engine = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT phms.log_chart_access(1)"))
    engine.dispose()
    code, out, _ = run(["backup", "drill", "--dest", str(dest), "--url", clinic.admin_url], capsys)
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("audit.chart_access")]
    assert line.split()[1:4] == ["3", "3", "4"] and "changed since the backup" in line


def test_restore_has_every_row_and_refuses_to_overwrite_without_force(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    path = _backup(clinic, tmp_path / "b", capsys)
    target = f"{clinic.name}_r"
    url = ["--url", clinic.admin_url]
    try:
        code, out, err = run(["backup", "restore", str(path), "--database", target, *url], capsys)
        assert code == 0, err
        assert "every table with exactly the rows of the backup" in out
        restored_url = clinic.admin_url.rsplit("/", 1)[0] + f"/{target}"
        assert live_counts(restored_url) == live_counts(clinic.admin_url)
        assert patients_digest(restored_url) == patients_digest(clinic.admin_url)
        # Database-level rights came back too: staff groups may connect, PUBLIC may not.
        engine = sa.create_engine(restored_url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            rights = conn.execute(
                sa.text(
                    "SELECT has_database_privilege('phms_clerk', current_database(), 'CONNECT'),"
                    " EXISTS (SELECT FROM pg_database d, aclexplode(d.datacl) a"
                    "  WHERE d.datname = current_database() AND a.grantee = 0)"
                )
            ).one()
        engine.dispose()
        assert tuple(rights) == (True, False)

        # Restoring onto the live database, or onto the restored one, is refused...
        for name in (clinic.name, target):
            code, _, err = run(["backup", "restore", str(path), "--database", name, *url], capsys)
            assert code == 1 and "refusing to overwrite" in err and "--force" in err
        assert patients_digest(clinic.admin_url) == patients_digest(restored_url)

        # ...unless forced: then the database is replaced by the backup's state.
        engine = sa.create_engine(restored_url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM phms.patient WHERE id % 2 = 0"))
        engine.dispose()
        code, _out, err = run(
            ["backup", "restore", str(path), "--database", target, "--force", *url], capsys
        )
        assert code == 0, err
        assert live_counts(restored_url) == live_counts(clinic.admin_url)
        assert not [n for n in database_names(clinic) if n.startswith(f"{target}_restore_")]
    finally:
        drop_database(clinic, target)


def test_restore_recreates_missing_logins_and_leaves_existing_ones_alone(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    gone = new_login(clinic, "clinician", "password-of-the-gone")
    kept = new_login(clinic, "clerk", "old-password-of-kept")
    path = _backup(clinic, tmp_path / "b", capsys)
    target = f"{clinic.name}_roles"
    drop_role(clinic, gone)
    engine = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # changed after the backup: must survive the restore
        conn.execute(sa.text(f"ALTER ROLE {kept} PASSWORD 'new-password-of-kept'"))
    engine.dispose()
    try:
        code, out, err = run(
            ["backup", "restore", str(path), "--database", target, "--url", clinic.admin_url],
            capsys,
        )
        assert code == 0, err
        assert "Roles: 1 created" in out
        host = f"host=127.0.0.1 port={clinic.server.port} dbname={target}"
        with psycopg.connect(f"{host} user={gone} password=password-of-the-gone") as conn:
            row = conn.execute("SELECT pg_has_role('phms_clinician', 'MEMBER')").fetchone()
            assert row == (True,)
        with psycopg.connect(f"{host} user={kept} password=new-password-of-kept") as conn:
            assert conn.execute("SELECT count(*) FROM phms.patient").fetchone() == (40,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"{host} user={kept} password=old-password-of-kept")
    finally:
        drop_database(clinic, target)
        drop_role(clinic, gone)
        drop_role(clinic, kept)


def test_corrupted_backup_fails_verify_and_is_not_restored(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    path = _backup(clinic, tmp_path / "b", capsys)
    code, out, _ = run(["backup", "verify", str(path)], capsys)
    assert code == 0 and "is intact" in out
    dump = path / "phms.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    code, _, err = run(["backup", "verify", str(path)], capsys)
    assert code == 1 and "damaged" in err and "phms.dump: checksum differs" in err
    target = f"{clinic.name}_bad"
    code, _, err = run(
        ["backup", "restore", str(path), "--database", target, "--url", clinic.admin_url], capsys
    )
    assert code == 1 and "damaged" in err
    assert target not in database_names(clinic)


def test_archive_that_pg_restore_cannot_read_fails_verify(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    """Matching checksums are not enough: pg_restore must be able to read the archive."""
    path = _backup(clinic, tmp_path / "b", capsys)
    dump = path / "phms.dump"
    dump.write_bytes(dump.read_bytes()[:200])
    manifest = json.loads((path / "manifest.json").read_text())
    digest, size = backup._sha256(dump)
    manifest["files"]["phms.dump"] = {"sha256": digest, "size": size}
    (path / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(["backup", "verify", str(path)], capsys)
    assert code == 1 and "pg_restore failed" in err and "pg_restore:" in err


def test_missing_manifest_is_not_a_backup(tmp_path: Path, capsys: Capsys) -> None:
    code, _, err = run(["backup", "verify", str(tmp_path)], capsys)
    assert code == 1 and "not a PHMS backup" in err


def test_wrong_url_fails_and_leaves_nothing(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    dest = tmp_path / "b"
    bad = f"postgresql://postgres:wrong-password@127.0.0.1:{clinic.server.port}/{clinic.name}"
    code, out, err = run(["backup", "run", "--dest", str(dest), "--url", bad], capsys)
    assert code == 1 and "password authentication failed" in err
    assert "Backup complete" not in out
    assert list(dest.iterdir()) == []


def test_a_staff_login_cannot_take_a_backup(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    admin = new_login(clinic, "admin", "admin-password-123")
    try:
        url = clinic.url_for(admin, "admin-password-123")
        code, _, err = run(["backup", "run", "--dest", str(tmp_path), "--url", url], capsys)
        assert code == 1 and "needs a PostgreSQL superuser" in err
        assert list(tmp_path.iterdir()) == []
    finally:
        drop_role(clinic, admin)


def test_unusable_destination_fails(clinic: PgDatabase, tmp_path: Path, capsys: Capsys) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    for dest in (a_file, a_file / "below"):
        code, _, err = run(
            ["backup", "run", "--dest", str(dest), "--url", clinic.admin_url], capsys
        )
        assert code == 1 and "backup folder" in err and "Traceback" not in err
    code, _, err = run(
        [
            "backup",
            "run",
            "--dest",
            str(tmp_path / "ok"),
            "--copy-to",
            str(a_file / "x"),
            "--url",
            clinic.admin_url,
        ],
        capsys,
    )
    assert code == 1 and str(a_file / "x") in err


def test_failing_pg_dump_fails_the_backup_with_its_error(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    """A step that fails is never taken for a backup: no folder, the program's own words."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pg_dumpall", "pg_restore"):
        (bin_dir / tool).symlink_to(embedded.bin_dir() / tool)
    fake = bin_dir / "pg_dump"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in --version) echo "pg_dump (PostgreSQL) 18.6"; exit 0;; esac\n'
        'echo "pg_dump: error: disk quota exceeded (simulated)" >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    dest = tmp_path / "b"
    code, out, err = run(
        ["backup", "run", "--dest", str(dest), "--pg-bin", str(bin_dir), "--url", clinic.admin_url],
        capsys,
    )
    assert code == 1
    assert "pg_dump failed (exit 1)" in err and "disk quota exceeded (simulated)" in err
    assert "Backup complete" not in out
    assert list(dest.iterdir()) == []


def test_too_old_pg_bin_is_refused(clinic: PgDatabase, tmp_path: Path, capsys: Capsys) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = bin_dir / "pg_dump"
    old.write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 12.1"\n')
    old.chmod(0o755)
    code, _, err = run(
        [
            "backup",
            "run",
            "--dest",
            str(tmp_path / "b"),
            "--pg-bin",
            str(bin_dir),
            "--url",
            clinic.admin_url,
        ],
        capsys,
    )
    assert code == 1 and "version 12, older than the server's" in err


def _aged_copy(path: Path, days: float, prefix: str = "phms-") -> Path:
    """A copy of a backup folder named as if taken ``days`` ago."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    old = path.parent / f"{prefix}{when.strftime(backup.STAMP)}"
    shutil.copytree(path, old)
    return old


def test_rotation_keeps_the_last_n_days(clinic: PgDatabase, tmp_path: Path, capsys: Capsys) -> None:
    dest = tmp_path / "b"
    first = _backup(clinic, dest, capsys)
    six, four, one = (_aged_copy(first, d) for d in (6, 4, 1))
    stale = _aged_copy(first, 7, prefix=".partial-")  # left by a run that died
    code, out, err = run(
        ["backup", "run", "--dest", str(dest), "--keep-days", "5", "--url", clinic.admin_url],
        capsys,
    )
    assert code == 0, err
    newest = Path(out.split("Backup complete: ")[1].splitlines()[0])
    assert {p.name for p in dest.iterdir()} == {four.name, one.name, first.name, newest.name}
    assert f"Removed old backup {six.name}" in out and stale.name in out


def test_rotation_never_removes_the_newest_backup(tmp_path: Path) -> None:
    dest = tmp_path / "b"
    dest.mkdir()
    names = []
    for days in (30, 20, 10):
        when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        folder = dest / f"phms-{when.strftime(backup.STAMP)}"
        folder.mkdir()
        (folder / backup.MANIFEST).write_text("{}")
        names.append(folder.name)
    unfinished = dest / "phms-20000101T000000Z"  # no manifest: not a backup, never touched
    unfinished.mkdir()
    removed = backup.rotate(dest, 5, log=lambda _m: None)
    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert {p.name for p in dest.iterdir()} == {names[2], unfinished.name}


def test_encrypted_backup_with_off_site_copy(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    key = tmp_path / "backup.key"
    assert run(["backup", "keygen", str(key)], capsys)[0] == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    code, _, err = run(["backup", "keygen", str(key)], capsys)
    assert code == 1 and "refusing to overwrite" in err

    offsite = tmp_path / "offsite"
    path = _backup(
        clinic, tmp_path / "b", capsys, "--encrypt-key-file", str(key), "--copy-to", str(offsite)
    )
    copy = only_backup(offsite)
    assert copy.name == path.name
    assert sorted(p.name for p in copy.iterdir()) == [
        "manifest.json",
        "phms.dump.enc",
        "roles.sql.enc",
    ]
    assert (copy / "phms.dump.enc").read_bytes() == (path / "phms.dump.enc").read_bytes()
    # No patient data and no password hash is readable at rest.
    engine = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT family_name FROM phms.patient")).scalars().all()
    engine.dispose()
    blob = (copy / "phms.dump.enc").read_bytes() + (copy / "roles.sql.enc").read_bytes()
    assert not [n for n in set(names) if n.encode() in blob]
    assert b"SCRAM-SHA-256" not in blob and b"CREATE ROLE" not in blob

    code, _, err = run(["backup", "verify", str(copy)], capsys)
    assert code == 1 and "encrypted; pass --encrypt-key-file" in err
    other = tmp_path / "other.key"
    run(["backup", "keygen", str(other)], capsys)
    code, _, err = run(["backup", "verify", str(copy), "--encrypt-key-file", str(other)], capsys)
    assert code == 1 and "wrong key" in err
    code, out, _ = run(["backup", "verify", str(copy), "--encrypt-key-file", str(key)], capsys)
    assert code == 0 and "is intact" in out

    target = f"{clinic.name}_enc"
    try:
        code, _, err = run(
            [
                "backup",
                "restore",
                str(copy),
                "--database",
                target,
                "--encrypt-key-file",
                str(key),
                "--url",
                clinic.admin_url,
            ],
            capsys,
        )
        assert code == 0, err
        restored_url = clinic.admin_url.rsplit("/", 1)[0] + f"/{target}"
        assert patients_digest(restored_url) == patients_digest(clinic.admin_url)
    finally:
        drop_database(clinic, target)

    key.chmod(0o644)
    code, _, err = run(["backup", "verify", str(copy), "--encrypt-key-file", str(key)], capsys)
    assert code == 1 and "chmod 600" in err


def test_backup_folder_is_private_even_with_a_lax_umask(
    clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    old = os.umask(0)
    try:
        path = _backup(clinic, tmp_path / "b", capsys)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()} == {0o600}
