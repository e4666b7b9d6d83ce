"""Where the client's settings files are, on each operating system."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import platformdirs

__all__ = [
    "APP_NAME",
    "FILE_NAME",
    "default_site_config_path",
    "default_user_config_path",
    "site_path_for",
    "user_path_for",
]

APP_NAME: Final = "phms"
FILE_NAME: Final = "client.toml"


def default_site_config_path() -> Path:
    """The admins' site-wide file for this operating system."""
    if sys.platform == "win32":
        # C:\ProgramData\phms (platformdirs asks Windows for CSIDL_COMMON_APPDATA).
        return platformdirs.site_config_path(APP_NAME, appauthor=False) / FILE_NAME
    if sys.platform == "darwin":
        # platformdirs may prefer a Homebrew prefix here; admins deploy to /Library.
        return Path("/Library/Application Support") / APP_NAME / FILE_NAME
    # platformdirs gives /etc/xdg/phms on Linux; admins expect /etc/phms.
    return Path("/etc") / APP_NAME / FILE_NAME


def default_user_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / FILE_NAME


def site_path_for(environ: Mapping[str, str], path: Path | str | None) -> Path:
    if path is not None:
        return Path(path)
    if environ.get("PHMS_SITE_CONFIG"):
        return Path(environ["PHMS_SITE_CONFIG"])
    return default_site_config_path()


def user_path_for(environ: Mapping[str, str], path: Path | str | None) -> Path:
    if path is not None:
        return Path(path)
    if environ.get("PHMS_USER_CONFIG"):
        return Path(environ["PHMS_USER_CONFIG"])
    return default_user_config_path()
