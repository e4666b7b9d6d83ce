"""TLS cannot be talked down: an sslmode stays with its hosts, the site sets the floor.

Besides the cases one by one, every combination of the four layers is checked against
a plain statement of the rules (``expected``), so a downgrade path that nobody thought
of still shows up.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import psycopg.conninfo
import pytest
import tomli_w

from phms_client.config import ClientConfig, ConfigError, load_config
from phms_client.config_tls import SSLMODE_ORDER, is_local_host


def write(path: Path, values: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(values), encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "etc" / "client.toml"


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return tmp_path / "home" / "client.toml"


def load(site: Path, user: Path, env: dict[str, str] | None = None, **kw: str) -> ClientConfig:
    return load_config(site_path=site, user_path=user, environ=env or {}, **kw)


# --------------------------------------------------------------------------- host change


def test_site_disable_for_localhost_does_not_follow_a_network_server(
    site: Path, user: Path
) -> None:
    """The issue's example: it used to connect to 10.0.0.5 without TLS."""
    write(site, {"server": "localhost", "sslmode": "disable"})
    assert load(site, user).sslmode == "disable"
    c = load(site, user, server="10.0.0.5")
    assert (c.hosts, c.sslmode, c.sources["sslmode"]) == (("10.0.0.5",), "verify-full", "default")


@pytest.mark.parametrize("mode", SSLMODE_ORDER[:-1])
def test_an_earlier_sslmode_never_reaches_a_host_named_later(
    site: Path, user: Path, mode: str
) -> None:
    write(site, {"sslmode": mode})  # no server: written for the built-in localhost
    assert load(site, user, {"PHMS_SERVER": "db.clinic"}).sslmode == "verify-full"
    write(user, {"sslmode": mode})
    assert load(site, user, server="db.clinic").sslmode == "verify-full"
    assert load(site, user, {"PHMS_SERVER": "db.clinic"}).sslmode == "verify-full"


def test_naming_the_same_hosts_again_keeps_the_sslmode(site: Path, user: Path) -> None:
    write(site, {"server": "db.clinic", "sslmode": "require"})
    write(user, {"server": "DB.clinic:5432"})
    c = load(site, user)
    assert c.sslmode == "require" and c.sources["sslmode"] == f"site file {site}"


def test_a_new_local_host_gets_the_local_default(site: Path, user: Path) -> None:
    write(site, {"server": "db.clinic", "sslmode": "verify-full"})
    assert load(site, user, server="localhost").sslmode == "disable"


# --------------------------------------------------------------------------- the site's floor


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca"])
def test_environment_cannot_lower_the_sites_verify_full(site: Path, user: Path, mode: str) -> None:
    write(site, {"server": "db.clinic", "sslmode": "verify-full"})
    with pytest.raises(ConfigError) as caught:
        load(site, user, {"PHMS_SSLMODE": mode})
    message = str(caught.value)
    assert f"Encryption (sslmode) {mode!r} from environment PHMS_SSLMODE" in message
    assert "below 'verify-full'" in message and f"set by site file {site}" in message
    assert "db.clinic" in message


@pytest.mark.parametrize("mode", ["disable", "prefer"])
def test_user_file_cannot_lower_the_sites_verify_full(site: Path, user: Path, mode: str) -> None:
    write(site, {"server": "db.clinic", "sslmode": "verify-full"})
    write(user, {"sslmode": mode})
    with pytest.raises(ConfigError, match=f"{mode!r} from user file {user}"):
        load(site, user)
    # ...not even together with a network server of its own.
    write(user, {"server": "10.0.0.5", "sslmode": mode})
    with pytest.raises(ConfigError, match=r"network server \(10\.0\.0\.5;"):
        load(site, user)


def test_without_a_site_file_the_floor_is_verify_full(site: Path, user: Path) -> None:
    with pytest.raises(ConfigError, match="set by the built-in default"):
        load(site, user, {"PHMS_SERVER": "db.clinic", "PHMS_SSLMODE": "require"})
    # A site sslmode written for localhost says nothing about network servers.
    write(site, {"server": "localhost", "sslmode": "disable"})
    write(user, {"server": "db.clinic", "sslmode": "disable"})
    with pytest.raises(ConfigError, match="set by the built-in default"):
        load(site, user)


def test_the_site_may_lower_the_floor_for_its_network(site: Path, user: Path) -> None:
    write(site, {"server": "10.0.0.5", "sslmode": "require"})
    assert load(site, user).sslmode == "require"
    assert load(site, user, {"PHMS_SSLMODE": "verify-ca"}).sslmode == "verify-ca"
    write(user, {"server": "10.0.0.6", "sslmode": "require"})
    assert load(site, user).sslmode == "require"
    with pytest.raises(ConfigError, match="below 'require'"):
        load(site, user, {"PHMS_SSLMODE": "prefer"})


def test_one_network_host_in_a_list_makes_it_a_network_server(site: Path, user: Path) -> None:
    with pytest.raises(ConfigError, match=r"network server \(db\.clinic;"):
        load(site, user, {"PHMS_SERVER": "localhost,db.clinic", "PHMS_SSLMODE": "disable"})
    assert load(site, user, {"PHMS_SERVER": "localhost,db.clinic"}).sslmode == "verify-full"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "[::1]", "/run/pg"])
