"""The installed program starts the newest update instead of itself.

Menus and shortcuts keep pointing at the program IT installed (``/opt/phms/phms``,
``C:\\Program Files\\PHMS\\phms.exe``). When that program starts, before any
window, it looks at the versions folder's ``current`` (:mod:`.install`): if it
names an installed version newer than itself, that version runs instead, with
the same arguments. On POSIX the process becomes the new program (``os.execve``:
``phms --version`` prints the new version); on Windows the new program is started
and this one exits.

Only a bundled program does this (a copy run from source is what it is), never
for a version older than or equal to itself (IT may install a newer program over
an older update), and never twice in a row (:data:`STARTED_BY_LAUNCHER`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from phms_client.config_release import load_site_release
from phms_client.update.errors import UpdateError
from phms_client.update.install import (
    Installed,
    VersionsFolder,
    child_environment,
    default_folder,
    launch,
    restart_command,
)
from phms_client.update.versions import is_newer
from phms_client.version import client_version

log = logging.getLogger(__name__)

#: Set for the program the launcher starts, so that it never starts another.
STARTED_BY_LAUNCHER: Final = "PHMS_STARTED_BY_LAUNCHER"


def versions_folder(update_folder: Path | None) -> VersionsFolder:
    return VersionsFolder(update_folder or default_folder())


def newer_update(folder: VersionsFolder, own_version: str, own_program: Path) -> Installed | None:
    """The version ``current`` names, if it is newer than this program and not this program."""
    current = folder.current()
    if current is None or not is_newer(current.version, own_version):
        return None
    try:
        if current.executable.resolve() == own_program.resolve():
            return None
    except OSError:
        return None
    return current


def start_newest(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> bool:
    """In a bundled program: hand over to a newer installed update. True if one was started
    (this program should then exit); on POSIX a successful hand-over does not return."""
    env = os.environ if environ is None else environ
    if not getattr(sys, "frozen", False) or env.get(STARTED_BY_LAUNCHER):
        return False
    folder = versions_folder(load_site_release(environ=env).update_folder)
    target = newer_update(folder, client_version(), Path(sys.executable))
    if target is None:
        return False
    command = restart_command(target, argv)
    child = {**child_environment(env), STARTED_BY_LAUNCHER: "1"}
    try:
        if os.name == "posix":
            os.execve(command[0], command, child)
        os.environ[STARTED_BY_LAUNCHER] = "1"  # inherited by the program started next
        launch(command)
    except (OSError, UpdateError) as exc:
        log.warning("could not start PHMS %s (%s); starting this version", target.version, exc)
        return False
    return True
