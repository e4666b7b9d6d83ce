"""The embedded server on a network (``--insecure-plaintext-network``), tried from a network.

Two real network clients, no simulation of pg_hba:

- a client in a network namespace of its own, joined to this machine by a veth pair:
  to the kernel and to PostgreSQL a second computer on the clinic's network;
- a client dialling this machine's own non-loopback address, which PostgreSQL sees as
  coming from that address (not loopback), exactly as it sees a workstation.

From both, the superuser and the owner must be refused by pg_hba.conf (even with the
right password), a login outside the staff groups too, and replication; a staff member
gets in (without TLS: that is what the flag means). Over loopback the superuser still
works, which is how PHMS's own tools reach it.

Needs Linux with ``ip``; the namespace needs root. Elsewhere the tests skip, except in
CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from phms_admin import embedded
from phms_admin.cli import main
from phms_client.services import staff

ADMIN, ADMIN_PASSWORD = "net_boss", "network-admin-password-2026"
STRANGER_PASSWORD = "stranger-password-2026"


@dataclass(frozen=True)
class NetworkServer:
    info: embedded.ServerInfo

    def attempts(self) -> dict[str, dict[str, str]]:
        """Connection attempts (user, password, extra parameters) a network client makes."""
        return {
            "superuser": {"user": "postgres", "password": self.info.password},
            "owner": {"user": "phms_owner", "password": self.info.password},
            "stranger": {"user": "x_net_stranger", "password": STRANGER_PASSWORD},
            "replication": {
                "user": "postgres",
                "password": self.info.password,
                "replication": "true",
            },
            "staff": {"user": ADMIN, "password": ADMIN_PASSWORD},
        }


def _require(what: str, ok: bool) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the network test, but {what}.")
        pytest.skip(what)


@pytest.fixture(scope="module")
def network_server() -> Iterator[NetworkServer]:
    base = Path(tempfile.mkdtemp(prefix="phms-net-pg-"))
    data_dir = base / "data"
    argv = ["server", "init", "--data-dir", str(data_dir), "--listen", "*",
            "--insecure-plaintext-network", "--admin", ADMIN]  # fmt: skip
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PHMS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            assert main(argv) == 0
        info = embedded.read_info(data_dir)
        engine = sa.create_engine(info.url("phms"), poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            create = f"CREATE ROLE x_net_stranger LOGIN PASSWORD '{STRANGER_PASSWORD}'"
            conn.execute(sa.text(create))
            assert staff.list_staff(conn)  # the admin exists
        engine.dispose()
        yield NetworkServer(info)
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(base, ignore_errors=True)


#: Run by the client (in this process, or in the other namespace): try each login.
ATTEMPT = """
import json, sys, psycopg
host, port, attempts = sys.argv[1], int(sys.argv[2]), json.loads(sys.stdin.read())
out = {}
for name, params in attempts.items():
    try:
        with psycopg.connect(host=host, port=port, dbname="phms", connect_timeout=5,
                             sslmode="disable", **params) as conn:
            if params.get("replication"):
                out[name] = "connected"
                continue
            row = conn.execute(
                "SELECT host(client_addr), ssl FROM pg_stat_activity JOIN pg_stat_ssl "
                "USING (pid) WHERE pid = pg_backend_pid()").fetchone()
            out[name] = f"connected from {row[0]} ssl={row[1]}"
    except psycopg.OperationalError as exc:
        out[name] = str(exc).strip()
print(json.dumps(out))
"""


def _attempt(command: list[str], host: str, server: NetworkServer) -> dict[str, str]:
    done = subprocess.run(
        [*command, sys.executable, "-c", ATTEMPT, host, str(server.info.port)],
        input=json.dumps(server.attempts()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def _assert_network_rules(result: dict[str, str], client: str) -> None:
    for name, user in (("superuser", "postgres"), ("owner", "phms_owner"),
                       ("stranger", "x_net_stranger")):  # fmt: skip
        assert (
            f'pg_hba.conf rejects connection for host "{client}", user "{user}"' in (result[name])
        ), (name, result[name])
    assert (
        f'pg_hba.conf rejects replication connection for host "{client}"' in (result["replication"])
    ), result["replication"]
    # Staff get in, in plain text: the embedded build has no TLS.
    assert result["staff"] == f"connected from {client} ssl=False"


def _own_addresses() -> list[str]:
    """This machine's IPv4 addresses that are not loopback."""
    if not shutil.which("ip"):
        return []
    listing = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False
    )
    found = []
    for line in listing.stdout.splitlines():
        fields = line.split()
        address = fields[fields.index("inet") + 1].split("/")[0] if "inet" in fields else ""
        if address and not address.startswith("127."):
            found.append(address)
    return found


