"""Client releases on a real server: publish with phms-admin, fetch and install as staff.

The whole path runs for real: ``phms-admin release keygen`` and ``publish`` (as an
admin login), the clinician's workstation asking what to offer, checking the
signature with its site key, reading the bytes in 1 MiB pieces, installing beside
the old version and starting the new program. Every altered, unsigned or cut
release leaves the workstation's versions folder exactly as it was.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from phms_admin import cli, migrate
from phms_client.config import ClientConfig
from phms_client.config_release import ReleaseSettings
from phms_client.db.database import Credentials, Database
from phms_client.services import updates
from phms_client.update.errors import UpdateError
from phms_client.update.install import POINTER, VersionsFolder, launch, restart_command
from phms_schema.client_release import CHUNK_BYTES
from tests.bundles import make_key, write_bundle
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.unit.phms_client.test_update_install import snapshot

LINUX = "linux-x86_64"


@pytest.fixture(autouse=True)
def no_releases_left(admin_engine: sa.Engine) -> Iterator[None]:
    """Other tests log in as these logins and must not be offered an update."""
    yield
    with admin_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM phms.client_release"))
        conn.execute(sa.text("DELETE FROM phms.release_notes_seen"))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path, str]:
    return make_key(tmp_path / "it")


def publish(
    db: PgDatabase,
    keys: tuple[Path, Path, str],
    bundle: Path,
    notes: str = "- Faster search\n- Update now",
    *extra: str,
    user: str = "t_admin",
) -> int:
    key, secret, _public = keys
    notes_file = bundle.parent / f"{bundle.name}.notes.md"
    notes_file.write_text(notes, encoding="utf-8")
    return cli.main(
        ["release", "publish", str(bundle), "--notes", str(notes_file), "--key", str(key),
         "--passphrase-file", str(secret), "--url", db.url_for(user), *extra]
    )  # fmt: skip


def workstation(
    db: PgDatabase, public: str, user: str = "t_clinician", **release: object
) -> Database:
    config = ClientConfig(
        hosts=("127.0.0.1",),
        port=db.server.port,
        database=db.name,
        sslmode="disable",
        connect_timeout=5,
        release=ReleaseSettings(public_key=public, **release),  # type: ignore[arg-type]
    )
    return Database(config, Credentials(user, STAFF_PASSWORD))


def offer(database: Database, client: str = "0.1.0") -> updates.Release:
    with database.session() as s:
        found = updates.after_login(s, client=client, platform=LINUX, offer=True).offer
    assert found is not None
    return found


def install(database: Database, release: updates.Release, folder: VersionsFolder) -> object:
    return updates.install_release(database, release, database.config.release, folder)


# --------------------------------------------------------------------------- the whole path


@pytest.mark.skipif(sys.platform == "win32", reason="the test bundle's program is a shell script")
def test_publish_offer_download_verify_install_restart(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["release", "keygen", str(tmp_path / "new.key"), "--passphrase-file",
                     str(keys[1])]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert 'release_public_key = "' in printed
    assert (tmp_path / "new.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "new.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")

    assert publish(db, keys, write_bundle(tmp_path / "b2", "0.2.0")) == 0
    big = write_bundle(tmp_path / "b3", "0.3.0", padding=CHUNK_BYTES * 2 + 12345)
    assert publish(db, keys, big) == 0
    out = capsys.readouterr().out
    assert "Published PHMS 0.3.0 for linux-x86_64: phms-0.3.0-linux-x86_64.tar.gz" in out
    assert cli.main(["release", "list", "--url", db.url_for("t_admin")]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split()[:2] == ["0.3.0", LINUX] and listed[1].endswith("recommended")
    assert listed[2].split()[:2] == ["0.2.0", LINUX] and not listed[2].endswith("recommended")

    database = workstation(db, keys[2])
    try:
        release = offer(database)
        assert (release.version, release.chunk_count) == ("0.3.0", 3)
        with database.session() as s:  # the newest is never offered to itself or a newer one
            assert updates.update_offer(s, "0.3.0", LINUX) is None
            assert updates.update_offer(s, "0.3.0", "windows-x86_64") is None
        folder = VersionsFolder(tmp_path / "versions", LINUX)
        progress: list[int] = []
        installed = updates.install_release(
            database,
            release,
            database.config.release,
            folder,
            progress=lambda a, _b: progress.append(a),
        )
    finally:
        database.close()
    assert progress[-1] == big.stat().st_size and len(progress) == 3
    assert (folder.root / POINTER).read_text() == "0.3.0\n"
    assert installed == folder.current()
    assert (
        installed.folder / "_internal" / "padding.bin"
    ).stat().st_size == CHUNK_BYTES * 2 + 12345
    launch(restart_command(installed, ["--server", "db"])).wait(timeout=30)
    marker = installed.folder / "started.txt"
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "PHMS 0.3.0 started: --server db\n"


def test_withdrawn_releases_are_not_offered(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish(db, keys, write_bundle(tmp_path / "b2", "0.2.0")) == 0
    assert publish(db, keys, write_bundle(tmp_path / "b3", "0.3.0")) == 0
    assert cli.main(["release", "withdraw", "0.3.0", "--url", db.url_for("t_admin")]) == 0
    assert "PHMS 0.3.0 is no longer offered" in capsys.readouterr().out
    database = workstation(db, keys[2])
    try:
        assert offer(database).version == "0.2.0"
    finally:
        database.close()
    assert cli.main(["release", "list", "--url", db.url_for("t_admin")]) == 0
    listed = capsys.readouterr().out
    assert "withdrawn" in listed.splitlines()[1] and "recommended" in listed.splitlines()[2]
    assert cli.main(["release", "withdraw", "0.3.0", "--url", db.url_for("t_admin")]) == 1
    assert "No release PHMS 0.3.0 is offered" in capsys.readouterr().err


# --------------------------------------------------------------------------- publish refuses


def test_publish_refuses_with_clear_messages(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = write_bundle(tmp_path / "b3", "0.3.0")
    assert publish(db, keys, bundle) == 0
    capsys.readouterr()

    def refused(code: int, message: str) -> None:
        assert code == 1
        err = capsys.readouterr().err
        assert err.startswith("phms-admin: error: ") and message in err, err
        assert "Traceback" not in err

    refused(publish(db, keys, bundle), "PHMS 0.3.0 for linux-x86_64 is published already")
    refused(
        publish(db, keys, write_bundle(tmp_path / "b25", "0.2.5")),
        "PHMS 0.2.5 is not newer than 0.3.0, the version offered for linux-x86_64",
    )
    newer = write_bundle(tmp_path / "b4", "0.4.0")
    refused(
        publish(db, keys, newer, "notes", "--version", "0.4.1"), "says it is PHMS 0.4.0, not 0.4.1"
    )
    refused(publish(db, keys, newer, "  \n"), "is empty; say what changed")
    refused(publish(db, keys, newer, "a\x07b"), "control characters")
    refused(publish(db, keys, newer, user="t_clerk"), "Permission denied")
    refused(publish(db, keys, newer, "notes", "--platform", "Linux!"), "is not a platform name")
    refused(
        publish(db, keys, newer, "notes", "--platform", "windows-x86_64"),
        "The bundle's program is phms: not a windows-x86_64 bundle",
    )
    missing = (tmp_path / "nokey", keys[1], keys[2])
    refused(publish(db, missing, newer), "Cannot read the signing key")
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the passphrase\n")
    refused(publish(db, (keys[0], wrong, keys[2]), newer), "Wrong passphrase")
    os.chmod(keys[0], 0o644)
    refused(publish(db, keys, newer), "can be read by other users")
    os.chmod(keys[0], 0o600)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"junk")
    refused(publish(db, keys, junk), "neither a .tar.gz nor a .zip bundle")
    short = tmp_path / "short.pass"
    short.write_text("short\n")
    refused(
        cli.main(["release", "keygen", str(tmp_path / "k2"), "--passphrase-file", str(short)]),
        "at least 12 characters",
    )
    refused(
        cli.main(["release", "keygen", str(keys[0]), "--passphrase-file", str(keys[1])]),
        "refusing to overwrite a signing key",
    )
    # Nothing of the refused attempts was stored.
    with db.engine_for("t_admin").connect() as conn:
        versions = conn.execute(sa.text("SELECT version FROM phms.client_release")).scalars().all()
    assert versions == ["0.3.0"]


# --------------------------------------------------------------------------- rights and audit


def test_rights_and_audit(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path, admin_engine: sa.Engine
) -> None:
    assert publish(db, keys, write_bundle(tmp_path / "b", "0.3.0")) == 0
    admin, clerk = db.engine_for("t_admin"), db.engine_for("t_clerk")
    try:
        with clerk.connect() as conn:  # every login reads releases and their bytes
            assert conn.execute(sa.text("SELECT count(*) FROM phms.client_release_chunk")).scalar()
        for engine, statement in (
            (clerk, "UPDATE phms.client_release SET withdrawn = true"),
            (admin, "UPDATE phms.client_release SET sha256 = repeat('0', 64)"),
            (admin, "DELETE FROM phms.client_release"),
            (admin, "DELETE FROM phms.client_release_chunk"),
            (admin, "UPDATE phms.client_release_chunk SET data = 'x'"),
            (
                admin,
                "INSERT INTO phms.client_release (version, platform, filename, size_bytes, sha256,"
                " manifest, signature, storage, chunk_count, published_by) VALUES ('9.0', 'a-b',"
                " 'f', 1, repeat('0', 64), '{}', decode(repeat('00', 64), 'hex'), 'share', 0, 'x')",
            ),
        ):
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
                conn.execute(sa.text(statement))
            assert "permission denied" in str(info.value.orig)
        with admin.begin() as conn:
            row = conn.execute(
                sa.text("SELECT published_by, published_at <= now() FROM phms.client_release")
            ).one()
            assert tuple(row) == ("t_admin", True)
        with admin_engine.connect() as conn:
            events = conn.execute(
                sa.text(
                    "SELECT operation, new_values ->> 'version', session_user_name"
                    " FROM audit.event WHERE table_name = 'client_release' ORDER BY id DESC LIMIT 1"
                )
            ).one()
        assert tuple(events) == ("INSERT", "0.3.0", "t_admin")
    finally:
        admin.dispose()
        clerk.dispose()


def test_notes_are_shown_once_per_person(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path
) -> None:
    assert (
        publish(db, keys, write_bundle(tmp_path / "b", "0.3.0"), "# Faster\nSearch is quicker.")
        == 0
    )
    seen = []
    for user in ("t_clinician", "t_clinician", "t_clerk", "t_clerk", "t_clinician"):
        database = workstation(db, keys[2], user)
        try:
            with database.session() as s:
                after = updates.after_login(s, client="0.3.0", platform=LINUX, offer=True)
                again = updates.notes_for(s, "0.3.0", LINUX)
                own = (
                    s.execute(sa.text("SELECT login FROM phms.release_notes_seen")).scalars().all()
                )
        finally:
            database.close()
        assert after.offer is None  # running the newest
        assert again == updates.ReleaseNotes("0.3.0", "# Faster\nSearch is quicker.")
        assert own == [user]  # each login sees only its own rows
        seen.append(after.notes is not None)
    assert seen == [True, False, True, False, False]
    with db.engine_for("t_clerk").connect() as conn, pytest.raises(sa.exc.ProgrammingError):
        conn.execute(
            sa.text("INSERT INTO phms.release_notes_seen (login, version) VALUES ('x', '0.4.0')")
        )


# --------------------------------------------------------------------------- tampering


def test_an_altered_release_changes_nothing(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path, admin_engine: sa.Engine
) -> None:
    bundle = write_bundle(tmp_path / "b2", "0.2.0")
    assert publish(db, keys, bundle) == 0
    assert publish(db, keys, write_bundle(tmp_path / "b3", "0.3.0", padding=CHUNK_BYTES + 10)) == 0
    folder = VersionsFolder(tmp_path / "versions", LINUX)
    database = workstation(db, keys[2])
    try:
        install(database, offer(database, "0.1.0"), folder)  # 0.3.0 installed
        with admin_engine.begin() as conn:  # IT publishes nothing; someone else alters 0.3.0
            conn.execute(
                sa.text("UPDATE phms.client_release SET withdrawn = true WHERE version = '0.3.0'")
            )
            conn.execute(sa.text("DELETE FROM phms.client_release WHERE version = '0.3.0'"))
        assert (
            publish(db, keys, write_bundle(tmp_path / "b4", "0.4.0", padding=CHUNK_BYTES + 10)) == 0
        )
        before = snapshot(folder.root)
        release = offer(database, "0.3.0")
        other_key = make_key(tmp_path / "other")[2]
        cases = {
            "UPDATE phms.client_release_chunk SET data = overlay(data placing '\\x00'::bytea"
            " from 7) WHERE seq = 1": "does not match its checksum",
            "DELETE FROM phms.client_release_chunk WHERE seq = 1": "is incomplete on the server",
            "UPDATE phms.client_release SET notes = 'Nothing'": "does not match what IT signed",
            "UPDATE phms.client_release SET signature = decode(repeat('00', 64), 'hex')": (
                "does not match this clinic's release key"
            ),
            "UPDATE phms.client_release SET size_bytes = size_bytes - 1,"
            " chunk_count = chunk_count": "does not match what IT signed",
        }
        for statement, message in cases.items():
            with admin_engine.connect() as conn:
                conn.begin()
                conn.execute(sa.text(statement))
                conn.commit()
            try:
                with pytest.raises(UpdateError, match=message):
                    install(database, offer(database, "0.3.0"), folder)
                assert snapshot(folder.root) == before
            finally:  # a fresh 0.4.0 for the next case
                with admin_engine.begin() as conn:
                    conn.execute(sa.text("DELETE FROM phms.client_release WHERE version = '0.4.0'"))
                assert (
                    publish(
                        db, keys, write_bundle(tmp_path / "b4", "0.4.0", padding=CHUNK_BYTES + 10)
                    )
                    == 0
                )
        wrong = workstation(db, other_key)
        try:
            with pytest.raises(UpdateError, match="does not match this clinic's release key"):
                install(wrong, offer(wrong, "0.3.0"), folder)
        finally:
            wrong.close()
        unsigned = workstation(db, "")
        try:
            with pytest.raises(UpdateError, match="no release key"):
                install(unsigned, release, folder)
        finally:
            unsigned.close()
        assert snapshot(folder.root) == before
    finally:
        database.close()


def test_a_release_on_the_share(
    db: PgDatabase, keys: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    bundle = write_bundle(tmp_path / "b", "0.3.0", kind="zip")
    assert publish(db, keys, bundle, "notes", "--share", str(share)) == 0
    assert "on " + str(share) in capsys.readouterr().out
    stored = share / "phms-0.3.0-linux-x86_64.zip"
    assert stored.read_bytes() == bundle.read_bytes()
    with db.engine_for("t_admin").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM phms.client_release_chunk")).scalar() == 0
    folder = VersionsFolder(tmp_path / "versions", LINUX)
    nowhere = workstation(db, keys[2])
    try:
        with pytest.raises(UpdateError, match="does not say where that is"):
            install(nowhere, offer(nowhere), folder)
    finally:
        nowhere.close()
    database = workstation(db, keys[2], share=share)
    try:
        release = offer(database)
        data = bytearray(stored.read_bytes())
        data[-30] ^= 0xFF
        stored.write_bytes(bytes(data))
        with pytest.raises(UpdateError, match="does not match its checksum"):
            install(database, release, folder)
        assert not folder.root.exists() or POINTER not in os.listdir(folder.root)
        stored.write_bytes(bundle.read_bytes())
        assert install(database, release, folder) == folder.current()
    finally:
        database.close()


def test_a_database_before_releases_says_so(
    db: PgDatabase, fresh_database: PgDatabase, keys: tuple[Path, Path, str]
) -> None:
    """Before revision 0018 the release tables do not exist: updates and notes say why
    instead of failing. (The gate refuses such a database today, as OLDEST_SCHEMA is
    later; the services must not depend on that. ``db`` made the logins.)"""
    migrate.upgrade(fresh_database.admin_url, "0016")
    database = workstation(fresh_database, keys[2])
    try:
        with database.session() as s, pytest.raises(UpdateError, match="does not keep client"):
            updates.after_login(s, client="0.1.0", platform=LINUX, offer=True)
        with database.session() as s, pytest.raises(UpdateError, match="phms-admin db upgrade"):
            updates.notes_for(s, "0.1.0", LINUX)
    finally:
        database.close()
