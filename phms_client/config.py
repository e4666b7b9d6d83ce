"""Where the server is: layered client configuration.

Layers, later ones override earlier ones:

1. site file deployed by admins (``/etc/phms/client.toml`` on Linux,
   ``%PROGRAMDATA%\\phms\\client.toml`` on Windows,
   ``/Library/Application Support/phms/client.toml`` on macOS);
2. user file (``platformdirs.user_config_path("phms") / "client.toml"``);
3. environment (``PHMS_SERVER``, ``PHMS_PORT``, ``PHMS_DATABASE``, ``PHMS_SSLMODE``,
   ``PHMS_SSLROOTCERT``, ``PHMS_CONNECT_TIMEOUT``, ``PHMS_HOSPITAL_ID``);
4. command line ``--server HOST[:PORT]``.

Both file paths can be overridden with ``PHMS_SITE_CONFIG`` / ``PHMS_USER_CONFIG`` or
with function arguments. A file is flat TOML::

    server = "db.clinic.local"        # HOST[:PORT] or "a,b:5433"; or hosts = ["a", "b"]
    port = 5432
    database = "phms"
    sslmode = "verify-full"
    sslrootcert = "/etc/phms/root.crt" # relative paths are relative to the file
    connect_timeout = 5
    hospital_id = "RBH"               # normally only in the user file
    statement_timeout = 30            # and the other keys of phms_client.timeouts

The timeouts (``phms_client.timeouts``) are read from the files only; they are
IT's business, not the Settings dialog's.

An ``sslmode`` belongs to the hosts of its layer, and the site file sets the weakest
mode allowed for a network server (:mod:`phms_client.config_tls`).

A port given in a server string applies to every host of the list (the client uses one
port for all hosts); two different ports in one list, or a server port that contradicts
``port`` in the same layer, is a :class:`ConfigError`. Unknown keys are logged and
ignored, so an older client still starts with a newer site file. A later layer that
names hosts without a port keeps the port of the earlier layers.
"""

from __future__ import annotations

import logging
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import tomli_w

from phms_client.config_paths import (
    APP_NAME,
    FILE_NAME,
    default_site_config_path,
    default_user_config_path,
    site_path_for,
    user_path_for,
)
from phms_client.config_release import ReleaseSettings, refuse_site_only, take_release_settings
from phms_client.config_tls import (
    SSLMODE_ORDER,
    TlsFloor,
    below_floor,
    default_sslmode,
    is_local_host,
    is_socket_path,
    same_hosts,
)
from phms_client.timeouts import KEYS as TIMEOUT_KEYS
from phms_client.timeouts import MAX_SECONDS, Timeouts

__all__ = [
    "APP_NAME",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_DATABASE",
    "DEFAULT_HOSTS",
    "DEFAULT_PORT",
    "FILE_NAME",
    "SSLMODES",
    "ClientConfig",
    "ConfigError",
    "default_site_config_path",
    "default_user_config_path",
    "is_local_host",
    "load_config",
    "parse_server",
    "save_user_config",
]

log = logging.getLogger(__name__)

APPLICATION_NAME: Final = "phms-client"

DEFAULT_HOSTS: Final[tuple[str, ...]] = ("localhost",)
DEFAULT_PORT: Final = 5432
DEFAULT_DATABASE: Final = "phms"
DEFAULT_CONNECT_TIMEOUT: Final = 5
SSLMODES: Final = frozenset(SSLMODE_ORDER)

FIELDS: Final = (
    "hosts",
    "port",
    "database",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "hospital_id",
)
_FILE_KEYS: Final = frozenset({*FIELDS, *TIMEOUT_KEYS, "server"})
_ENV_FIELDS: Final = (
    ("PHMS_PORT", "port"),
    ("PHMS_DATABASE", "database"),
    ("PHMS_SSLMODE", "sslmode"),
    ("PHMS_SSLROOTCERT", "sslrootcert"),
    ("PHMS_CONNECT_TIMEOUT", "connect_timeout"),
    ("PHMS_HOSPITAL_ID", "hospital_id"),
)


