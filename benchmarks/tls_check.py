"""Does the TLS front cost what a TLS PostgreSQL costs? A check against a real one.

The embedded server has no OpenSSL, so the VPN section puts
:class:`~benchmarks.tls_front.TlsFront` before it. This check starts a throw-away
cluster of a distribution's PostgreSQL built with OpenSSL (``/usr/lib/postgresql/
<version>/bin``, as the installer's servers use; Linux, run as root: the server runs
as ``phms_postgres``), with ``ssl = on`` and the same kind of certificates, and
connects to it through the shaped link both ways: its own TLS, and the TLS front
before it (the server's TLS then unused). It prints the round trips, bytes and times
of a connection, of three statements and of a 300 kB answer, each way:

    .venv/bin/python -m benchmarks.tls_check

Loopback only; the cluster is deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.latency_proxy import LatencyProxy, Link, ProxyThread
from benchmarks.tls_front import TlsFront, make_certificates
from phms_admin import embedded

USER, PASSWORD = "tls_check", "tls-check-password-2026"


def pg_bin() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.iterdir() if (p / "bin" / "postgres").exists()), key=str)
    if not versions:
        raise SystemExit("no distribution PostgreSQL in /usr/lib/postgresql")
    return versions[-1] / "bin"


def _as_server(args: list[str]) -> None:
    subprocess.run(["runuser", "-u", "phms_postgres", "--", *args], check=True, capture_output=True)


def measure(port: int, rootcert: Path, link: Link) -> dict[str, Any]:
    with ProxyThread(LatencyProxy.shaped("127.0.0.1", port, link)) as proxy:
        c = proxy.counters
        t0 = time.perf_counter()
        conn = psycopg.connect(
            host="127.0.0.1",
            port=proxy.port,
            dbname="postgres",
            user=USER,
            password=PASSWORD,
            sslmode="verify-full",
            sslrootcert=str(rootcert),
            autocommit=True,
        )
        out: dict[str, Any] = {
            "connect": {
                "ms": (time.perf_counter() - t0) * 1000,
                "round_trips": c.round_trips,
                "bytes_up": c.bytes_up,
                "bytes_down": c.bytes_down,
            }
        }
        with conn:
            row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            out["server_side_tls"] = bool(row.fetchone()[0])  # type: ignore[index]
            for label, sql, times in (
                ("3 statements", "SELECT 1", 3),
                ("300 kB answer", "SELECT repeat('x', 300000)", 1),
            ):
                c.reset()
                t0 = time.perf_counter()
                for _ in range(times):
                    conn.execute(sql).fetchall()
                out[label] = {
                    "ms": (time.perf_counter() - t0) * 1000,
                    "round_trips": c.round_trips,
                    "bytes_up": c.bytes_up,
                    "bytes_down": c.bytes_down,
                }
    return out


def available() -> bool:
    """A distribution PostgreSQL is installed, and this may run it (root, Linux)."""
    base = Path("/usr/lib/postgresql")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return root and base.is_dir() and any((p / "bin" / "postgres").exists() for p in base.iterdir())


def check() -> dict[str, Any]:
    """Both ways over each VPN link (see the module's text)."""
    bins = pg_bin()
    embedded._ensure_system_user()  # the unprivileged user the embedded server runs as
    with tempfile.TemporaryDirectory(prefix="phms-tls-check-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)
        certs = make_certificates(folder / "tls")
        data = folder / "data"
        pwfile = folder / "pw"
        pwfile.write_text(PASSWORD + "\n")
        for path in (folder / "tls", data.parent):
            shutil.chown(path, "phms_postgres")
        for path in (certs.server_crt, certs.server_key, pwfile):
            shutil.chown(path, "phms_postgres")
        _as_server(
            [str(bins / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
             "--auth-host=scram-sha-256", "--auth-local=scram-sha-256"]
        )  # fmt: skip
        port = embedded.free_port()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {port}\nlisten_addresses = '127.0.0.1'\nssl = on\n"
                f"ssl_cert_file = '{certs.server_crt}'\nssl_key_file = '{certs.server_key}'\n"
                "ssl_min_protocol_version = 'TLSv1.2'\nunix_socket_directories = ''\n"
            )
        _as_server(
            [str(bins / "pg_ctl"), "start", "-D", str(data), "-w", "-l", str(folder / "log")]
        )
        try:
            results: dict[str, Any] = {"server": f"PostgreSQL {bins.parent.name}"}
            for link in (Link.vpn(3, 50), Link.vpn(10, 20)):
                results[link.name] = {"server's TLS": measure(port, certs.ca_crt, link)}
                with ProxyThread(TlsFront("127.0.0.1", port, certs)) as front:
                    results[link.name]["TLS front"] = measure(front.port, certs.ca_crt, link)
                any_curve = TlsFront("127.0.0.1", port, certs, ecdh_curve=None)
                with ProxyThread(any_curve) as front:
                    results[link.name]["TLS front, any curve"] = measure(
                        front.port, certs.ca_crt, link
                    )
        finally:
            _as_server([str(bins / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"])
    return results


def main() -> int:
    print(json.dumps(check(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
