"""phms-admin user ...: staff logins (one PostgreSQL role each)."""

from __future__ import annotations

import argparse
import getpass
import sys

from phms_admin import password_check
from phms_admin.connection import CommandError, connect, resolve_url
from phms_client.services import staff
from phms_schema.roles import GROUPS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="staff logins")
    cmds = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = cmds.add_parser("add", help="create a staff login in one group")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=sorted(GROUPS), help="staff group")
    _password_args(add)
    add.set_defaults(handler=cmd_add)
    lst = cmds.add_parser("list", help="list staff logins with group and state")
    lst.set_defaults(handler=cmd_list)
    for name, handler, text in (
        ("disable", cmd_disable, "stop a login from logging in (keeps its history)"),
        ("enable", cmd_enable, "allow a disabled login again"),
    ):
        p = cmds.add_parser(name, help=text)
        p.add_argument("name")
        p.set_defaults(handler=handler)
    reset = cmds.add_parser("reset-password", help="set a new password for a login")
    reset.add_argument("name")
    _password_args(reset)
    reset.set_defaults(handler=cmd_reset_password)
    group = cmds.add_parser("set-role", help="move a login to another group")
    group.add_argument("name")
    group.add_argument("--role", required=True, choices=sorted(GROUPS))
    group.set_defaults(handler=cmd_set_role)
    check = cmds.add_parser(
        "password-check",
        help="find passwords set outside PHMS (superuser, on the server); exit 1 if any",
    )
    check.set_defaults(handler=cmd_password_check)
    for p in (
        add,
        lst,
        reset,
        group,
        check,
        *(cmds.choices[n] for n in ("disable", "enable")),
    ):
        p.add_argument("--url", help="database URL (default: PHMS_DATABASE_URL)")


def _password_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password, and whether it was generated (and must be shown)."""
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise CommandError("No password on standard input.")
        return line, False
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat password: "):
            raise CommandError("The two passwords differ; nothing was changed.")
        return first, False
    return staff.generate_password(), True


def _policy(exc: staff.PasswordPolicyError) -> CommandError:
    return CommandError(f"{exc} Nothing was changed.")


def cmd_add(args: argparse.Namespace) -> int:
    password, generated = _password(args)
    with connect(resolve_url(args.url)) as conn:
        try:
            staff.create(conn, args.name, args.role, password)
        except staff.PasswordPolicyError as exc:
            raise _policy(exc) from exc
    print(f"Created {args.name} ({args.role}).")
    if generated:
        print(f"Password (shown once): {password}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn:
        members = staff.list_staff(conn)
    width = max([len(m.name) for m in members] + [4])
    print(f"{'NAME':<{width}}  {'GROUP':<9}  STATE")
    for m in members:
        print(f"{m.name:<{width}}  {m.group:<9}  {'enabled' if m.enabled else 'disabled'}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn:
        staff.set_enabled(conn, args.name, False)
    print(f"Disabled {args.name}.")
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn:
        staff.set_enabled(conn, args.name, True)
    print(f"Enabled {args.name}.")
    return 0


def cmd_reset_password(args: argparse.Namespace) -> int:
    password, generated = _password(args)
    with connect(resolve_url(args.url)) as conn:
        try:
            staff.reset_password(conn, args.name, password)
        except staff.PasswordPolicyError as exc:
            raise _policy(exc) from exc
    print(f"New password set for {args.name}.")
    if generated:
        print(f"Password (shown once): {password}")
    return 0


def cmd_set_role(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn:
        staff.set_group(conn, args.name, args.role)
    print(f"{args.name} is now in group {args.role}.")
    return 0


def cmd_password_check(args: argparse.Namespace) -> int:
    with connect(resolve_url(args.url)) as conn:
        try:
            states = password_check.password_states(conn)
        except password_check.NeedsSuperuser as exc:
            raise CommandError(str(exc)) from exc
    width = max([len(s.name) for s in states] + [4])
    print(f"{'NAME':<{width}}  PASSWORD")
    for s in states:
        last = ""
        if s.last_at is not None:
            when = f"{s.last_at:%Y-%m-%d %H:%M}"
            last = f" (last through PHMS: {s.last_event} by {s.last_by}, {when})"
        print(f"{s.name:<{width}}  {s.origin.value}{last}")
    outside = [s.name for s in states if s.origin is password_check.Origin.OUTSIDE]
    if outside:
        print(
            f"\n{len(outside)} login(s) set their password outside PHMS, so its length was "
            "never checked: reset it (phms-admin user reset-password NAME); they choose a "
            "new one at their next login.",
            file=sys.stderr,
        )
        return 1
    return 0
