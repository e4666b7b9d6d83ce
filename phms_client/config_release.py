"""Client updates: the settings only IT sets, in the site file.

::

    release_public_key = "base64…"          # from 'phms-admin release keygen'
    release_share = "\\\\fileserver\\phms"  # where 'release publish --share' put bundles
    update_folder = "D:/PHMS/versions"       # shared versions folder (default: per person)

The public key decides which bundles a workstation installs and runs, so a user
file, the environment or the command line may not set it (nor where bundles
come from or go): a user file naming one of these keys is refused with a
message, like an sslmode below the site's floor (:mod:`phms_client.config_tls`).
Without ``release_public_key`` the client offers no updates.
"""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from phms_client.config_paths import site_path_for

__all__ = [
    "SITE_ONLY_KEYS",
    "ReleaseSettings",
    "load_site_release",
    "refuse_site_only",
    "take_release_settings",
]

SITE_ONLY_KEYS: Final = ("release_public_key", "release_share", "update_folder")


@dataclass(frozen=True)
class ReleaseSettings:
    """Where updates come from and go, and the key they must be signed with."""

    #: Base64 of the Ed25519 public key; empty: this workstation offers no updates.
    public_key: str = ""
    #: Folder of bundles published with ``--share`` (as this workstation reaches it).
    share: Path | None = None
    #: Versions folder shared by everyone on this computer; None: each person's own.
    update_folder: Path | None = None

    @property
    def updates_configured(self) -> bool:
        return bool(self.public_key)


def _path(value: object, where: str, key: str, base_dir: Path | None) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key} must be a folder name, not {value!r}.")
    path = Path(value.strip()).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return path


def take_release_settings(
    raw: MutableMapping[str, Any], where: str, base_dir: Path | None = None
) -> ReleaseSettings:
    """Remove the update keys from the site file's ``raw`` values and check them.

    Raises ValueError with a message for a human."""
    values: dict[str, Any] = {}
    if "release_public_key" in raw:
        key = raw.pop("release_public_key")
        try:
            decoded = base64.b64decode(key.strip(), validate=True) if isinstance(key, str) else b""
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ValueError(
                f"{where}: release_public_key is not an Ed25519 public key (base64 of 32 "
                "bytes); copy the line printed by 'phms-admin release keygen'."
            )
        values["public_key"] = key.strip()
    for key, name in (("release_share", "share"), ("update_folder", "update_folder")):
        if key in raw:
            values[name] = _path(raw.pop(key), where, key, base_dir)
    return ReleaseSettings(**values)


def refuse_site_only(raw: Mapping[str, Any], where: str) -> None:
    """A user file may not name the update keys: ValueError saying so."""
    found = [key for key in SITE_ONLY_KEYS if key in raw]
    if found:
        raise ValueError(
            f"{where}: {', '.join(found)} can only be set by IT, in the site file; "
            "remove it from this file."
        )


def load_site_release(
    site_path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> ReleaseSettings:
    """The site file's update settings alone (for the launcher); defaults if unreadable."""
    path = site_path_for(os.environ if environ is None else environ, site_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return take_release_settings(raw, f"site file {path}", path.parent)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError):
        return ReleaseSettings()
