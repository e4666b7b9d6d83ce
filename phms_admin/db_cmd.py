"""phms-admin db check|upgrade|min-client-version: the database's schema revision and
the client versions it accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from phms_admin import backup_crypto, client_window, migrate, upgrade
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
    window = cmds.add_parser(
        "min-client-version",
        help="show or set the oldest PHMS version that may log in, and where to get PHMS",
        description="Without VERSION: show the oldest PHMS version the database accepts. "
        "With VERSION: set it (refused if newer than this phms-admin's own version, or "
        "older than the database's migrations need, unless --force).",
    )
    window.add_argument("version", nargs="?", metavar="VERSION", help="e.g. 0.2.0")
    window.add_argument(
        "--where",
        metavar="TEXT",
        help="where staff get PHMS (a web address or shared folder; '' clears it), shown "
        "to a workstation that is too old",
    )
    window.add_argument(
        "--force", action="store_true", help="set VERSION even outside the sane range"
    )
    window.set_defaults(handler=cmd_min_client_version)
    for p in (check, up, window):
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


def cmd_min_client_version(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn:
        said = []
        if args.version is not None:
            said.append(client_window.set_minimum(conn, args.version, force=args.force))
        elif args.force:
            raise CommandError("--force goes with a VERSION to set.")
        if args.where is not None:
            said.append(client_window.set_download_hint(conn, args.where))
        said.append(client_window.describe(client_window.read(conn)))
    print("\n".join(said))
    return 0
