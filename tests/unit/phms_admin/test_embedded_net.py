"""Listen addresses and pg_hba.conf of the embedded server (the rules, without a server;
tests/ops/test_embedded_network.py tries them from a real network)."""

from __future__ import annotations

import pytest

from phms_admin import embedded_net as net


@pytest.mark.parametrize(
    ("listen", "loopback", "conf", "admin"),
    [
        ("127.0.0.1", True, "127.0.0.1", "127.0.0.1"),
        ("localhost", True, "localhost", "127.0.0.1"),
        ("::1", True, "127.0.0.1,::1", "[::1]"),
        ("127.0.0.2", True, "127.0.0.1,127.0.0.2", "127.0.0.2"),
        ("*", False, "*", "127.0.0.1"),
        ("0.0.0.0", False, "0.0.0.0", "127.0.0.1"),
        ("::", False, "127.0.0.1,::", "127.0.0.1"),
        ("192.0.2.7", False, "127.0.0.1,192.0.2.7", "127.0.0.1"),
        ("db.clinic", False, "127.0.0.1,db.clinic", "127.0.0.1"),
        ("127.0.0.1, 10.0.0.5", False, "127.0.0.1,10.0.0.5", "127.0.0.1"),
    ],
)
def test_listen(listen: str, loopback: bool, conf: str, admin: str) -> None:
    assert net.is_loopback(listen) is loopback
    assert net.listen_addresses(listen) == conf  # 127.0.0.1 is always served
    assert net.admin_host(listen) == admin  # the superuser's own way in: loopback


@pytest.mark.parametrize("listen", ["", "a,,b", "127.0.0.1'", "x y", "1::2::3", "-db", "a\nb"])
def test_unreadable_listen_values_are_refused(listen: str) -> None:
    with pytest.raises(net.ListenError, match="listen address"):
        net.parse_listen(listen)


@pytest.mark.parametrize("network", [False, True])
def test_superuser_reject_comes_before_any_network_line(network: bool) -> None:
    lines = [
        line.split()
        for line in net.hba_conf(network=network).splitlines()
        if line.strip() and not line.startswith("#")
    ]
    reject = lines.index(["host", "all", "postgres,phms_owner", "all", "reject"])
    for index, line in enumerate(lines):
        address = line[3] if line[0] == "host" else "socket"
        if index < reject:  # this computer only
            assert line[0] == "local" or address in ("127.0.0.0/8", "::1/128"), line
        elif line[-1] != "reject":  # what the network may do: staff, password, no superuser
            assert network and line[2].startswith("+phms_") and line[-1] == "scram-sha-256"
            assert "postgres" not in line[2] and "phms_owner" not in line[2]
    assert lines[-1] == ["host", "all", "all", "all", "reject"]
    assert any(line[3] == "samenet" for line in lines if line[0] == "host") is network
