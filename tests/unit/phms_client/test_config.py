from __future__ import annotations

import dataclasses
import logging
import sys
import tomllib
from pathlib import Path

import psycopg.conninfo
import pytest

from phms_client import config as cfg
from phms_client.config import ClientConfig, ConfigError, load_config, save_user_config
from phms_client.timeouts import Timeouts


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site" / "client.toml"


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return tmp_path / "user" / "client.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(site: Path, user: Path, env: dict[str, str] | None = None, **kw: str) -> ClientConfig:
    return load_config(site_path=site, user_path=user, environ=env or {}, **kw)


# --------------------------------------------------------------------------- defaults


def test_defaults_without_any_source(site: Path, user: Path) -> None:
    c = load(site, user)
    assert c.hosts == ("localhost",)
    assert c.port == 5432
    assert c.database == "phms"
    assert c.sslmode == "disable"
    assert c.sslrootcert is None
    assert c.connect_timeout == 5
    assert c.hospital_id == ""
    assert dict(c.sources) == dict.fromkeys(cfg.FIELDS, "default")
    assert not c.server_configured


def test_config_is_frozen(site: Path, user: Path) -> None:
    c = load(site, user)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.sources["port"] = "x"  # type: ignore[index]


# --------------------------------------------------------------------------- layering


def test_user_file_overrides_site_file(site: Path, user: Path) -> None:
    write(site, 'server = "db.clinic.local"\nport = 6543\ndatabase = "clinic"\n')
    write(user, 'hospital_id = "RBH"\nport = 6000\n')
    c = load(site, user)
    assert c.hosts == ("db.clinic.local",)
    assert c.port == 6000
    assert c.database == "clinic"
    assert c.hospital_id == "RBH"
    assert c.sslmode == "verify-full"  # remote host, nothing explicit
    assert c.sources["hosts"] == f"site file {site}"
    assert c.sources["database"] == f"site file {site}"
    assert c.sources["port"] == f"user file {user}"
    assert c.sources["hospital_id"] == f"user file {user}"
    assert c.sources["sslmode"] == "default"
    assert c.server_configured


def test_environment_overrides_files(site: Path, user: Path) -> None:
    write(site, 'server = "db.clinic.local"\nsslmode = "require"\n')  # the site's floor
    env = {
        "PHMS_SERVER": "a.clinic, b.clinic:5433",
        "PHMS_DATABASE": "phms_test",
        "PHMS_SSLMODE": "require",
        "PHMS_SSLROOTCERT": "/opt/ca.crt",
        "PHMS_CONNECT_TIMEOUT": "9",
        "PHMS_HOSPITAL_ID": "W12",
    }
    c = load(site, user, env)
    assert c.hosts == ("a.clinic", "b.clinic")
    assert c.port == 5433
    assert c.database == "phms_test"
    assert c.sslmode == "require"
    assert c.sslrootcert == Path("/opt/ca.crt")
    assert c.connect_timeout == 9
    assert c.hospital_id == "W12"
    assert c.sources["hosts"] == "environment PHMS_SERVER"
    assert c.sources["port"] == "environment PHMS_SERVER"
    assert c.sources["sslmode"] == "environment PHMS_SSLMODE"
    assert c.sources["connect_timeout"] == "environment PHMS_CONNECT_TIMEOUT"


def test_phms_port_sets_port(site: Path, user: Path) -> None:
    c = load(site, user, {"PHMS_SERVER": "db", "PHMS_PORT": "7000"})
    assert (c.hosts, c.port) == (("db",), 7000)
    assert c.sources["port"] == "environment PHMS_PORT"


def test_empty_environment_values_are_ignored(site: Path, user: Path) -> None:
    write(site, 'server = "db"\n')
    c = load(site, user, {"PHMS_SERVER": "  ", "PHMS_PORT": ""})
    assert c.hosts == ("db",)
    assert c.sources["hosts"] == f"site file {site}"


def test_command_line_overrides_everything_and_keeps_earlier_port(site: Path, user: Path) -> None:
    write(site, 'server = "db.clinic.local:6543"\n')
    c = load(site, user, {"PHMS_SERVER": "envhost"}, server="cli.clinic")
    assert c.hosts == ("cli.clinic",)
    assert c.port == 6543
    assert c.sources["hosts"] == "command line"
    assert c.sources["port"] == f"site file {site}"