class ConfigError(Exception):
    """The configuration cannot be used; the message is meant for a human."""


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to reach the PHMS database server."""

    hosts: tuple[str, ...] = DEFAULT_HOSTS
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    sslmode: str = "disable"
    sslrootcert: Path | None = None
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
    hospital_id: str = ""
    timeouts: Timeouts = field(default_factory=Timeouts)
    #: Client updates (site file only, :mod:`phms_client.config_release`).
    release: ReleaseSettings = field(default_factory=ReleaseSettings)
    sources: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict.fromkeys(FIELDS, "default")),
        compare=False,
    )

    @property
    def server_configured(self) -> bool:
        """False when the server address is only the built-in default (localhost)."""
        return self.sources.get("hosts", "default") != "default"

    @property
    def credential_key(self) -> str:
        """Identifies this server for the credential store, e.g. ``"db:5432/phms"``."""
        return f"{','.join(self.hosts)}:{self.port}/{self.database}"

    def conninfo_kwargs(self, user: str, password: str | None) -> dict[str, str | int]:
        """Keyword arguments for ``psycopg.connect`` or SQLAlchemy ``connect_args``."""
        kwargs: dict[str, str | int] = {
            "host": ",".join(self.hosts),
            "port": ",".join([str(self.port)] * len(self.hosts)),
            "dbname": self.database,
            "user": user,
            "sslmode": self.sslmode,
            "connect_timeout": self.connect_timeout,
            **self.timeouts.libpq_kwargs(),
            "application_name": APPLICATION_NAME,
        }
        if password is not None:
            kwargs["password"] = password
        if self.sslrootcert is not None:
            kwargs["sslrootcert"] = str(self.sslrootcert)
        if len(self.hosts) > 1:
            kwargs["target_session_attrs"] = "read-write"
        return kwargs

    def display_address(self) -> str:
        """Human-readable address, e.g. ``"db.clinic.local:5432"`` or ``"a:5432, b:5432"``."""
        return ", ".join(_display_host(h, self.port) for h in self.hosts)


def _display_host(host: str, port: int) -> str:
    if is_socket_path(host):
        return f"{host.rstrip('/')}/.s.PGSQL.{port}"
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


# --------------------------------------------------------------------------- parsing


def parse_server(text: str, *, where: str = "server address") -> tuple[tuple[str, ...], int | None]:
    """Parse ``HOST[:PORT]`` or a comma-separated list like ``"a,b:5433"``.

    Returns the hosts and the port given (or None). IPv6 addresses are written
    ``[::1]:5432``; a bare ``::1`` is a host without port. Unix socket directories
    (starting with ``/``) never carry a port.
    """
    hosts: list[str] = []
    ports: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise ConfigError(f"{where}: {text!r} contains an empty host name.")
        host, port = _split_host_port(item, where)
        hosts.append(host)
        if port is not None:
            ports.add(port)
    if len(ports) > 1:
        raise ConfigError(
            f"{where}: {text!r} gives different ports ({', '.join(map(str, sorted(ports)))}); "
            "all hosts of one server list must use the same port."
        )
    return tuple(hosts), (ports.pop() if ports else None)


def _split_host_port(item: str, where: str) -> tuple[str, int | None]:
    if is_socket_path(item):
        return item, None
    if item.startswith("["):
        end = item.find("]")
        if end == -1:
            raise ConfigError(f"{where}: {item!r} has an unclosed '['.")
        host, rest = item[1:end], item[end + 1 :]
        if not host:
            raise ConfigError(f"{where}: {item!r} has an empty host name.")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ConfigError(f"{where}: {item!r} is not of the form [ADDRESS]:PORT.")
        return host, _parse_port(rest[1:], where)
    if item.count(":") == 1:
        host, port_text = item.split(":")
        if not host:
            raise ConfigError(f"{where}: {item!r} has an empty host name.")
        return host, _parse_port(port_text, where)
    return item, None  # plain host name, or a bare IPv6 address


def _parse_port(value: object, where: str) -> int:
    port = _parse_int(value, where, "port")
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port {port} is out of range (1-65535).")
    return port


def _parse_int(value: object, where: str, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {name} must be a whole number, not {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: {name} must be a whole number, not {value!r}.")


def _parse_str(value: object, where: str, name: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be text, not {value!r}.")
    value = value.strip()
    if not value and not allow_empty:
        raise ConfigError(f"{where}: {name} must not be empty.")
    return value


def _parse_layer(
    raw: Mapping[str, Any], where: str, *, base_dir: Path | None = None
) -> dict[str, Any]:
    """Validate one layer's raw values; return only the fields it sets."""
    out: dict[str, Any] = {}
    for key in raw:
        if key not in _FILE_KEYS:
            log.warning("%s: ignoring unknown setting %r", where, key)
    if "server" in raw and "hosts" in raw:
        raise ConfigError(f"{where}: give either 'server' or 'hosts', not both.")
    server_port: int | None = None
    if "server" in raw:
        out["hosts"], server_port = parse_server(
            _parse_str(raw["server"], where, "server"), where=f"{where}: server"
        )
    if "hosts" in raw:
        value = raw["hosts"]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: hosts must be a non-empty list of host names.")
        hosts: list[str] = []
        for item in value:
            item_hosts, item_port = parse_server(
                _parse_str(item, where, "hosts"), where=f"{where}: hosts"
            )
            if item_port is not None and server_port not in (None, item_port):
                raise ConfigError(f"{where}: hosts give different ports; use one port.")
            server_port = item_port if item_port is not None else server_port
            hosts.extend(item_hosts)
        out["hosts"] = tuple(hosts)
    if "port" in raw:
        out["port"] = _parse_port(raw["port"], where)
        if server_port is not None and server_port != out["port"]:
            raise ConfigError(
                f"{where}: the server address says port {server_port} "
                f"but port is {out['port']}; remove one of them."
            )
    elif server_port is not None:
        out["port"] = server_port
    if "database" in raw:
        out["database"] = _parse_str(raw["database"], where, "database")
        if "=" in out["database"] or "://" in out["database"]:
            # libpq reads such a "name" as connection settings (host, sslmode...).
            raise ConfigError(
                f"{where}: database {out['database']!r} looks like connection settings; "
                "give the database's name only."
            )
    if "sslmode" in raw:
        mode = _parse_str(raw["sslmode"], where, "sslmode").lower()
        if mode not in SSLMODES:
            raise ConfigError(
                f"{where}: sslmode {mode!r} is not known; use one of {', '.join(sorted(SSLMODES))}."
            )
        out["sslmode"] = mode
    if "sslrootcert" in raw:
        cert = Path(_parse_str(raw["sslrootcert"], where, "sslrootcert")).expanduser()
        if base_dir is not None and not cert.is_absolute():
            cert = base_dir / cert
        out["sslrootcert"] = cert
    if "connect_timeout" in raw:
        timeout = _parse_int(raw["connect_timeout"], where, "connect_timeout")
        if timeout <= 0:
            raise ConfigError(
                f"{where}: connect_timeout must be a number of seconds above 0, not {timeout}."
            )
        out["connect_timeout"] = timeout
    if "hospital_id" in raw:
        out["hospital_id"] = _parse_str(raw["hospital_id"], where, "hospital_id", allow_empty=True)
    for key in sorted(TIMEOUT_KEYS & raw.keys()):
        seconds = _parse_int(raw[key], where, key)
        if not 1 <= seconds <= MAX_SECONDS:
            raise ConfigError(
                f"{where}: {key} must be between 1 and {MAX_SECONDS} seconds, not {seconds}."
            )
        out[key] = seconds
    return out


