"""phms-admin db upgrade (backup, broadcast, migrate, row check) and phms-admin broadcast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from migrations.env_lock import MIGRATION_LOCK_KEY
from phms_admin import backup, migrate, upgrade
from phms_admin.broadcast import BROADCAST_CHANNEL
from phms_admin.pgtools import Target
from tests.harness import PgDatabase
from tests.ops.helpers import fill_clinic, live_counts, only_backup, run

Capsys = pytest.CaptureFixture[str]


def previous_revision() -> str:
    """The revision before head: what a clinic runs when a new PHMS version arrives."""
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    head = script.get_revision(migrate.head_revision())
    assert head is not None and isinstance(head.down_revision, str), "needs two revisions"
    return head.down_revision


@contextmanager
def listening(database: PgDatabase) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A client's LISTEN connection on the broadcast channel."""
    with Target.from_url(database.admin_url).connect(autocommit=True) as conn:
        conn.execute(f"LISTEN {BROADCAST_CHANNEL}")
        yield conn


def received(conn: psycopg.Connection[tuple[object, ...]], n: int) -> list[str]:
    return [note.payload for note in conn.notifies(timeout=5, stop_after=n)]


def revision_of(database: PgDatabase) -> str | None:
    with Target.from_url(database.admin_url).connect() as conn:
        row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
        return str(row[0]) if row else None


@pytest.fixture
def old_clinic(fresh_database: PgDatabase) -> PgDatabase:
    """A clinic's database one release behind, with patients and audit rows."""
    migrate.upgrade(fresh_database.admin_url, previous_revision())
    fill_clinic(fresh_database)
    return fresh_database


def test_broadcast_reaches_a_listening_client(db: PgDatabase, capsys: Capsys) -> None:
    message = "The server restarts at 18:00; please save your work. – IT"
    with listening(db) as client:
        code, out, _ = run(["broadcast", message, "--url", db.url_for("t_admin")], capsys)
        assert code == 0 and message in out
        notes = list(client.notifies(timeout=5, stop_after=1))
    assert [(n.channel, n.payload) for n in notes] == [(BROADCAST_CHANNEL, message)]


@pytest.mark.parametrize(("message", "error"), [("  ", "empty"), ("x" * 8000, "too long")])
def test_broadcast_refuses_unusable_messages(
    db: PgDatabase, capsys: Capsys, message: str, error: str
) -> None:
    code, _, err = run(["broadcast", message, "--url", db.admin_url], capsys)
    assert code == 1 and error in err


def test_upgrade_backs_up_warns_clients_and_keeps_every_row(
    old_clinic: PgDatabase, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = live_counts(old_clinic.admin_url)
    # The local embedded server's own backups folder is the default destination.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    info_dir = tmp_path / "phms" / "server"
    info_dir.mkdir(parents=True)
    info = old_clinic.server
    (info_dir / "phms-server.json").write_text(
        json.dumps(
            {
                "port": info.port,
                "listen": "127.0.0.1",
                "superuser": "postgres",
                "password": info.password,
            }
        )
    )
    with listening(old_clinic) as client:
        code, out, err = run(["db", "upgrade", "--url", old_clinic.admin_url], capsys)
        assert code == 0, err
        messages = received(client, 2)
    head = migrate.head_revision()
    assert revision_of(old_clinic) == head
    assert f"upgraded from {previous_revision()} to {head}" in out
    assert "still has all its rows" in out

    taken = only_backup(tmp_path / "phms" / "backups")
    manifest = backup.read_manifest(taken)
    assert manifest["schema_revision"] == previous_revision()
    assert manifest["row_counts"] == before
    assert "being upgraded" in messages[0] and "save your work" in messages[0]
    assert "finished" in messages[1] and head in messages[1]
    after = live_counts(old_clinic.admin_url)
    assert all(after[t] >= n for t, n in before.items())

    code, out, _ = run(["db", "upgrade", "--url", old_clinic.admin_url], capsys)
    assert code == 0 and "nothing to do" in out
    assert len(list((tmp_path / "phms" / "backups").iterdir())) == 1


def test_failed_upgrade_says_where_the_database_is_and_how_to_restore(
    old_clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    prev = previous_revision()
    dest = tmp_path / "backups"
    # Another migration holds the migration lock: ours gives up after the lock timeout.
    with (
        Target.from_url(old_clinic.admin_url).connect() as blocker,
        listening(old_clinic) as client,
    ):
        blocker.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        code, _, err = run(
            [
                "db",
                "upgrade",
                "--url",
                old_clinic.admin_url,
                "--backup-dest",
                str(dest),
                "--lock-timeout",
                "1s",
            ],
            capsys,
        )
        messages = received(client, 2)
    assert code == 1
    taken = only_backup(dest)
    assert "lock timeout" in err
    assert f"still at revision {prev}" in err and "nothing of the failed upgrade was applied" in err
    assert f"phms-admin backup restore {taken} --database {old_clinic.name} --force" in err
    assert revision_of(old_clinic) == prev
    assert "being upgraded" in messages[0] and "did not happen" in messages[1]


def test_upgrade_of_another_server_needs_a_backup_folder(
    old_clinic: PgDatabase, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # no local embedded server here
    code, _, err = run(["db", "upgrade", "--url", old_clinic.admin_url], capsys)
    assert code == 1 and "--backup-dest DIR" in err and "--no-backup" in err
    assert revision_of(old_clinic) == previous_revision()

    code, out, err = run(["db", "upgrade", "--url", old_clinic.admin_url, "--no-backup"], capsys)
    assert code == 0, err
    assert "without a backup" in out and revision_of(old_clinic) == migrate.head_revision()


def test_upgrade_with_a_failing_backup_does_not_migrate(
    old_clinic: PgDatabase, tmp_path: Path, capsys: Capsys
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    code, _, err = run(
        ["db", "upgrade", "--url", old_clinic.admin_url, "--backup-dest", str(a_file)], capsys
    )
    assert code == 1 and "backup folder" in err
    assert revision_of(old_clinic) == previous_revision()


def test_lost_rows_names_every_table_that_shrank_or_vanished() -> None:
    before = {"phms.patient": 10, "audit.event": 50, "phms.old": 3, "phms.empty": 0}
    after = {"phms.patient": 9, "audit.event": 51, "phms.new": 1}
    assert upgrade.lost_rows(before, after) == [
        "phms.old: 3 rows before, the table is gone",
        "phms.patient: 10 rows before, 9 after",
    ]


def test_lost_rows_allows_the_value_tally_to_fold() -> None:
    """Each Error Check folds the tally's deltas into fewer rows: not a loss."""
    before = {"phms.value_tally": 500, "phms.patient": 10}
    assert upgrade.lost_rows(before, {"phms.value_tally": 20, "phms.patient": 10}) == []
    assert upgrade.lost_rows(before, {"phms.patient": 10}) == [
        "phms.value_tally: 500 rows before, the table is gone"
    ]