def test_command_line_port(site: Path, user: Path) -> None:
    c = load(site, user, server="cli.clinic:7777")
    assert (c.hosts, c.port) == (("cli.clinic",), 7777)
    assert c.sources["port"] == "command line"


def test_file_paths_from_environment(tmp_path: Path) -> None:
    s = write(tmp_path / "s.toml", 'database = "from_site"\n')
    u = write(tmp_path / "u.toml", 'hospital_id = "H1"\n')
    env = {"PHMS_SITE_CONFIG": str(s), "PHMS_USER_CONFIG": str(u)}
    c = load_config(environ=env)
    assert c.database == "from_site"
    assert c.hospital_id == "H1"
    assert c.sources["database"] == f"site file {s}"
    assert c.sources["hospital_id"] == f"user file {u}"


def test_hosts_list_in_file(site: Path, user: Path) -> None:
    write(site, 'hosts = ["primary.clinic", "standby.clinic"]\nport = 5433\n')
    c = load(site, user)
    assert c.hosts == ("primary.clinic", "standby.clinic")
    assert c.port == 5433


def test_relative_sslrootcert_is_relative_to_file(site: Path, user: Path) -> None:
    write(site, 'server = "db"\nsslrootcert = "root.crt"\n')
    assert load(site, user).sslrootcert == site.parent / "root.crt"


# --------------------------------------------------------------------------- sslmode default


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("localhost", "disable"),
        ("127.0.0.1", "disable"),
        ("[::1]:5432", "disable"),
        ("::1", "disable"),
        ("/var/run/postgresql", "disable"),
        ("localhost,127.0.0.1", "disable"),
        ("localhost,db.clinic", "verify-full"),
        ("10.0.0.5", "verify-full"),
    ],
)
def test_default_sslmode(site: Path, user: Path, server: str, expected: str) -> None:
    c = load(site, user, server=server)
    assert c.sslmode == expected
    assert c.sources["sslmode"] == "default"


def test_explicit_sslmode_wins(site: Path, user: Path) -> None:
    assert load(site, user, {"PHMS_SSLMODE": "require"}).sslmode == "require"  # localhost
    write(site, 'server = "db.clinic"\nsslmode = "require"\n')
    assert load(site, user).sslmode == "require"
    assert load(site, user, {"PHMS_SSLMODE": "verify-ca"}).sslmode == "verify-ca"


# --------------------------------------------------------------------------- parse_server


@pytest.mark.parametrize(
    ("text", "hosts", "port"),
    [
        ("db", ("db",), None),
        ("db:6000", ("db",), 6000),
        ("a,b:5433", ("a", "b"), 5433),
        ("a:5433, b:5433", ("a", "b"), 5433),
        ("[::1]:6000", ("::1",), 6000),
        ("[fe80::1]", ("fe80::1",), None),
        ("fe80::1", ("fe80::1",), None),
        ("/tmp", ("/tmp",), None),
    ],
)
def test_parse_server(text: str, hosts: tuple[str, ...], port: int | None) -> None:
    assert cfg.parse_server(text) == (hosts, port)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a:1,b:2", "different ports"),
        ("a,,b", "empty host"),
        (":5432", "empty host"),
        ("db:abc", "whole number"),
        ("db:70000", "out of range"),
        ("[::1", "unclosed"),
    ],
)
def test_parse_server_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        cfg.parse_server(text)


# --------------------------------------------------------------------------- errors


def test_malformed_toml_names_the_file(site: Path, user: Path) -> None:
    write(user, "server = \n")
    with pytest.raises(ConfigError) as info:
        load(site, user)
    assert str(user) in str(info.value)
    assert "not valid TOML" in str(info.value)


