"""phms-admin server init|start|stop|status: the embedded local server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import sqlalchemy as sa

from phms_admin import embedded, migrate
from phms_admin.connection import CommandError, connect
from phms_client.services import staff

DATABASE = "phms"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = sub.add_parser("server", help="the embedded local PostgreSQL server")
    cmds = server.add_subparsers(dest="server_command", required=True, metavar="COMMAND")
    init = cmds.add_parser("init", help="create (or start) the local server with a PHMS database")
    _data_dir_arg(init)
    init.add_argument("--port", type=int, help="TCP port (default: a free one)")
    init.add_argument(
        "--listen",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1). The embedded server has no "
        "TLS: a network address is refused unless --insecure-plaintext-network is "
        "given; for a network use installer/server/setup-server.sh",
    )
    init.add_argument(
        "--insecure-plaintext-network",
        action="store_true",
        help="allow a network --listen address WITHOUT encryption (closed test networks "
        "only); staff only, never the superuser, may then log in from the network",
    )
    init.add_argument("--admin", default="admin", help="name of the first admin login")
    init.set_defaults(handler=cmd_init)
    for name, handler, text in (
        ("start", cmd_start, "start the local server"),
        ("stop", cmd_stop, "stop the local server"),
        ("status", cmd_status, "say whether the local server runs (exit 3 if not)"),
    ):
        p = cmds.add_parser(name, help=text)
        _data_dir_arg(p)
        p.set_defaults(handler=handler)


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"server data folder (default {embedded.default_data_dir()})",
    )


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or embedded.default_data_dir()).expanduser().resolve()


def _wrap(exc: embedded.ServerError) -> CommandError:
    return CommandError(str(exc))


def _warn_if_on_network(listen: str) -> None:
    warning = embedded.network_warning(listen)
    if warning:
        print(warning, file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    try:
        if embedded.is_initialised(data_dir):
            info = embedded.start(data_dir)
            _warn_if_on_network(info.listen)
            print(
                f"A PHMS server already exists in {data_dir}; started it (nothing was "
                f"changed). Port {info.port}."
            )
            return 0
        embedded.check_listen(args.listen, plaintext_network=args.insecure_plaintext_network)
        _warn_if_on_network(args.listen)
        info = embedded.initdb(
            data_dir,
            port=args.port,
            listen=args.listen,
            plaintext_network=args.insecure_plaintext_network,
        )
        embedded.start(data_dir)
    except embedded.ServerError as exc:
        raise _wrap(exc) from exc
    with connect(info.url("postgres"), autocommit=True) as conn:
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    migrate.upgrade(info.url(DATABASE))
    password = os.environ.get("PHMS_ADMIN_PASSWORD") or staff.generate_password()
    with connect(info.url(DATABASE)) as conn:
        try:
            staff.create(conn, args.admin, "admin", password)
        except staff.PasswordPolicyError as exc:
            raise CommandError(f"PHMS_ADMIN_PASSWORD: {exc}") from exc
    print(f"PHMS server ready in {data_dir}, listening on {info.listen}:{info.port}.")
    print(f"First admin login: {args.admin}")
    if "PHMS_ADMIN_PASSWORD" not in os.environ:
        print(f"Password (shown once, write it down): {password}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    try:
        info = embedded.start(_data_dir(args))
    except embedded.ServerError as exc:
        raise _wrap(exc) from exc
    _warn_if_on_network(info.listen)
    print(f"Server running on {info.listen}:{info.port}.")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    try:
        embedded.stop(_data_dir(args))
    except embedded.ServerError as exc:
        raise _wrap(exc) from exc
    print("Server stopped.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    if not embedded.is_initialised(data_dir):
        print(f"No server in {data_dir}.")
        return 3
    if embedded.status(data_dir):
        info = embedded.read_info(data_dir)
        print(f"Running on {info.listen}:{info.port} (data in {data_dir}).")
        return 0
    print(f"Stopped (data in {data_dir}).")
    return 3
