"""The client's keepalives and tcp_user_timeout against a link that really drops packets.

``tests/ops/dead_link.py`` builds two network namespaces joined by a veth pair and
kills the link by setting the server's end down, so the kernel itself drops every
packet: nothing is refused or reset. (tests/db/test_timeouts.py covers the other kind
of dead link, a proxy that stays up and forwards nothing.)

Needs root, ``unshare``, ``nsenter`` and ``ip``. Elsewhere the test skips, except in CI
(CI=true), where a missing prerequisite is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _require_prerequisites() -> None:
    why = None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        why = "building network namespaces needs root"
    elif not all(shutil.which(tool) for tool in ("unshare", "nsenter", "ip")):
        why = "needs unshare, nsenter and ip (util-linux, iproute2)"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the dead-link test, but {why}.")
        pytest.skip(why)


def test_a_link_that_drops_every_packet_is_noticed_within_30_seconds() -> None:
    _require_prerequisites()
    run = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.ops.dead_link"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = {r["case"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert set(results) == {"sent", "reply", "session", "libpq-defaults"}, run.stdout
    # Without the keepalives and tcp_user_timeout, libpq would wait far longer.
    assert results.pop("libpq-defaults")["kind"] == "waiting"
    for case in ("sent", "reply"):
        assert results[case]["kind"] == "connection_lost", results[case]
    # The statement (or after a pause the pool's liveness ping) is cut, or a fresh
    # connection fails (unreachable):
    # both are "connection lost" to the window.
    assert results["session"]["kind"] in ("connection_lost", "unreachable"), results["session"]
    for case, result in results.items():
        assert result["seconds"] < 30, (case, result)
