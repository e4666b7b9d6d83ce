"""A silently dead link for real: the kernel drops every packet (run by test_dead_link.py).

Run as root inside ``unshare -n`` (network namespace A, the workstation). It starts an
embedded PostgreSQL in a second namespace (B, the server) joined to A by a veth pair.
Setting B's end of the pair down makes the link drop everything without a word: A's
end stays up, nothing is refused or reset, the packets just vanish. The link is cut
once and the cases wait in parallel, each on its own connection; for each case it
prints one JSON line: how the waiting work ended, and after how many seconds.

Cases, all with the client's own connection parameters (``ClientConfig``):

- ``sent``: a statement sent into the dead link (unacknowledged data:
  ``tcp_user_timeout``);
- ``reply``: a statement that reached the server, whose reply is lost (nothing
  unacknowledged: the keepalives);
- ``session``: a unit of work of the client's ``Database`` (keepalives, and the link
  check, whichever notices first);
- ``libpq-defaults``: ``sent`` without PHMS's keepalives and ``tcp_user_timeout``,
  given :data:`CONTROL_LIMIT` seconds (it is expected to be still waiting).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psycopg
import sqlalchemy as sa

from phms_admin import embedded
from phms_client.config import ClientConfig
from phms_client.db.database import Credentials, Database
from phms_client.db.errors import classify

CLIENT, SERVER = "10.9.0.1", "10.9.0.2"
LIMIT = 60.0  # seconds a case may wait before it counts as "waits forever"
CONTROL_LIMIT = 35.0
LOGIN, LOGIN_PASSWORD = "t_link", "dead-link-password-2026"


def serve() -> None:
    """In namespace B: a server on SERVER; prints its port and password; stops at EOF."""
    base = Path(tempfile.mkdtemp(prefix="phms-deadlink-"))
    try:
        # A closed test network inside namespaces of the test's own: plain text is fine.
        info = embedded.initdb(base / "data", port=None, listen=SERVER, plaintext_network=True)
        embedded.start(info.data_dir)
        try:
            # The superuser never reaches the server from the network: a staff login does.
            admin = psycopg.connect(
                host="127.0.0.1",
                port=info.port,
                user=embedded.SUPERUSER,
                password=info.password,
                dbname="postgres",
                autocommit=True,
            )
            with admin:
                admin.execute("CREATE ROLE phms_clerk NOLOGIN")
                admin.execute(
                    f"CREATE ROLE {LOGIN} LOGIN PASSWORD '{LOGIN_PASSWORD}' IN ROLE phms_clerk"
                )
            print(info.port, LOGIN_PASSWORD, flush=True)
            sys.stdin.read()
        finally:
            embedded.stop(info.data_dir)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


#: A case started before the cut has this long to reach the server first.
EARLY = 0.5


def _all_cut_at_once(
    cases: dict[str, tuple[Callable[[], object], bool, float]],
    cut: Callable[[], None],
) -> dict[str, dict[str, object]]:
    """Run every case on its own thread and cut the link once: how did each end?

    ``cases``: name -> (work, started before the cut, seconds it may wait). A case
    started before the cut gets :data:`EARLY` seconds to reach the server; the others
    start right after the cut. Seconds count from the cut; the cases wait in parallel,
    so the whole takes as long as the longest.
    """
    outcomes: dict[str, dict[str, object]] = {name: {} for name in cases}
    cut_at = [0.0]

    def run(name: str, work: Callable[[], object]) -> None:
        outcome = outcomes[name]
        try:
            work()
            outcome["kind"] = "answered"
        except Exception as exc:
            outcome["kind"] = classify(exc).kind.value
            outcome["detail"] = classify(exc).detail[:120]
        outcome["seconds"] = round(time.monotonic() - cut_at[0], 1)

    threads = {
        name: threading.Thread(target=run, args=(name, work), daemon=True)
        for name, (work, _early, _limit) in cases.items()
    }
    for name, (_work, early, _limit) in cases.items():
        if early:
            threads[name].start()
    time.sleep(EARLY)
    cut_at[0] = time.monotonic()
    cut()
    for name, (_work, early, _limit) in cases.items():
        if not early:
            threads[name].start()
    for name, (_work, _early, limit) in cases.items():
        threads[name].join(max(0.0, cut_at[0] + limit - time.monotonic()))
    ended: dict[str, dict[str, object]] = {}
    for name, (_work, _early, limit) in cases.items():
        waiting = threads[name].is_alive()
        ended[name] = {"kind": "waiting", "seconds": limit} if waiting else dict(outcomes[name])
    return ended


def main() -> None:
    if sys.argv[1:] == ["server"]:
        serve()
        return
    _run("ip", "link", "set", "lo", "up")
    holder = subprocess.Popen(["unshare", "-n", "sleep", "3600"])
    server: subprocess.Popen[str] | None = None
    try:
        time.sleep(0.3)
        in_b = ["nsenter", "-t", str(holder.pid), "-n"]
        _run("ip", "link", "add", "phms0", "type", "veth", "peer", "name", "phms1")
        _run("ip", "link", "set", "phms1", "netns", str(holder.pid))
        _run("ip", "addr", "add", f"{CLIENT}/24", "dev", "phms0")
        _run("ip", "link", "set", "phms0", "up")
        _run(*in_b, "ip", "link", "set", "lo", "up")
        _run(*in_b, "ip", "addr", "add", f"{SERVER}/24", "dev", "phms1")
        _run(*in_b, "ip", "link", "set", "phms1", "up")
        server = subprocess.Popen(
            [*in_b, sys.executable, "-m", "tests.ops.dead_link", "server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        port, password = server.stdout.readline().split()
        config = ClientConfig(hosts=(SERVER,), port=int(port), database="postgres")

        def link(up: bool) -> None:
            _run(*in_b, "ip", "link", "set", "phms1", "up" if up else "down")

        def connection(phms_settings: bool = True) -> psycopg.Connection[tuple[object, ...]]:
            params = config.conninfo_kwargs(LOGIN, password)
            if not phms_settings:
                for name in config.timeouts.libpq_kwargs():
                    params.pop(name)
            for attempt in range(10):  # the link may take a moment to come back up
                try:
                    conn = psycopg.connect(**params, autocommit=True)  # type: ignore[arg-type]
                    conn.execute("SELECT 1")
                    return conn
                except psycopg.OperationalError:
                    if attempt == 9:
                        raise
                    time.sleep(1)
            raise AssertionError("unreachable")

        sent, reply, control = connection(), connection(), connection(phms_settings=False)
        database = Database(config, Credentials(LOGIN, password))
        try:
            with database.session() as s:  # a pooled connection, used moments ago
                s.execute(sa.text("SELECT 1"))

            def unit_of_work() -> None:
                with database.session() as s:
                    s.execute(sa.text("SELECT 1"))

            outcomes = _all_cut_at_once(
                {
                    "sent": (partial(sent.execute, "SELECT 1"), False, LIMIT),
                    "reply": (partial(reply.execute, "SELECT pg_sleep(2)"), True, LIMIT),
                    "session": (unit_of_work, False, LIMIT),
                    "libpq-defaults": (partial(control.execute, "SELECT 1"), False, CONTROL_LIMIT),
                },
                lambda: link(False),
            )
            link(True)
            for case, outcome in outcomes.items():
                print(json.dumps({"case": case, **outcome}), flush=True)
        finally:
            database.close()
    finally:
        if server is not None and server.stdin is not None:
            server.stdin.close()
            server.wait(60)
        holder.kill()
        holder.wait()


if __name__ == "__main__":
    main()
