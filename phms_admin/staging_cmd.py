"""phms-admin staging create|drop|list: a copy of the clinic to try things on.

    phms-admin staging create (--from-backup PATH | --latest [--backup-dir DIR])
                              [--database NAME] [--replace] [--de-identify]
                              [--encrypt-key-file FILE] [--pg-bin DIR]
                              [--url URL | --server-dir DIR]

The copy goes to the server of ``--url`` (default: PHMS_DATABASE_URL, else the
local embedded server) or to the embedded server in ``--server-dir`` (a separate
server: its logins are its own). See docs/admin-guide.md, "Try a release on a
staging copy".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from phms_admin import backup, backup_crypto, embedded, staging
from phms_admin.connection import CommandError, resolve_url
from phms_admin.pgtools import Target, pg_errors

URL_HELP = (
    "database URL of a superuser on the live server (default: PHMS_DATABASE_URL, else the "
    "local embedded server)"
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "staging",
        help="a marked copy of the clinic (from a backup) to try a release or train on",
    )
    cmds = p.add_subparsers(dest="staging_command", required=True, metavar="COMMAND")

    create = cmds.add_parser(
        "create",
        help="restore a backup as the staging copy (every client shows a STAGING band)",
        description="Restore a backup into a separate database marked as staging: every "
        "PHMS window says STAGING, and backups and registry exports refuse to run there.",
    )
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-backup", type=Path, metavar="PATH", help="a backup folder")
    source.add_argument("--latest", action="store_true", help="the newest complete backup")
    create.add_argument(
        "--backup-dir",
        type=Path,
        metavar="DIR",
        help="where --latest looks (default: the local embedded server's backups, else "
        f"{staging.SERVER_BACKUP_DIR})",
    )
    create.add_argument(
        "--database",
        help="name of the copy; must contain 'staging' (default: the live database's name "
        f"with _staging, e.g. {staging.DEFAULT_DATABASE})",
    )
    create.add_argument(
        "--replace", action="store_true", help="make an existing staging copy again"
    )
    create.add_argument(
        "--de-identify",
        action="store_true",
        help="replace names, IDs, contact details and free text with consistent made-up "
        "ones (clinical values, dates and relations stay)",
    )
    create.add_argument(
        "--encrypt-key-file",
        type=Path,
        metavar="FILE",
        help=f"key of an encrypted backup (default {staging.SERVER_BACKUP_KEY} if present)",
    )
    create.add_argument(
        "--pg-bin", type=Path, help="folder of pg_restore (default: PATH or embedded)"
    )
    create.set_defaults(handler=cmd_create)

    drop = cmds.add_parser("drop", help="drop a staging copy (never a database without the mark)")
    drop.add_argument(
        "--database", help=f"the copy (default {staging.DEFAULT_DATABASE}, as for create)"
    )
    drop.set_defaults(handler=cmd_drop)

    lst = cmds.add_parser("list", help="list the staging copies on the server")
    lst.set_defaults(handler=cmd_list)

    for cmd in (create, drop, lst):
        where = cmd.add_mutually_exclusive_group()
        where.add_argument("--url", help=URL_HELP)
        where.add_argument(
            "--server-dir",
            type=Path,
            metavar="DIR",
            help="put the copy on the embedded server in DIR instead (made with "
            "'phms-admin server init --data-dir DIR --port N'; its logins are its own)",
        )


def _live(args: argparse.Namespace) -> Target:
    return Target.from_url(resolve_url(args.url))


def _server(args: argparse.Namespace) -> Target:
    """The server the copy goes to (or is on)."""
    if args.server_dir is None:
        return _live(args)
    folder = Path(args.server_dir).expanduser().resolve()
    if not embedded.is_initialised(folder):
        raise CommandError(
            f"No embedded server in {folder}: make one with "
            f"'phms-admin server init --data-dir {folder} --port N'."
        )
    try:
        info = embedded.start(folder)
    except embedded.ServerError as exc:
        raise CommandError(str(exc)) from exc
    return Target.from_url(info.url("postgres"))


def cmd_create(args: argparse.Namespace) -> int:
    if args.backup_dir is not None and not args.latest:
        raise CommandError("--backup-dir goes with --latest.")
    if args.latest:
        live = _live(args) if args.backup_dir is None else Target()
        path = backup.latest_backup(staging.backup_folder(args.backup_dir, live))
    else:
        path = Path(args.from_backup).expanduser()
    path = path.absolute()
    with pg_errors():
        key = backup_crypto.load_key(args.encrypt_key_file) if args.encrypt_key_file else None
        key = staging.backup_key(path, key, print)
        target = _server(args)
        result = staging.create(
            target,
            staging.Request(
                backup=path,
                database=args.database or staging.default_name(target.dbname),
                replace=args.replace,
                de_identify=args.de_identify,
                key=key,
                pg_bin=args.pg_bin,
            ),
        )
    rows = sum(result.counts.values())
    where = target.with_database(result.database).describe()
    print(
        f"Staging copy {result.database!r} is ready ({where})"
        f": backup {path.name}, schema revision {result.schema_revision}, {rows} rows"
        + (
            f", de-identified in {result.summary.seconds:.1f} s ({result.summary.patients} "
            "patients)"
            if result.summary
            else ""
        )
        + "."
    )
    print(
        f"Workstations reach it with the database set to {result.database} (Options > "
        "Settings); every window then shows a STAGING band. Backups and registry exports "
        f"refuse to run on it. Try a release with: phms-admin db upgrade --url "
        f"<URL of {result.database}>"
    )
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    with pg_errors():
        target = _server(args)
        name = args.database or staging.default_name(target.dbname)
        staging.drop(target, name)
    print(f"Staging copy {name!r} dropped.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with pg_errors():
        copies = staging.listing(_server(args))
    if not copies:
        print("No staging copy on this server.")
    for name, comment in sorted(copies.items()):
        print(f"{name}  {comment}")
    return 0
