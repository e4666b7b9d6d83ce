"""phms-admin backup run|verify|restore|drill|list|keygen."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from phms_admin import backup, backup_crypto
from phms_admin.connection import CommandError, resolve_url
from phms_admin.pgtools import Target, pg_errors

URL_HELP = (
    "database URL of a superuser (default: PHMS_DATABASE_URL, else the local embedded server)"
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backup", help="back up, verify, restore and drill the database")
    cmds = p.add_subparsers(dest="backup_command", required=True, metavar="COMMAND")

    run = cmds.add_parser("run", help="take a backup (pg_dump + roles + manifest)")
    run.add_argument("--dest", type=Path, required=True, help="folder that holds the backups")
    run.add_argument(
        "--keep-days",
        type=int,
        default=backup.DEFAULT_KEEP_DAYS,
        help="remove backups older than this many days, never the newest (default %(default)s)",
    )
    run.add_argument(
        "--copy-to", type=Path, help="also copy the backup here (off-site), checked by checksum"
    )
    _key_arg(run, "encrypt the backup with the key in this file")
    run.set_defaults(handler=_guarded(cmd_run))

    verify = cmds.add_parser("verify", help="check a backup's checksums and that it is readable")
    verify.add_argument("path", type=Path, help="a backup folder (phms-...)")
    _key_arg(verify)
    verify.set_defaults(handler=_guarded(cmd_verify))

    restore = cmds.add_parser("restore", help="restore a backup as a database (and its roles)")
    restore.add_argument("path", type=Path, help="a backup folder (phms-...)")
    restore.add_argument("--database", required=True, help="name of the database to restore to")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace the database if it exists (only after the restore has succeeded)",
    )
    restore.add_argument(
        "--no-roles", action="store_true", help="do not create the backed-up logins and groups"
    )
    _key_arg(restore)
    restore.set_defaults(handler=_guarded(cmd_restore))

    drill = cmds.add_parser(
        "drill", help="restore the newest backup into a scratch database and compare row counts"
    )
    drill.add_argument("--dest", type=Path, help="folder that holds the backups")
    _key_arg(drill)
    drill.set_defaults(handler=_guarded(cmd_drill))

    lst = cmds.add_parser("list", help="list the complete backups in a folder")
    lst.add_argument("--dest", type=Path, help="folder that holds the backups")
    lst.set_defaults(handler=_guarded(cmd_list))

    keygen = cmds.add_parser("keygen", help="create a new backup encryption key file (0600)")
    keygen.add_argument("file", type=Path)
    keygen.set_defaults(handler=_guarded(cmd_keygen))

    for cmd in (run, restore, drill, lst):
        cmd.add_argument("--url", help=URL_HELP)
    for cmd in (run, verify, restore, drill):
        cmd.add_argument(
            "--pg-bin",
            type=Path,
            help="folder of pg_dump/pg_restore (default: PATH or the embedded server's)",
        )


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with pg_errors():
            return handler(args)

    return run


def _key_arg(p: argparse.ArgumentParser, text: str = "key file of an encrypted backup") -> None:
    p.add_argument("--encrypt-key-file", type=Path, metavar="FILE", help=text)


def _key(args: argparse.Namespace) -> Fernet | None:
    path: Path | None = args.encrypt_key_file
    return backup_crypto.load_key(path) if path else None


def _target(args: argparse.Namespace) -> Target:
    return Target.from_url(resolve_url(args.url))


def _dest(args: argparse.Namespace, target: Target | None) -> Path:
    if args.dest:
        return Path(args.dest)
    default = backup.embedded_backup_dir(target) if target else None
    if default is None:
        raise CommandError("Pass --dest DIR: the folder that holds the backups.")
    return default


def cmd_run(args: argparse.Namespace) -> int:
    result = backup.run_backup(
        _target(args),
        Path(args.dest),
        keep_days=args.keep_days,
        copy_to=args.copy_to,
        key=_key(args),
        pg_bin=args.pg_bin,
    )
    counts = result.manifest["row_counts"]
    print(
        f"{len(counts)} tables, {sum(counts.values())} rows, schema revision "
        f"{result.manifest['schema_revision']}"
        + (", encrypted" if result.manifest["encryption"] else "")
        + "."
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    backup.verify_backup(Path(args.path), key=_key(args), pg_bin=args.pg_bin)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    backup.restore_backup(
        _target(args),
        Path(args.path),
        args.database,
        force=args.force,
        key=_key(args),
        pg_bin=args.pg_bin,
        roles=not args.no_roles,
    )
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    target = _target(args)
    rows = backup.drill(target, _dest(args, target), key=_key(args), pg_bin=args.pg_bin)
    width = max([len(r.table) for r in rows] + [5])
    print(f"{'TABLE':<{width}}  {'BACKUP':>9}  {'RESTORED':>9}  {'LIVE NOW':>9}")

    def num(n: int | None) -> str:
        return "-" if n is None else str(n)

    for r in rows:
        note = "" if r.ok else "  <-- DIFFERS"
        if r.ok and r.live != r.backup:
            note = "  (changed since the backup)"
        print(
            f"{r.table:<{width}}  {num(r.backup):>9}  {num(r.restored):>9}  {num(r.live):>9}{note}"
        )
    bad = [r for r in rows if not r.ok]
    if not rows:
        raise CommandError("The backup holds no table of the schemas phms and audit.")
    if bad:
        raise CommandError(
            f"Drill FAILED: {len(bad)} table(s) did not restore with the rows of the backup."
        )
    print(
        "Drill passed: every table of phms and audit was restored with exactly the rows the "
        "live database had when the backup was taken; the scratch database is dropped."
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    dest = _dest(args, None if args.dest else _target(args))
    paths = backup.list_backups(dest)
    if not paths:
        print(f"No complete backup in {dest}.")
        return 0
    for path in paths:
        m = backup.read_manifest(path)
        size = sum(f["size"] for f in m["files"].values())
        print(
            f"{path.name}  revision {m['schema_revision']}  {size / 1e6:8.1f} MB"
            + ("  encrypted" if m.get("encryption") else "")
        )
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    backup_crypto.generate_key_file(Path(args.file))
    print(
        f"New backup key in {args.file}. Keep a copy somewhere safe away from the server: "
        "without it the encrypted backups cannot be restored."
    )
    return 0
