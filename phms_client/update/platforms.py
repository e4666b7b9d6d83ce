"""Which bundle fits this computer: the platform name and the program's file name."""

from __future__ import annotations

import platform
import re
import sys
from typing import Final

from phms_schema.client_release import PLATFORM_RE

_SYSTEMS: Final = {"win32": "windows", "darwin": "macos", "cygwin": "windows"}
_MACHINES: Final = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "i686": "x86"}


def this_platform() -> str:
    """``linux-x86_64``, ``windows-x86_64``, ``macos-arm64`` …"""
    system = _SYSTEMS.get(sys.platform, "linux" if sys.platform.startswith("linux") else "")
    system = system or re.sub(r"[^a-z0-9]", "", sys.platform.lower())[:16] or "unknown"
    machine = platform.machine().lower()
    machine = _MACHINES.get(machine, re.sub(r"[^a-z0-9_]", "", machine)[:16] or "unknown")
    return f"{system}-{machine}"


def is_platform(text: str) -> bool:
    return re.fullmatch(PLATFORM_RE.strip("^$"), text) is not None


def executable_name(platform_name: str) -> str:
    """The program's file name inside a bundle for ``platform_name``."""
    return "phms.exe" if platform_name.startswith("windows-") else "phms"
