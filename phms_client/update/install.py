"""The versions folder: updates unpacked beside each other, one pointer says which runs.

Layout (``release_update_folder`` of the site file, else a folder of the person's
own, ``platformdirs.user_data_path("phms") / "versions"``)::

    versions/0.2.0/phms         an earlier update (kept to go back to)
    versions/0.3.0/phms         the newest (phms.exe on Windows)
    versions/current            one line: "0.3.0"

:meth:`VersionsFolder.install` unpacks a checked bundle into a temporary folder
*inside* ``versions`` (same disk), renames it to its version once complete, and
only then replaces ``current`` (``os.replace``: atomic on Windows and POSIX).
Any failure before that leaves ``current`` and every installed version as they
were. The installed program (:mod:`.launcher`) starts the version ``current``
names when it is newer than itself; to go back, write the earlier version in
``current``, or delete it to use the installed program.

:func:`launch` starts the new program as a process of its own that outlives this
one: ``start_new_session`` on POSIX, ``DETACHED_PROCESS`` on Windows (no
``os.fork``), with ``PYINSTALLER_RESET_ENVIRONMENT=1`` (PyInstaller's way for a
bundle to start an independent program) and the library path this program was
started with.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import platformdirs

from phms_client.config_paths import APP_NAME
from phms_client.update.archive import bundle_facts, unpack
from phms_client.update.errors import UpdateError
from phms_client.update.platforms import executable_name, this_platform
from phms_client.update.versions import canonical_version

if TYPE_CHECKING:
    from phms_client.update.manifest import Manifest

POINTER: Final = "current"
#: Room needed on the disk beyond the download: the unpacked bundle is about this many
#: times the size of its archive.
UNPACK_FACTOR: Final = 4


def default_folder() -> Path:
    """The person's own versions folder (never roaming: a bundle is hundreds of MB)."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False, roaming=False) / "versions"


@dataclass(frozen=True)
class Installed:
    version: str
    folder: Path
    executable: Path


class VersionsFolder:
    """One versions folder, for programs of ``platform``."""

    def __init__(self, root: Path, platform: str | None = None) -> None:
        self.root = root
        self.platform = platform or this_platform()
        self.executable_name = executable_name(self.platform)

    def installed(self, version: str) -> Installed | None:
        folder = self.root / version
        program = folder / self.executable_name
        return Installed(version, folder, program) if program.is_file() else None

    def current(self) -> Installed | None:
        """The version ``current`` names, if it is installed; None otherwise."""
        try:
            text = (self.root / POINTER).read_text(encoding="utf-8")[:100].strip()
            version = canonical_version(text)
        except (OSError, UnicodeDecodeError, UpdateError):
            return None
        return self.installed(version)

    def check_writable(self) -> None:
        """UpdateError (in the person's words) when updates cannot be put here."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            raise UpdateError(
                f"PHMS cannot write to its versions folder {self.root} "
                f"({exc.strerror or exc}). Please ask IT to install the update."
            ) from exc

    def install(
        self, archive: Path, manifest: Manifest, *, keep: Collection[str] = ()
    ) -> Installed:
        """Unpack the checked ``archive`` as ``manifest.version`` and point ``current`` to it.

        The version ``current`` named before stays (to go back to), and so do those in
        ``keep`` (the one running now); older ones are removed.
        """
        self.check_writable()
        facts = bundle_facts(archive)
        if facts.version != manifest.version:
            raise UpdateError(
                f"The bundle says it is PHMS {facts.version}, not {manifest.version}; "
                "it was not installed."
            )
        if facts.executable != self.executable_name:
            raise UpdateError(
                f"The bundle is not for this computer ({facts.executable}, "
                f"expected {self.executable_name})."
            )
        needed = manifest.size * UNPACK_FACTOR
        if shutil.disk_usage(self.root).free < needed:
            raise UpdateError(
                f"Not enough free disk space for the update in {self.root} "
                f"(about {needed // 1024 // 1024} MB needed)."
            )
        before = self.current()  # kept, to go back to
        target = self.root / manifest.version
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.root))
        try:
            folder = unpack(archive, partial)
            if not (folder / self.executable_name).is_file():
                raise UpdateError("The unpacked bundle has no phms program.")
            _move_into_place(folder, target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        self._point_to(manifest.version)
        self.tidy(keep={manifest.version, *keep, *([before.version] if before else [])})
        installed = self.installed(manifest.version)
        assert installed is not None
        return installed

    def _point_to(self, version: str) -> None:
        temporary = self.root / f".{POINTER}-{secrets.token_hex(4)}"
        try:
            with temporary.open("w", encoding="utf-8") as fh:
                fh.write(version + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, self.root / POINTER)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise UpdateError(
                f"The update was unpacked but could not be switched on ({exc.strerror or exc}); "
                "PHMS keeps using the version it has."
            ) from exc

    def tidy(self, keep: Collection[str]) -> None:
        """Remove other versions and leftovers (best effort: a running one stays)."""
        for entry in self.root.iterdir():
            if entry.name == POINTER or entry.name in keep or not entry.is_dir():
                continue
            shutil.rmtree(entry, ignore_errors=True)


def _move_into_place(folder: Path, target: Path) -> None:
    """Rename the unpacked ``folder`` to ``target``; one already there goes aside first."""
    aside = target.with_name(f".old-{target.name}-{secrets.token_hex(4)}")
    moved_aside = False
    try:
        if target.exists():
            target.rename(aside)
            moved_aside = True
        folder.rename(target)
    except OSError as exc:
        if moved_aside and not target.exists():
            with contextlib.suppress(OSError):
                aside.rename(target)
        raise UpdateError(
            f"The update could not be put in place ({exc.strerror or exc}); nothing was changed."
        ) from exc
    if moved_aside:
        shutil.rmtree(aside, ignore_errors=True)


# --------------------------------------------------------------------------- restart


def restart_command(installed: Installed, args: Sequence[str]) -> list[str]:
    """The new program with this program's own arguments (e.g. ``--server``)."""
    return [str(installed.executable), *args]


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an independent program started from this one."""
    env = dict(os.environ if environ is None else environ)
    env["PYINSTALLER_RESET_ENVIRONMENT"] = "1"
    if "LD_LIBRARY_PATH_ORIG" in env:  # a PyInstaller bundle on Linux changed it
        env["LD_LIBRARY_PATH"] = env.pop("LD_LIBRARY_PATH_ORIG")
    elif getattr(sys, "frozen", False):
        env.pop("LD_LIBRARY_PATH", None)
    return env


def launch(command: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ``command`` as a program of its own (it goes on when this one quits)."""
    program = Path(command[0])
    detached = getattr(subprocess, "DETACHED_PROCESS", 0x8) | getattr(
        subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200
    )
    try:
        process = subprocess.Popen(
            list(command),
            cwd=program.parent,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            # Windows: no console, not ended with this program; POSIX: its own session.
            creationflags=detached if sys.platform == "win32" else 0,
            start_new_session=sys.platform != "win32",
        )
    except OSError as exc:
        raise UpdateError(
            f"The new version is installed but could not be started ({exc.strerror or exc}). "
            "Start PHMS again yourself."
        ) from exc
    # Collect its exit status if it ends while this program still runs (no zombie).
    threading.Thread(target=process.wait, name="phms-restarted", daemon=True).start()
    return process
