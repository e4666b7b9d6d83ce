"""phms-admin problems list: the reports staff sent with Help > Report a problem."""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session

from phms_admin.connection import connect, resolve_url
from phms_client.services.about import list_problems


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    problems = sub.add_parser("problems", help="problem reports sent from the client")
    cmds = problems.add_subparsers(dest="problems_command", required=True, metavar="COMMAND")
    lst = cmds.add_parser("list", help="newest reports first: id, when, who, version, text")
    lst.add_argument("--limit", type=int, default=100, help="how many (default 100)")
    lst.add_argument("--url", help="database URL of an admin login (default: PHMS_DATABASE_URL)")
    lst.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn, Session(bind=conn) as session:
        reports = list_problems(session, limit=args.limit)
    if not reports:
        print("No problem reports.")
        return 0
    width = max([len(r.reported_by) for r in reports] + [3])
    version_width = max([len(r.client_version) for r in reports] + [7])
    when_width = max(len(r.reported_at) for r in reports)
    print(
        f"{'ID':>5}  {'WHEN':<{when_width}}  {'WHO':<{width}}  "
        f"{'VERSION':<{version_width}}  DESCRIPTION"
    )
    for r in reports:
        when = r.reported_at.replace("T", " ")
        text = " ".join(r.description.split())  # one line per report
        print(
            f"{r.id:>5}  {when:<{when_width}}  {r.reported_by:<{width}}  "
            f"{r.client_version:<{version_width}}  {text}"
        )
    return 0