def _read_file(path: Path, label: str) -> dict[str, Any]:
    """Read one TOML file; a missing file is an empty layer."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{label}: cannot be read ({exc.strerror or exc}).") from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: is not UTF-8 text.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: is not valid TOML ({exc}).") from exc


# --------------------------------------------------------------------------- loading


Layer = tuple[dict[str, Any], dict[str, str]]  # values, and where each came from


def _file_layer(path: Path, label: str, *, site: bool = False) -> tuple[Layer, ReleaseSettings]:
    raw = _read_file(path, label)
    try:
        release = take_release_settings(raw, label, path.parent) if site else ReleaseSettings()
        refuse_site_only(raw, label)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    values = _parse_layer(raw, label, base_dir=path.parent)
    return (values, dict.fromkeys(values, label)), release


def _env_layer(env: Mapping[str, str]) -> Layer:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if env.get("PHMS_SERVER", "").strip():
        label = "environment PHMS_SERVER"
        hosts, port = parse_server(env["PHMS_SERVER"].strip(), where=label)
        values["hosts"] = hosts
        sources["hosts"] = label
        if port is not None:
            values["port"] = port
            sources["port"] = label
    for var, name in _ENV_FIELDS:
        text = env.get(var, "")
        if not text.strip():
            continue
        label = f"environment {var}"
        parsed = _parse_layer({name: text}, label)
        if name == "port" and "port" in values and parsed["port"] != values["port"]:
            raise ConfigError(
                f"environment: PHMS_SERVER says port {values['port']} "
                f"but PHMS_PORT is {parsed['port']}; remove one of them."
            )
        values.update(parsed)
        sources[name] = label
    return values, sources


def load_config(
    *,
    server: str | None = None,
    site_path: Path | str | None = None,
    user_path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    user_label: str | None = None,
) -> ClientConfig:
    """Build the effective configuration from all layers.

    ``server`` is the ``--server`` command-line value; ``environ`` defaults to
    ``os.environ``; ``user_label`` names the user file in messages (default: its
    path). Raises :class:`ConfigError` for anything unusable, including an sslmode
    below the site's floor for a network server (:mod:`phms_client.config_tls`).
    """
    env = os.environ if environ is None else environ
    site = site_path_for(env, site_path)
    site_label = f"site file {site}"
    user = user_path_for(env, user_path)
    site_layer, release = _file_layer(site, site_label, site=True)
    layers = [site_layer, _file_layer(user, user_label or f"user file {user}")[0], _env_layer(env)]
    if server is not None and server.strip():
        cli = _parse_layer({"server": server}, "command line --server")
        layers.append((cli, dict.fromkeys(cli, "command line")))

    values: dict[str, Any] = {}
    sources: dict[str, str] = dict.fromkeys(FIELDS, "default")
    floor = TlsFloor()
    for index, (layer, layer_sources) in enumerate(layers):
        hosts_before = values.get("hosts", DEFAULT_HOSTS)
        if (
            "sslmode" in values
            and "sslmode" not in layer
            and "hosts" in layer
            and not same_hosts(layer["hosts"], hosts_before)
        ):
            # That sslmode was written for other servers: it does not carry over.
            log.info("sslmode from %s does not apply to other hosts", sources["sslmode"])
            del values["sslmode"]
            sources["sslmode"] = "default"
        values.update(layer)
        sources.update((k, v) for k, v in layer_sources.items() if k in FIELDS)
        if index == 0:
            hosts = values.get("hosts", DEFAULT_HOSTS)
            floor = TlsFloor.from_site(layer.get("sslmode"), hosts, site_label)

    hosts = values.get("hosts", DEFAULT_HOSTS)
    if "sslmode" not in values:
        values["sslmode"] = default_sslmode(hosts)
    elif sources["sslmode"] != site_label:
        problem = below_floor(values["sslmode"], sources["sslmode"], hosts, floor)
        if problem is not None:
            raise ConfigError(problem)
    timeouts = Timeouts(**{k: values.pop(k) for k in TIMEOUT_KEYS & values.keys()})
    return ClientConfig(
        **values, timeouts=timeouts, release=release, sources=MappingProxyType(sources)
    )


def save_user_config(values: Mapping[str, object], path: Path | str | None = None) -> Path:
    """Merge ``values`` into the user file and write it atomically; return its path.

    Keys are the file keys (``server``, ``hosts``, ``port``, ``database``, ``sslmode``,
    ``sslrootcert``, ``connect_timeout``, ``hospital_id``, the timeouts); a value of None
    removes the key. Values are validated first, so a file that could not be read back is never
    written. The site file is never touched.
    """
    target = user_path_for(os.environ, path)
    label = f"user file {target}"
    unknown = set(values) - _FILE_KEYS
    if unknown:
        raise ConfigError(f"{label}: unknown setting(s) {', '.join(sorted(unknown))}.")
    merged: dict[str, Any] = dict(_read_file(target, label))
    for key, value in values.items():
        if key in ("server", "hosts"):
            merged.pop("server", None)
            merged.pop("hosts", None)
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, tuple):
            merged[key] = list(value)
        elif isinstance(value, Path):
            merged[key] = str(value)
        else:
            merged[key] = value
    _parse_layer(merged, label, base_dir=target.parent)  # validate before writing
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".client.", suffix=".toml", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                tomli_w.dump(merged, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"{label}: cannot be written ({exc.strerror or exc}).") from exc
    return target
