"""phms-admin db upgrade: back up, warn the clients, migrate, check no row was lost.

Alembic runs all pending migrations in one transaction (migrations/env.py), so
a failed upgrade leaves the database at the revision it had; the command says
so, with the revision read back from the database, and prints the command that
restores the backup taken just before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet

from phms_admin import backup, broadcast, client_window, migrate, staging_mark, upgrade_report
from phms_admin.connection import CommandError, describe_db_error
from phms_admin.pgtools import Target, describe_pg_error


@dataclass(frozen=True)
class Plan:
    backup_dest: Path | None
    no_backup: bool = False
    key: Fernet | None = None
    key_file: Path | None = None
    pg_bin: Path | None = None
    lock_timeout: str = "10s"


#: Tables whose rows may rightly become fewer while clients work or a migration
#: runs: the value tally folds its deltas (each Error Check) and is recounted.
MAY_SHRINK: Final = frozenset({"phms.value_tally"})


def lost_rows(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Tables that existed before and now hold fewer rows (or are gone)."""
    return [
        f"{table}: {n} rows before, "
        + (f"{after[table]} after" if table in after else "the table is gone")
        for table, n in sorted(before.items())
        if after.get(table, 0) < n and not (table in MAY_SHRINK and table in after)
    ]


def _revision(target: Target) -> str | None:
    with target.connect() as conn:
        exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
        if exists == (None,):
            return None
        row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
        return str(row[0]) if row else None


def _send(target: Target, message: str) -> None:
    with target.connect(autocommit=True) as conn:
        broadcast.send(conn, message)


def _restore_hint(path: Path | None, target: Target, plan: Plan) -> str:
    if path is None:
        return "No backup was taken (--no-backup)."
    extra = f" --encrypt-key-file {plan.key_file}" if plan.key_file else ""
    return (
        "To go back to the backup taken just before the upgrade, run:\n"
        f"  phms-admin backup restore {path} --database {target.dbname} --force{extra}\n"
        "(with the same --url or PHMS_DATABASE_URL as this command)."
    )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.DBAPIError):
        return describe_db_error(exc)
    if isinstance(exc, psycopg.Error):
        return describe_pg_error(exc)
    return f"{type(exc).__name__}: {exc}"


def run_upgrade(url: str, plan: Plan, *, say: Callable[[str], None] = print) -> str:
    """Upgrade the database at ``url`` to head; return the final revision."""
    target = Target.from_url(url)
    head = migrate.head_revision()
    before = _revision(target)
    if before == head:
        say(f"Database is already at revision {head}; nothing to do.")
        client_window.after_upgrade(url, say)  # (e.g. after a plain `alembic upgrade`)
        return head
    with target.connect() as conn:
        counts_before = backup.table_counts(conn)
        on_staging = staging_mark.is_staging(conn)

    taken: Path | None = None
    if before is None:
        say("The database has no PHMS schema yet: nothing to back up.")
    elif on_staging:
        say(
            "This is a staging copy: no backup is taken (backups refuse staging copies; "
            "make the copy again from a backup with 'phms-admin staging create --replace')."
        )
    elif plan.no_backup:
        say("WARNING: upgrading without a backup (--no-backup).")
    else:
        dest = plan.backup_dest or backup.embedded_backup_dir(target)
        if dest is None:
            raise CommandError(
                "Upgrading a server other than the local embedded one needs a backup folder: "
                "pass --backup-dest DIR (or --no-backup to upgrade without a backup, which "
                "is not recommended)."
            )
        say(f"Taking a backup before the upgrade into {dest} ...")
        taken = backup.run_backup(
            target, dest, keep_days=None, key=plan.key, pg_bin=plan.pg_bin, log=say
        ).path

    if before is not None:
        _send(
            target,
            f"PHMS maintenance: the database is being upgraded now (revision {before} to "
            f"{head}). Please save your work; PHMS may pause for a few minutes.",
        )
    clock = upgrade_report.StepClock()
    started = time.monotonic()
    try:
        migrate.upgrade(url, lock_timeout=plan.lock_timeout, step_clock=clock)
    except Exception as exc:
        try:
            now = _revision(target)
        except CommandError as read_error:
            state = f"Its revision could not be read back ({read_error})."
        else:
            if now == before:
                state = (
                    f"The database is still at revision {before or '(empty)'}: the migrations "
                    "run in one transaction, so nothing of the failed upgrade was applied and "
                    "PHMS can keep working as before."
                )
                if before is not None:
                    _send(
                        target,
                        "PHMS maintenance: the upgrade did not happen; nothing changed, "
                        "you can keep working.",
                    )
            else:
                state = f"The database is now at revision {now} (it was {before})."
        raise CommandError(
            f"The upgrade to {head} failed: {_error_text(exc)}\n{state}\n"
            + _restore_hint(taken, target, plan)
        ) from exc

    migrated = time.monotonic()
    after = _revision(target)
    with target.connect() as conn:
        counts_after = backup.table_counts(conn)
    lost = lost_rows(counts_before, counts_after)
    upgrade_report.report(
        say, clock, migrated - started, migrated, counts_before, counts_after, lost, MAY_SHRINK
    )
    if lost:
        raise CommandError(
            f"The database is now at revision {after}, but rows are missing after the "
            "upgrade:\n  " + "\n  ".join(lost) + "\n" + _restore_hint(taken, target, plan)
        )
    if before is not None:
        _send(
            target,
            f"PHMS maintenance finished: the database is at revision {after}. "
            "If PHMS asks for a newer version, install it before logging in again.",
        )
    say(
        f"Database upgraded from {before or 'empty'} to {after}; every table that existed "
        f"before still has all its rows ({len(counts_before)} tables checked)."
    )
    client_window.after_upgrade(url, say)  # raises the oldest client version if needed
    return str(after)
