"""phms-admin db check|upgrade: the database's schema revision."""

from __future__ import annotations

import argparse
from pathlib import Path

from phms_admin import backup_crypto, migrate, upgrade
from phms_admin.connection import CommandError, connect, resolve_url
from phms_admin.pgtools import pg_errors


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="schema revision of the database")
    cmds = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    check = cmds.add_parser("check", help="is the database at the revision this code expects?")
    check.set_defaults(handler=cmd_check)
    up = cmds.add_parser(
        "upgrade", help="back up, warn the clients, apply all migrations, check no row was lost"
    )
    up.add_argument(
        "--backup-dest",
        type=Path,
        help="folder for the backup taken first (default for the local embedded server: "
        "'backups' beside its data; required for other servers)",
    )
    up.add_argument("--no-backup", action="store_true", help="upgrade without taking a backup")
    up.add_argument("--encrypt-key-file", type=Path, metavar="FILE", help="encrypt the backup")
    up.add_argument("--pg-bin", type=Path, help="folder of pg_dump (default: PATH or embedded)")
    up.add_argument(
        "--lock-timeout", default="10s", help="give up waiting for a lock after (default 10s)"
    )
    up.set_defaults(handler=cmd_upgrade)
    for p in (check, up):
        p.add_argument("--url", help="database URL (default: PHMS_DATABASE_URL)")


def cmd_check(args: argparse.Namespace) -> int:
    expected = migrate.expected_revision()
    with connect(resolve_url(args.url)) as conn:
        actual = migrate.current_revision(conn)
    if actual == expected:
        print(f"Database is at revision {actual}, as this version of PHMS expects.")
        return 0
    if actual is None:
        raise CommandError(
            f"The database has no PHMS schema yet; run 'phms-admin db upgrade' "
            f"(expected revision {expected})."
        )
    raise CommandError(
        f"The database is at revision {actual}, but this version of PHMS expects {expected}. "
        "Run 'phms-admin db upgrade' if the database is older, or install the matching "
        "PHMS version if it is newer."
    )


def cmd_upgrade(args: argparse.Namespace) -> int:
    if args.no_backup and (args.backup_dest or args.encrypt_key_file):
        raise CommandError("--no-backup contradicts --backup-dest/--encrypt-key-file.")
    key_file = args.encrypt_key_file
    plan = upgrade.Plan(
        backup_dest=args.backup_dest,
        no_backup=args.no_backup,
        key=backup_crypto.load_key(key_file) if key_file else None,
        key_file=key_file,
        pg_bin=args.pg_bin,
        lock_timeout=args.lock_timeout,
    )
    with pg_errors():
        upgrade.run_upgrade(resolve_url(args.url), plan)
    return 0
