"""phms-admin db check|upgrade: the database's schema revision."""

from __future__ import annotations

import argparse

from phms_admin import migrate
from phms_admin.connection import CommandError, connect, resolve_url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="schema revision of the database")
    cmds = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    check = cmds.add_parser("check", help="is the database at the revision this code expects?")
    check.set_defaults(handler=cmd_check)
    upgrade = cmds.add_parser("upgrade", help="apply all migrations (alembic upgrade head)")
    upgrade.set_defaults(handler=cmd_upgrade)
    for p in (check, upgrade):
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
    url = resolve_url(args.url)
    with connect(url) as conn:
        before = migrate.current_revision(conn)
    migrate.upgrade(url)
    with connect(url) as conn:
        after = migrate.current_revision(conn)
    print(f"Database upgraded from {before or 'empty'} to {after}.")
    return 0