@pytest.mark.parametrize(
    ("text", "field_name"),
    [
        ('port = "abc"', "port"),
        ("port = true", "port"),
        ("port = 0", "port"),
        ('sslmode = "sometimes"', "sslmode"),
        ("connect_timeout = 0", "connect_timeout"),
        ("connect_timeout = -3", "connect_timeout"),
        ('connect_timeout = "soon"', "connect_timeout"),
        ("database = 5", "database"),
        ('database = ""', "database"),
        ("hosts = []", "hosts"),
        ('server = "a"\nhosts = ["b"]', "server"),
        ('server = "db:6000"\nport = 5432', "port"),
    ],
)
def test_bad_values_name_file_and_field(site: Path, user: Path, text: str, field_name: str) -> None:
    write(site, text + "\n")
    with pytest.raises(ConfigError) as info:
        load(site, user)
    message = str(info.value)
    assert str(site) in message
    assert field_name in message


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PHMS_PORT": "x"}, "PHMS_PORT"),
        ({"PHMS_SSLMODE": "maybe"}, "PHMS_SSLMODE"),
        ({"PHMS_CONNECT_TIMEOUT": "0"}, "PHMS_CONNECT_TIMEOUT"),
        ({"PHMS_SERVER": "a:1,b:2"}, "PHMS_SERVER"),
        ({"PHMS_SERVER": "a:1", "PHMS_PORT": "2"}, "PHMS_PORT"),
    ],
)
def test_bad_environment_names_variable(
    site: Path, user: Path, env: dict[str, str], name: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        load(site, user, env)


def test_bad_command_line_value(site: Path, user: Path) -> None:
    with pytest.raises(ConfigError, match="command line"):
        load(site, user, server="db:port")


def test_unreadable_file_is_config_error(site: Path, user: Path) -> None:
    site.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError, match="cannot be read"):
        load(site, user)


def test_non_utf8_file_is_config_error(site: Path, user: Path) -> None:
    site.parent.mkdir(parents=True)
    site.write_bytes(b'database = "\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load(site, user)


def test_unknown_key_is_logged_and_ignored(
    site: Path, user: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(site, 'databse = "typo"\n')
    with caplog.at_level(logging.WARNING, logger="phms_client.config"):
        c = load(site, user)
    assert c.database == "phms"
    assert "databse" in caplog.text
    assert str(site) in caplog.text


# --------------------------------------------------------------------------- connection


def test_conninfo_single_host(site: Path, user: Path) -> None:
    c = load(site, user, server="db.clinic.local")
    kwargs = c.conninfo_kwargs("alice", "s3cret")
    assert kwargs == {
        "host": "db.clinic.local",
        "port": "5432",
        "dbname": "phms",
        "user": "alice",
        "password": "s3cret",
        "sslmode": "verify-full",
        "connect_timeout": 5,
        "application_name": "phms-client",
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 20_000,
    }
    # libpq itself accepts it
    parsed = psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(**kwargs))
    assert parsed["host"] == "db.clinic.local"
    assert parsed["sslmode"] == "verify-full"


def test_timeouts_come_from_the_files_user_over_site(site: Path, user: Path) -> None:
    assert load(site, user).timeouts == Timeouts()
    write(site, "statement_timeout = 45\nlock_timeout = 8\ntcp_user_timeout = 25\n")
    write(user, 'lock_timeout = "3"\n')
    c = load(site, user)
    assert (c.timeouts.statement_timeout, c.timeouts.lock_timeout) == (45, 3)
    assert c.conninfo_kwargs("alice", None)["tcp_user_timeout"] == 25_000
    assert c.timeouts.session_settings() == {"statement_timeout": "45s", "lock_timeout": "3s"}
    assert dict(c.sources) == {**dict.fromkeys(cfg.FIELDS, "default"), "sslmode": "default"}


@pytest.mark.parametrize("bad", ["0", "-5", '"soon"', "100000", "true"])
def test_a_timeout_must_be_a_bounded_number_of_seconds(site: Path, user: Path, bad: str) -> None:
    write(site, f"statement_timeout = {bad}\n")
    with pytest.raises(ConfigError, match="statement_timeout"):
        load(site, user)


def test_the_shipped_defaults_notice_a_dead_link_within_30_seconds() -> None:
    t, connect = Timeouts(), cfg.DEFAULT_CONNECT_TIMEOUT
    # Idle connection, dead TCP link: the last keepalive probe goes unanswered.
    assert t.keepalives_idle + t.keepalives_interval * t.keepalives_count <= 30
    assert t.tcp_user_timeout <= 30  # sent data never acknowledged
    # A reply that never comes: the link check's own connection times out, then the
    # pool's one attempt at a fresh connection does.
    assert t.link_check_after + 2 * connect <= 30


def test_conninfo_several_hosts(site: Path, user: Path) -> None:
    write(site, 'sslrootcert = "/etc/phms/root.crt"\n')
    c = load(site, user, server="a,b:5433")
    kwargs = c.conninfo_kwargs("bob", "pw")
    assert kwargs["host"] == "a,b"
    assert kwargs["port"] == "5433,5433"
    assert kwargs["target_session_attrs"] == "read-write"
    assert kwargs["sslrootcert"] == "/etc/phms/root.crt"
    parsed = psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(**kwargs))
    assert parsed["target_session_attrs"] == "read-write"
    assert parsed["port"] == "5433,5433"


