"""The VPN section's plumbing: a client process to drive, and the link it goes over.

:class:`ClientProcess` runs :mod:`benchmarks.client_probe` (a real client,
offscreen Qt) and sends it one command at a time; :func:`wire` builds the chain a
workstation's traffic takes (the shaped link, then the TLS front) and
:class:`Wire` reads both's counters.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.figures import REPO, Target
from benchmarks.latency_proxy import LatencyProxy, Link, ProxyThread
from benchmarks.tls_front import TlsFront


class ClientProcess:
    """A :mod:`benchmarks.client_probe` process and its command line."""

    def __init__(self, site_file: Path, home: Path) -> None:
        env = dict(os.environ)
        env.update(
            {
                "QT_QPA_PLATFORM": "offscreen",
                "PHMS_SITE_CONFIG": str(site_file),
                "PHMS_USER_CONFIG": str(home / "user.toml"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                "HOME": str(home),
                "XDG_RUNTIME_DIR": str(home),
            }
        )
        for name in ("PHMS_SERVER", "PHMS_PORT", "PHMS_DATABASE", "PHMS_SSLMODE"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.client_probe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
            env=env,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        ready = self._answer(120)
        if not ready.get("ready"):
            raise RuntimeError(f"the client probe did not start: {ready}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self._lines.put(line)
        self._lines.put("")

    def _answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return {"error": f"no answer in {timeout:.0f} s"}
        return json.loads(line) if line else {"error": "the client probe ended"}

    def ask(
        self,
        command: str,
        timeout: float = 180,
        on_milestone: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Send ``command``; its answer. Lines the probe sends on the way
        (``{"milestone": name}``) go to ``on_milestone`` as they come."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._answer(timeout)
        while "milestone" in answer:
            if on_milestone is not None:
                on_milestone(str(answer["milestone"]))
            answer = self._answer(timeout)
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit", timeout=20)
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class Wire:
    """The chain a workstation's traffic takes: shaped link, then TLS (optional)."""

    def __init__(self, proxy: LatencyProxy, front: TlsFront | None) -> None:
        self.proxy, self.front = proxy, front

    def reset(self) -> None:
        self.proxy.counters.reset()
        if self.front is not None:
            self.front.counters.reset()

    def read(self) -> dict[str, int]:
        c = self.proxy.counters
        out = {
            "round_trips": c.round_trips,
            "bytes_up": c.bytes_up,
            "bytes_down": c.bytes_down,
            "connections": c.connections,
        }
        if self.front is not None:
            f = self.front.counters
            out.update(
                {
                    "tls_handshakes": f.tls_handshakes,
                    "statements": f.statements,
                    "transaction_control": f.transaction_control,
                    "pings": f.pings,
                }
            )
        return out


@contextmanager
def wire(target: Target, link: Link, *, tls: bool) -> Iterator[tuple[Wire, Path | None]]:
    """The link to the server: (counters, the site CA to check TLS against)."""
    if tls:
        with (
            ProxyThread(TlsFront("127.0.0.1", target.port)) as front,
            ProxyThread(LatencyProxy.shaped("127.0.0.1", front.port, link)) as proxy,
        ):
            yield Wire(proxy, front), front.certificates.ca_crt
    else:
        with ProxyThread(LatencyProxy.shaped("127.0.0.1", target.port, link)) as proxy:
            yield Wire(proxy, None), None


def site_file(folder: Path, target: Target, port: int, rootcert: Path | None) -> Path:
    lines = [
        'server = "127.0.0.1"',
        f"port = {port}",
        f'database = "{target.database}"',
        f'sslmode = "{"disable" if rootcert is None else "verify-full"}"',
    ]
    if rootcert is not None:
        lines.append(f'sslrootcert = "{rootcert}"')
    path = folder / f"site-{port}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
