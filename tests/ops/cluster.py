"""A primary and a streaming-replication hot standby, from the embedded binaries.

The primary listens on 127.0.0.1 and the standby on 127.0.0.2, on the same port:
that is the shape of a real clinic (two servers, one port), which is all the
client's configuration can express (``hosts = ["a", "b"]``, one ``port``), and
both addresses are loopback. The standby is made with ``pg_basebackup -R`` over
a replication slot and streams from the primary until ``promote()``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from phms_admin import embedded, migrate
from phms_client.config import ClientConfig
from phms_client.services import staff
from tests.harness import STAFF, STAFF_PASSWORD

PRIMARY_HOST = "127.0.0.1"
STANDBY_HOST = "127.0.0.2"
DATABASE = "phms"
SLOT = "phms_standby"


def _as_server_user(args: list[str], *, env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL program as the embedded server's system user when we are root."""
    kwargs: dict[str, object] = {}
    if os.geteuid() == 0:
        kwargs = {"user": embedded.SYSTEM_USER, "cwd": "/"}
    proc = subprocess.run(
        [str(embedded.bin_dir() / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
        **kwargs,  # type: ignore[call-overload]
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
    return str(proc.stdout)


def _can_bind(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class PrimaryStandby:
    """Two servers of one clinic. Index 0 is the first primary, 1 the standby."""

    hosts: tuple[str, str]
    port: int
    superuser_password: str
    data_dirs: tuple[Path, Path]
    database: str = DATABASE

    def superuser_conninfo(self, index: int, database: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.hosts[index],
            port=self.port,
            user=embedded.SUPERUSER,
            password=self.superuser_password,
            dbname=database or self.database,
            connect_timeout=5,
        )

    def client_config(self) -> ClientConfig:
        """What a workstation's client.toml would say: both hosts, one port."""
        return ClientConfig(hosts=self.hosts, port=self.port, database=self.database)

    def client_conninfo(self, user: str, password: str = STAFF_PASSWORD) -> dict[str, str | int]:
        """The client's own connection parameters (target_session_attrs=read-write)."""
        return self.client_config().conninfo_kwargs(user, password)

    def is_running(self, index: int) -> bool:
        return embedded.status(self.data_dirs[index])

    def wait_replicated(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.superuser_conninfo(0), autocommit=True) as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
            assert row is not None
            target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.superuser_conninfo(1), autocommit=True) as standby:
            while True:
                row = standby.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if row and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not catch up with the primary")
                time.sleep(0.1)

    def stop_primary(self) -> None:
        """The primary dies (fast shutdown: connections are cut)."""
        embedded.stop(self.data_dirs[0])

    def promote(self) -> None:
        """Make the standby the new primary (``pg_ctl promote``, waits until it accepts writes)."""
        _as_server_user(["pg_ctl", "promote", "-D", str(self.data_dirs[1]), "-w", "-t", "60"])


@contextmanager
def primary_and_standby() -> Iterator[PrimaryStandby]:
    base = Path(tempfile.mkdtemp(prefix="phms-ha-"))
    primary_dir, standby_dir = base / "primary", base / "standby"
    try:
        port = embedded.free_port(PRIMARY_HOST)
        if not _can_bind(STANDBY_HOST, port):
            raise RuntimeError(f"cannot listen on {STANDBY_HOST}:{port} (needs Linux loopback)")
        # pg_hba.conf already lets all of 127.0.0.0/8 in, replication included.
        info = embedded.initdb(primary_dir, port=port, listen=PRIMARY_HOST)
        embedded.start(primary_dir)
        _create_clinic(info)

        standby_dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(standby_dir, user=embedded.SYSTEM_USER, group=embedded.SYSTEM_USER)
        _as_server_user(
            [
                "pg_basebackup",
                "-D",
                str(standby_dir),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "-C",
                "-S",
                SLOT,
                "-d",
                f"host={PRIMARY_HOST} port={port} user={embedded.SUPERUSER}",
            ],
            env={"PGPASSWORD": info.password},
        )
        with (standby_dir / "postgresql.conf").open("a") as f:
            f.write(f"listen_addresses = '{STANDBY_HOST}'\n")
        raw = json.loads((standby_dir / embedded.INFO_FILE).read_text())
        (standby_dir / embedded.INFO_FILE).write_text(json.dumps({**raw, "listen": STANDBY_HOST}))
        embedded.start(standby_dir)

        pair = PrimaryStandby(
            hosts=(PRIMARY_HOST, STANDBY_HOST),
            port=port,
            superuser_password=info.password,
            data_dirs=(primary_dir, standby_dir),
        )
        _wait_streaming(pair)
        yield pair
    finally:
        for folder in (standby_dir, primary_dir):
            with suppress(embedded.ServerError):
                embedded.stop(folder)
        shutil.rmtree(base, ignore_errors=True)


def _create_clinic(info: embedded.ServerInfo) -> None:
    engine = sa.create_engine(
        info.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    engine.dispose()
    migrate.upgrade(info.url(DATABASE))
    engine = sa.create_engine(info.url(DATABASE), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        existing = {m.name for m in staff.list_staff(conn)}
        for name, group in STAFF.items():
            if name not in existing:
                staff.create(conn, name, group, STAFF_PASSWORD)
    engine.dispose()


def _wait_streaming(pair: PrimaryStandby, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(pair.superuser_conninfo(0), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                ).fetchone()
            if row and row[0] == 1:
                return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the standby did not start streaming from the primary")
        time.sleep(0.2)