def test_this_computer_may_go_without_tls(site: Path, user: Path, host: str) -> None:
    write(site, {"server": "db.clinic", "sslmode": "verify-full"})
    c = load(site, user, {"PHMS_SERVER": host, "PHMS_SSLMODE": "disable"})
    assert c.sslmode == "disable"


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("/var/run/postgresql", True),
        ("@abstract", True),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("0.0.0.0", False),
        ("::ffff:127.0.0.1", False),
        ("127.1", False),
        ("10.0.0.5", False),
        ("db", False),
    ],
)
def test_what_counts_as_this_computer(host: str, local: bool) -> None:
    assert is_local_host(host) is local


# --------------------------------------------------------------------------- every combination

NET = {"site": "site-db.clinic", "user": "user-db.clinic", "env": "env-db.clinic"}
MODES = (None, "disable", "prefer", "require", "verify-ca", "verify-full")
HOSTS = (None, "localhost", "net")


def expected(layers: list[tuple[str | None, str | None]]) -> tuple[str | None, str]:
    """The rules in plain terms: (mode, "") when allowed, (None, reason) when refused.

    ``layers`` are (host, sslmode) of site, user, environment, command line.
    """
    hosts, mode, mode_from = "localhost", None, -1
    for index, (host, layer_mode) in enumerate(layers):
        if host is not None and host != hosts and layer_mode is None:
            mode, mode_from = None, -1  # an sslmode belongs to the hosts it was written for
        if host is not None:
            hosts = host
        if layer_mode is not None:
            mode, mode_from = layer_mode, index
    network = hosts != "localhost"
    site_host, site_mode = layers[0]
    floor = site_mode if site_mode is not None and site_host not in (None, "localhost") else None
    floor = floor or "verify-full"
    if mode is None:
        return ("verify-full" if network else "disable"), ""
    if network and mode_from > 0 and SSLMODE_ORDER.index(mode) < SSLMODE_ORDER.index(floor):
        return None, "below"
    return mode, ""


def _file_values(host: str | None, mode: str | None) -> dict[str, object]:
    values: dict[str, object] = {}
    if host is not None:
        values["server"] = host
    if mode is not None:
        values["sslmode"] = mode
    return values


def _concrete(name: str, host: str | None) -> str | None:
    return NET.get(name, "cli-db.clinic") if host == "net" else host


def test_no_combination_of_layers_talks_tls_down(site: Path, user: Path) -> None:
    tried = refused = allowed_below_default = 0
    for site_h, site_m, user_h, user_m in itertools.product(HOSTS, MODES, HOSTS, MODES):
        site_host, user_host = _concrete("site", site_h), _concrete("user", user_h)
        write(site, _file_values(site_host, site_m))
        write(user, _file_values(user_host, user_m))
        for env_h, env_m, cli_h in itertools.product(HOSTS, MODES, HOSTS):
            env_host, cli_host = _concrete("env", env_h), _concrete("cli", cli_h)
            env = {"PHMS_SERVER": env_host or "", "PHMS_SSLMODE": env_m or ""}
            layers = [(site_host, site_m), (user_host, user_m), (env_host, env_m), (cli_host, None)]
            want_mode, why = expected(layers)
            tried += 1
            try:
                got = load(site, user, env, **({"server": cli_host} if cli_host else {}))
            except ConfigError as exc:
                assert why == "below", (layers, str(exc))
                assert "is below" in str(exc)
                refused += 1
                continue
            assert why == "", (layers, got)
            assert got.sslmode == want_mode, (layers, got)
            if got.hosts != ("localhost",) and got.sslmode != "verify-full":
                # Only ever what the site itself allows for a network server.
                assert site_h == "net" and site_m is not None, (layers, got)
                assert SSLMODE_ORDER.index(got.sslmode) >= SSLMODE_ORDER.index(site_m)
                allowed_below_default += 1
    assert tried == 3 * 6 * 3 * 6 * 3 * 6 * 3
    assert refused > 0 and allowed_below_default > 0


# --------------------------------------------------------------------------- smuggled settings


@pytest.mark.parametrize(
    "database",
    ["phms sslmode=disable", "dbname=phms sslmode=disable", "postgresql:///phms?sslmode=disable"],
)
def test_a_database_name_cannot_carry_connection_settings(
    site: Path, user: Path, database: str
) -> None:
    with pytest.raises(ConfigError, match="looks like connection settings"):
        load(site, user, {"PHMS_DATABASE": database})
    write(user, {"database": database})
    with pytest.raises(ConfigError, match=f"user file {user}: database"):
        load(site, user)


@pytest.mark.parametrize("server", ["db.clinic sslmode=disable", "db.clinic' sslmode='disable"])
def test_a_server_name_cannot_carry_connection_settings(
    site: Path, user: Path, server: str
) -> None:
    kwargs = load(site, user, {"PHMS_SERVER": server}).conninfo_kwargs("alice", "pw")
    parsed = psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(**kwargs))
    assert parsed["sslmode"] == "verify-full" and parsed["host"] == server
