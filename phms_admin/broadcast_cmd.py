"""phms-admin broadcast MESSAGE: tell every connected PHMS client something now."""

from __future__ import annotations

import argparse

from phms_admin import broadcast
from phms_admin.connection import resolve_url
from phms_admin.pgtools import Target, pg_errors


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("broadcast", help="show a message in every connected PHMS client")
    p.add_argument("message", help='e.g. "The server restarts at 18:00; please save your work."')
    p.add_argument("--url", help="database URL (default: PHMS_DATABASE_URL or the local server)")
    p.set_defaults(handler=cmd_broadcast)


def cmd_broadcast(args: argparse.Namespace) -> int:
    message = broadcast.check_message(args.message)
    with pg_errors(), Target.from_url(resolve_url(args.url)).connect(autocommit=True) as conn:
        broadcast.send(conn, message)
    print(f"Sent to every connected PHMS client: {message}")
    return 0