def test_superuser_is_refused_at_this_machines_network_address(
    network_server: NetworkServer,
) -> None:
    addresses = _own_addresses()
    _require("this machine has no non-loopback IPv4 address", bool(addresses))
    for address in addresses:
        _assert_network_rules(_attempt([], address, network_server), address)


def test_superuser_still_works_over_loopback(network_server: NetworkServer) -> None:
    with psycopg.connect(
        host="127.0.0.1", port=network_server.info.port, dbname="phms",
        user="postgres", password=network_server.info.password, connect_timeout=5,
    ) as conn:  # fmt: skip
        assert conn.execute("SELECT current_setting('is_superuser')").fetchone() == ("on",)
    result = _attempt([], "127.0.0.1", network_server)
    assert result["superuser"] == "connected from 127.0.0.1 ssl=False"
    assert result["replication"] == "connected"


@contextmanager
def other_machine() -> Iterator[tuple[str, str, str]]:
    """A network namespace joined by a veth pair: (namespace, server address, client address)."""
    tag = uuid.uuid4().hex[:6]
    namespace, near, far = f"phms-{tag}", f"phv{tag}a", f"phv{tag}b"
    used = {a.rsplit(".", 1)[0] for a in _own_addresses()}
    subnet = next(
        net for net in (f"10.213.{random.randint(1, 254)}" for _ in range(50)) if net not in used
    )
    server_address, client_address = f"{subnet}.1", f"{subnet}.2"
    steps = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", near, "type", "veth", "peer", "name", far],
        ["ip", "link", "set", far, "netns", namespace],
        ["ip", "addr", "add", f"{server_address}/24", "dev", near],
        ["ip", "link", "set", near, "up"],
        ["ip", "netns", "exec", namespace, "ip", "addr", "add", f"{client_address}/24", "dev", far],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", far, "up"],
    ]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, text=True, timeout=30)
        yield namespace, server_address, client_address
    finally:
        subprocess.run(["ip", "link", "del", near], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def test_superuser_is_refused_from_another_machine(network_server: NetworkServer) -> None:
    _require("a network namespace needs root", hasattr(os, "geteuid") and os.geteuid() == 0)
    _require("a network namespace needs the ip command", bool(shutil.which("ip")))
    with other_machine() as (namespace, server_address, client_address):
        result = _attempt(["ip", "netns", "exec", namespace], server_address, network_server)
        _assert_network_rules(result, client_address)
    # Nothing of the namespace is left behind.
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    assert namespace not in names.stdout


OLD_HBA = """local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
host all all samenet scram-sha-256
"""


def test_a_server_made_by_an_older_phms_is_fixed_when_it_starts() -> None:
    """Servers made before this rule let the superuser in from samenet: start fixes them."""
    base = Path(tempfile.mkdtemp(prefix="phms-old-pg-"))
    data_dir = base / "data"
    try:
        info = embedded.initdb(data_dir, port=None, listen="0.0.0.0", plaintext_network=True)
        (data_dir / "pg_hba.conf").write_text(OLD_HBA)  # as an older PHMS wrote it
        embedded.start(data_dir)
        hba = (data_dir / "pg_hba.conf").read_text()
        assert hba.startswith("# Managed by PHMS") and "all  samenet" not in hba
        assert "postgres,phms_owner  all  reject" in hba
        addresses = _own_addresses()
        _require("this machine has no non-loopback IPv4 address", bool(addresses))
        server = NetworkServer(info)
        attempts = {"superuser": server.attempts()["superuser"]}
        done = subprocess.run(
            [sys.executable, "-c", ATTEMPT, addresses[0], str(info.port)],
            input=json.dumps(attempts), capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert "pg_hba.conf rejects connection" in json.loads(done.stdout)["superuser"]
        # ...and PHMS's own superuser work still goes through loopback.
        engine = sa.create_engine(info.url("postgres"), poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            addr = conn.execute(sa.text("SELECT host(inet_client_addr())")).scalar()
            assert addr == "127.0.0.1"
        engine.dispose()
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(base, ignore_errors=True)
