"""phms-admin staging: a marked copy of the clinic from a backup, on the real test server.

Real backups (pg_dump), real restores (pg_restore), the real CLI; the copies are
databases of the test server, dropped afterwards.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import embedded, staging
from phms_admin.connection import CommandError
from phms_admin.pgtools import Target
from phms_client.db.environment import OnStaging, is_staging
from phms_client.services import registry_export
from tests.harness import PgDatabase
from tests.ops.helpers import drop_database, live_counts, patients_digest, run

Capsys = pytest.CaptureFixture[str]


def take_backup(db: PgDatabase, dest: Path, capsys: Capsys) -> Path:
    code, out, err = run(["backup", "run", "--dest", str(dest), "--url", db.admin_url], capsys)
    assert code == 0, err
    return Path(out.split("Backup complete: ")[1].splitlines()[0])


@pytest.fixture
def copy_name(clinic: PgDatabase) -> Iterator[str]:
    """A unique staging name on the test server; the copy is dropped afterwards."""
    name = f"phms_staging_{uuid.uuid4().hex[:8]}"
    yield name
    drop_database(clinic, name)


def copy_of(clinic: PgDatabase, name: str) -> PgDatabase:
    return PgDatabase(clinic.server, name)


def create(clinic: PgDatabase, capsys: Capsys, *args: str) -> tuple[int, str, str]:
    return run(["staging", "create", "--url", clinic.admin_url, *args], capsys)


def test_a_backup_becomes_a_marked_copy_beside_the_live_database(
    db: PgDatabase, clinic: PgDatabase, copy_name: str, tmp_path: Path, capsys: Capsys
) -> None:
    """(``db``: its staff logins are server-wide, and log in to the copy as they are.)"""
    path = take_backup(clinic, tmp_path, capsys)
    code, out, err = create(clinic, capsys, "--from-backup", str(path), "--database", copy_name)
    assert code == 0, err
    assert f"Staging copy {copy_name!r} is ready" in out
    copy = copy_of(clinic, copy_name)
    # The same data, row for row, in a separate database.
    assert live_counts(copy.admin_url) == live_counts(clinic.admin_url)
    assert patients_digest(copy.admin_url) == patients_digest(clinic.admin_url)
    # Marked in the database itself: every login sees it at once; the live one is not.
    for database, expected in ((copy, True), (clinic, False)):
        engine = database.engine_for("t_clinician")
        with engine.connect() as conn:
            assert is_staging(conn) is expected
        engine.dispose()
    listed = staging.listing(Target.from_url(clinic.admin_url))
    assert path.name in listed[copy_name] and "STAGING" in listed[copy_name]
    assert clinic.name not in listed


def test_latest_takes_the_newest_backup_of_the_folder(
    clinic: PgDatabase, copy_name: str, tmp_path: Path, capsys: Capsys
) -> None:
    take_backup(clinic, tmp_path, capsys)
    engine = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE phms.patient SET phone = '+1 555 0100' WHERE id % 2 = 0"))
    engine.dispose()
    newest = take_backup(clinic, tmp_path, capsys)
    code, out, err = create(
        clinic, capsys, "--latest", "--backup-dir", str(tmp_path), "--database", copy_name
    )
    assert code == 0, err
    assert newest.name in out
    assert patients_digest(copy_of(clinic, copy_name).admin_url) == patients_digest(
        clinic.admin_url
    )


def test_without_a_folder_latest_looks_where_the_installer_puts_backups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "SERVER_BACKUP_DIR", tmp_path / "nowhere")
    remote = Target.from_url("postgresql://postgres@db.clinic.local/phms")
    with pytest.raises(CommandError, match="--backup-dir"):
        staging.backup_folder(None, remote)
    monkeypatch.setattr(staging, "SERVER_BACKUP_DIR", tmp_path)
    assert staging.backup_folder(None, remote) == tmp_path


def test_the_live_database_and_unmarked_ones_are_never_replaced(
    clinic: PgDatabase, copy_name: str, tmp_path: Path, capsys: Capsys
) -> None:
    path = take_backup(clinic, tmp_path, capsys)
    for name, reason in (
        ("phms_copy", "has no 'staging'"),
        (clinic.name, "has no 'staging'"),
        ("Phms Staging", "not a usable database name"),
    ):
        code, _, err = create(clinic, capsys, "--from-backup", str(path), "--database", name)
        assert code == 1 and reason in err, err
    # An existing database without the mark: refused even with --replace.
    engine = sa.create_engine(
        clinic.server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{copy_name}"'))
    engine.dispose()
    args = ("--from-backup", str(path), "--database", copy_name)
    code, _, err = create(clinic, capsys, *args, "--replace")
    assert code == 1 and "is not a staging copy" in err
    drop_database(clinic, copy_name)
    assert create(clinic, capsys, *args)[0] == 0
    # An existing staging copy: only with --replace.
    code, _, err = create(clinic, capsys, *args)
    assert code == 1 and "--replace" in err
    code, _, err = create(clinic, capsys, *args, "--replace")
    assert code == 0, err
    code, _, err = run(
        ["staging", "drop", "--url", clinic.admin_url, "--database", clinic.name], capsys
    )
    assert code == 1 and "not a staging copy" in err
    code, _, err = run(
        ["staging", "drop", "--url", clinic.admin_url, "--database", copy_name], capsys
    )
    assert code == 0, err
    assert copy_name not in staging.listing(Target.from_url(clinic.admin_url))


def test_backups_and_registry_exports_refuse_a_staging_copy(
    db: PgDatabase, clinic: PgDatabase, copy_name: str, tmp_path: Path, capsys: Capsys
) -> None:
    path = take_backup(clinic, tmp_path / "live", capsys)
    assert create(clinic, capsys, "--from-backup", str(path), "--database", copy_name)[0] == 0
    copy = copy_of(clinic, copy_name)

    dest = tmp_path / "from-copy"
    code, _, err = run(["backup", "run", "--dest", str(dest), "--url", copy.admin_url], capsys)
    assert code == 1
    assert f"A backup is refused: the database {copy_name!r} is a STAGING copy" in err
    assert not [p for p in dest.iterdir() if p.name.startswith("phms-")]

    out_file = tmp_path / "registry.json"
    admin_url = copy.url_for("t_admin")
    code, _, err = run(
        ["registry-export", "--out", str(out_file), "--hospital-id", "RBH", "--url", admin_url],
        capsys,
    )
    assert code == 1 and "The registry export is refused" in err and "STAGING" in err
    assert not out_file.exists()
    code, _, err = run(
        [
            "registry-upload",
            "--estimate",
            "--config",
            str(tmp_path / "none.toml"),
            "--url",
            admin_url,
        ],
        capsys,
    )
    assert code == 1 and "The registry upload is refused" in err
    # The client's export (and the key behind it) too: the service itself refuses.
    engine = copy.engine_for("t_admin")
    with Session(engine) as session, pytest.raises(OnStaging, match="STAGING copy"):
        registry_export.registry_secret(session)
    with Session(engine) as session, pytest.raises(OnStaging, match="STAGING copy"):
        registry_export.build_export(session, secret=b"k" * 32, hospital_id="RBH")
    engine.dispose()
    # The live database is not affected.
    code, _, err = run(
        [
            "registry-export",
            "--out",
            str(out_file),
            "--hospital-id",
            "RBH",
            "--min-k",
            "1",
            "--url",
            clinic.url_for("t_admin"),
        ],
        capsys,
    )
    assert code == 0, err


def test_the_default_name_is_the_live_one_with_staging() -> None:
    assert staging.default_name("phms") == "phms_staging"  # what setup-server.sh allows
    assert staging.default_name("clinic") == "clinic_staging"
    assert staging.default_name("postgres") == "phms_staging"  # a server, not a clinic
    assert staging.default_name("phms_staging") == "phms_staging"


def test_a_copy_on_a_separate_server_has_logins_of_its_own(
    db: PgDatabase,
    clinic: PgDatabase,
    tmp_path: Path,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The admin guide's way for a vendor or a trainee: a second embedded server, a
    de-identified copy there, and a login that exists only on that server."""
    path = take_backup(clinic, tmp_path / "backups", capsys)
    # Not under tmp_path, which pytest keeps private (tests.harness.embedded_server).
    folder = Path(tempfile.mkdtemp(prefix="phms-staging-server-"))
    monkeypatch.setenv("PHMS_ADMIN_PASSWORD", "trainer-password-2026")
    port = str(embedded.free_port())
    try:
        code, _, err = run(
            [
                "server",
                "init",
                "--data-dir",
                str(folder / "data"),
                "--port",
                port,
                "--admin",
                "trainer",
            ],
            capsys,
        )
        assert code == 0, err
        code, out, err = run(
            [
                "staging",
                "create",
                "--server-dir",
                str(folder / "data"),
                "--from-backup",
                str(path),
                "--de-identify",
            ],
            capsys,
        )
        assert code == 0, err
        assert "'phms_staging' is ready" in out
        copy = f"postgresql://trainer:trainer-password-2026@127.0.0.1:{port}/phms_staging"
        monkeypatch.setattr(sys, "stdin", io.StringIO("trainee-password-2026\n"))
        code, _, err = run(
            ["user", "add", "trainee1", "--role", "clinician", "--password-stdin", "--url", copy],
            capsys,
        )
        assert code == 0, err
        trainee = sa.create_engine(
            f"postgresql+psycopg://trainee1:trainee-password-2026@127.0.0.1:{port}/phms_staging",
            poolclass=sa.pool.NullPool,
        )
        with trainee.connect() as conn:
            assert is_staging(conn)
            assert conn.execute(sa.text("SELECT count(*) FROM phms.patient")).scalar_one() == 40
        trainee.dispose()
        # The live server's logins were not brought along, and the trainee is not there.
        with Target.from_url(copy).connect() as conn:
            roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
        assert "t_clinician" not in roles and "trainee1" in roles
        live_roles = database_roles(clinic)
        assert "trainee1" not in live_roles and "t_clinician" in live_roles
    finally:
        run(["server", "stop", "--data-dir", str(folder / "data")], capsys)
        shutil.rmtree(folder, ignore_errors=True)


def database_roles(database: PgDatabase) -> set[str]:
    with Target.from_url(database.admin_url).connect() as conn:
        return {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
