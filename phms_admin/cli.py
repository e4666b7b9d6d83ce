"""phms-admin: the command line for IT and admins."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import sqlalchemy as sa

from phms_admin import (
    backup_cmd,
    broadcast_cmd,
    db_cmd,
    demo,
    problems_cmd,
    registry_cmd,
    registry_upload_cmd,
    release_cmd,
    server_cmd,
    staging_cmd,
    user_cmd,
)
from phms_admin.connection import CommandError, describe_db_error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phms-admin",
        description="Administer PHMS: local server, staff logins, schema, demo data.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        server_cmd,
        user_cmd,
        db_cmd,
        backup_cmd,
        broadcast_cmd,
        problems_cmd,
        registry_cmd,
        registry_upload_cmd,
        release_cmd,
        staging_cmd,
        demo,
    ):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as exc:
        if args.debug:
            raise
        print(f"phms-admin: error: {exc}", file=sys.stderr)
    except sa.exc.DBAPIError as exc:
        if args.debug:
            raise
        print(f"phms-admin: error: {describe_db_error(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("phms-admin: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, traceback only with --debug
        if args.debug:
            raise
        print(
            f"phms-admin: unexpected error ({type(exc).__name__}: {exc}); "
            "run again with --debug and report it.",
            file=sys.stderr,
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