def test_display_address(site: Path, user: Path) -> None:
    assert load(site, user, server="db.clinic.local").display_address() == ("db.clinic.local:5432")
    assert load(site, user, server="a,b").display_address() == "a:5432, b:5432"
    assert load(site, user, server="[::1]:6000").display_address() == "[::1]:6000"
    assert load(site, user, server="/tmp").display_address() == "/tmp/.s.PGSQL.5432"


def test_credential_key_distinguishes_servers(site: Path, user: Path) -> None:
    a = load(site, user, server="a")
    b = load(site, user, server="a:6000")
    assert a.credential_key == "a:5432/phms"
    assert a.credential_key != b.credential_key


# --------------------------------------------------------------------------- saving


def test_save_user_config_round_trip(site: Path, user: Path) -> None:
    write(site, 'server = "site.clinic"\n')
    site_before = site.read_bytes()
    path = save_user_config(
        {"hospital_id": "RBH-7", "hosts": ("a.clinic", "b.clinic"), "connect_timeout": 7},
        user,
    )
    assert path == user
    assert site.read_bytes() == site_before
    assert tomllib.loads(user.read_text(encoding="utf-8")) == {
        "hospital_id": "RBH-7",
        "hosts": ["a.clinic", "b.clinic"],
        "connect_timeout": 7,
    }
    c = load(site, user)
    assert c.hosts == ("a.clinic", "b.clinic")
    assert c.hospital_id == "RBH-7"
    assert c.sources["hosts"] == f"user file {user}"
    assert [p.name for p in user.parent.iterdir()] == ["client.toml"]  # no temp files


def test_save_user_config_merges_and_removes(user: Path) -> None:
    write(user, 'server = "old"\nhospital_id = "H"\nport = 6000\n')
    save_user_config({"server": "new:5433", "port": None}, user)
    assert tomllib.loads(user.read_text(encoding="utf-8")) == {
        "hospital_id": "H",
        "server": "new:5433",
    }


def test_save_user_config_rejects_bad_values_and_keeps_file(user: Path) -> None:
    write(user, 'hospital_id = "H"\n')
    before = user.read_bytes()
    with pytest.raises(ConfigError, match="connect_timeout"):
        save_user_config({"connect_timeout": 0}, user)
    with pytest.raises(ConfigError, match="unknown"):
        save_user_config({"colour": "blue"}, user)
    assert user.read_bytes() == before
    assert [p.name for p in user.parent.iterdir()] == ["client.toml"]


def test_save_user_config_uses_env_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "deep" / "dir" / "client.toml"
    monkeypatch.setenv("PHMS_USER_CONFIG", str(target))
    assert save_user_config({"hospital_id": "X"}) == target
    assert load_config(site_path=tmp_path / "none.toml").hospital_id == "X"


# --------------------------------------------------------------------------- default paths


def test_default_site_path_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert cfg.default_site_config_path() == Path("/etc/phms/client.toml")


def test_default_site_path_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cfg.default_site_config_path() == Path("/Library/Application Support/phms/client.toml")


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout")
def test_default_user_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert cfg.default_user_config_path() == tmp_path / "phms" / "client.toml"
