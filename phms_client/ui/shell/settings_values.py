"""The Settings window's values, without the window: where the configuration layers
come from (:class:`ConfigLocation`), where a value comes from in words, and what the
values typed change in the user's settings file (checked across every layer before
anything is written). Nothing here imports Qt.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import tomli_w

from phms_client.config import (
    ClientConfig,
    ConfigError,
    load_config,
    parse_server,
    save_user_config,
)

# The config module's own path rules and file reader, so the dialog cannot disagree
# with load_config about which files are meant.
from phms_client.config import _read_file as read_config_file
from phms_client.config_paths import site_path_for, user_path_for

__all__ = [
    "FIELD_LABELS",
    "ConfigLocation",
    "candidate_config",
    "describe_source",
    "text_of",
    "user_changes",
    "whole_number",
]

#: The settings the window edits, with their labels.
FIELD_LABELS: Final = {
    "hosts": "Server",
    "port": "Port",
    "database": "Database",
    "sslmode": "Encryption (TLS)",
    "sslrootcert": "CA certificate",
    "connect_timeout": "Connect timeout (s)",
    "hospital_id": "Hospital ID",
}


@dataclasses.dataclass(frozen=True)
class ConfigLocation:
    """Where the configuration layers come from (files, environment, ``--server``)."""

    server: str | None = None
    site_path: Path | None = None
    user_path: Path | None = None
    environ: Mapping[str, str] | None = None

    def _env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    @property
    def site_file(self) -> Path:
        return site_path_for(self._env(), self.site_path)

    @property
    def user_file(self) -> Path:
        return user_path_for(self._env(), self.user_path)

    def load(self, *, user_file: Path | None = None) -> ClientConfig:
        """The effective configuration; raises ConfigError.

        ``user_file`` stands in for the user's file (a trial copy, or none); messages
        still name the user's real file, which is what the person knows.
        """
        return load_config(
            server=self.server,
            site_path=self.site_file,
            user_path=user_file or self.user_file,
            environ=self._env(),
            user_label=f"user file {self.user_file}",
        )


def describe_source(source: str) -> tuple[str, bool]:
    """A short text for where a value comes from, and whether it beats this form."""
    if source.startswith("site file"):
        return "site file (managed by IT)", False
    if source.startswith("user file"):
        return "your settings", False
    if source.startswith("environment"):
        return f"environment variable {source.split()[-1]} — overrides this form", True
    if source == "command line":
        return "command line --server — overrides this form", True
    return "built-in default", False


def text_of(config: ClientConfig, name: str) -> str:
    """A setting's value as the window shows it."""
    value = getattr(config, name)
    if name == "hosts":
        return ", ".join(value)
    if value is None:
        return ""
    return str(value)


def user_changes(values: Mapping[str, str], initial: Mapping[str, str]) -> dict[str, object]:
    """What to write to the user file for the values typed (None removes a key); only
    what differs from ``initial``. Raises ConfigError."""
    out: dict[str, object] = {}
    server_port: int | None = None
    for name in FIELD_LABELS:
        text = values[name]
        if text == initial[name]:
            continue  # unchanged: keep following the site file / default
        if not text:
            out[name] = None
        elif name in ("port", "connect_timeout"):
            out[name] = whole_number(name, text)
        elif name == "hosts":
            out["hosts"], server_port = parse_server(text, where="Server")
        elif name == "sslrootcert":
            out[name] = Path(text).expanduser()
        else:
            out[name] = text
    if server_port is not None:
        typed = out.get("port")
        if typed is not None and typed != server_port:
            raise ConfigError(
                f"Server: “{values['hosts']}” says port {server_port} but the Port "
                f"field says {typed}; give the port in one place."
            )
        out["port"] = server_port
    return out


def whole_number(name: str, text: str) -> int:
    """A port or a timeout as typed; raises ConfigError in words."""
    label = FIELD_LABELS[name]
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"{label}: “{text}” is not a whole number.") from None
    if name == "port" and not 1 <= number <= 65535:
        raise ConfigError(f"{label}: {number} is not a port number (1 to 65535).")
    if name == "connect_timeout" and number <= 0:
        raise ConfigError(f"{label}: give a number of seconds above 0.")
    return number


def candidate_config(location: ConfigLocation, changes: Mapping[str, object]) -> ClientConfig:
    """The configuration ``changes`` would give, checked across all layers, written to a
    trial copy of the user file (the real one is not touched)."""
    user_file = location.user_file
    raw = dict(read_config_file(user_file, f"user file {user_file}"))
    cert = raw.get("sslrootcert")
    if isinstance(cert, str) and not Path(cert).expanduser().is_absolute():
        raw["sslrootcert"] = str(user_file.parent / cert)  # as load_config reads it
    with tempfile.TemporaryDirectory(prefix="phms-settings-") as folder:
        trial = Path(folder) / "client.toml"
        trial.write_bytes(tomli_w.dumps(raw).encode())
        save_user_config(changes, trial)
        return location.load(user_file=trial)
