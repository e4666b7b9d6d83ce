"""A client bundle as shipped: one folder (``phms/`` from the PyInstaller spec) in a
``.tar.gz`` (Linux, macOS) or ``.zip`` (Windows), told apart by content.

:func:`bundle_facts` reads what a bundle says about itself without unpacking it:
its folder, its program (``phms`` or ``phms.exe``) and its version (from the
``phms-VERSION.dist-info/METADATA`` the spec copies in). :func:`unpack` unpacks
it into an empty folder, bounded (:data:`MAX_UNPACKED_BYTES`, :data:`MAX_MEMBERS`)
and safely: tar with Python's ``data`` filter (no absolute paths, no ``..``, no
links leaving the folder, no device files, no set-uid bits); zip refusing the
same by hand. Both are the standard library's; nothing here is POSIX-only.
"""

from __future__ import annotations

import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from phms_client.update.errors import UpdateError

#: Largest unpacked bundle (a PyInstaller client is about 250 MB).
MAX_UNPACKED_BYTES: Final = 2 * 1024 * 1024 * 1024
#: Most files a bundle may hold.
MAX_MEMBERS: Final = 50_000
_METADATA: Final = re.compile(r"(?:_internal/)?phms-[^/]+\.dist-info/METADATA")


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    is_file: bool


@dataclass(frozen=True)
class BundleFacts:
    """What a bundle says about itself."""

    folder: str
    executable: str
    version: str

    @property
    def platform_family(self) -> str:
        return "windows" if self.executable.endswith(".exe") else "linux"


def _kind(path: Path) -> str:
    try:
        if zipfile.is_zipfile(path):
            return "zip"
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError as exc:
        raise UpdateError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    raise UpdateError(f"{path.name} is neither a .tar.gz nor a .zip bundle.")


def _members(path: Path) -> list[Member]:
    try:
        if _kind(path) == "zip":
            with zipfile.ZipFile(path) as zf:
                return [Member(i.filename, i.file_size, not i.is_dir()) for i in zf.infolist()]
        with tarfile.open(path, "r:*") as tf:
            return [Member(m.name, m.size, m.isfile()) for m in tf.getmembers()]
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise UpdateError(f"{path.name} is damaged ({exc}).") from exc


def _read(path: Path, name: str) -> bytes:
    if _kind(path) == "zip":
        with zipfile.ZipFile(path) as zf:
            return zf.read(name)
    with tarfile.open(path, "r:*") as tf:
        member = tf.extractfile(name)
        if member is None:
            raise UpdateError(f"{name} in {path.name} is not a file.")
        return member.read()


def _check_bounds(path: Path, members: list[Member]) -> str:
    """The bundle's one top folder; UpdateError if the archive is not a bundle's shape."""
    if not members:
        raise UpdateError(f"{path.name} is empty.")
    if len(members) > MAX_MEMBERS:
        raise UpdateError(f"{path.name} holds more than {MAX_MEMBERS} files.")
    if sum(m.size for m in members) > MAX_UNPACKED_BYTES:
        raise UpdateError(f"{path.name} unpacks to more than {MAX_UNPACKED_BYTES >> 30} GB.")
    tops = set()
    for member in members:
        if "\\" in member.name:
            raise UpdateError(
                f"{path.name} writes \\ in its file names ({member.name!r}), as PowerShell 5's "
                "Compress-Archive does; make the archive with tar (admin guide)."
            )
        parts = PurePosixPath(member.name).parts
        if not parts or member.name.startswith("/") or ".." in parts:
            raise UpdateError(f"{path.name} contains a file outside its folder ({member.name!r}).")
        tops.add(parts[0])
    if len(tops) != 1:
        raise UpdateError(f"{path.name} must hold exactly one folder (the phms folder).")
    return tops.pop()


def bundle_facts(path: Path) -> BundleFacts:
    members = _members(path)
    top = _check_bounds(path, members)
    files = {m.name.removeprefix(f"{top}/") for m in members if m.is_file}
    executable = next((name for name in ("phms.exe", "phms") if name in files), None)
    if executable is None:
        raise UpdateError(f"{path.name} has no phms program in its folder {top}/.")
    metadata = sorted(name for name in files if _METADATA.fullmatch(name))
    if len(metadata) != 1:
        raise UpdateError(
            f"{path.name} does not say its version (no phms-VERSION.dist-info/METADATA); "
            "build it with installer/client/phms.spec."
        )
    text = _read(path, f"{top}/{metadata[0]}").decode("utf-8", "replace")
    found = re.search(r"^Version:\s*(\S+)\s*$", text, re.MULTILINE)
    if found is None:
        raise UpdateError(f"{path.name}: its METADATA has no Version line.")
    return BundleFacts(top, executable, found.group(1))


def unpack(path: Path, into: Path) -> Path:
    """Unpack ``path`` into the empty folder ``into``; return the bundle's folder in it."""
    members = _members(path)
    top = _check_bounds(path, members)
    try:
        if _kind(path) == "zip":
            _unzip(path, into)
        else:
            with tarfile.open(path, "r:*") as tf:
                tf.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise UpdateError(f"{path.name} could not be unpacked ({exc}).") from exc
    except OSError as exc:
        raise UpdateError(f"Unpacking {path.name} failed: {exc.strerror or exc}.") from exc
    folder = into / top
    if not folder.is_dir():
        raise UpdateError(f"{path.name} did not unpack to a folder.")
    return folder


def _unzip(path: Path, into: Path) -> None:
    root = into.resolve()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UpdateError(f"{path.name} contains a link ({info.filename!r}); refused.")
            target = (root / info.filename).resolve()
            if not target.is_relative_to(root):
                raise UpdateError(f"{path.name} contains a file outside its folder.")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            if mode & 0o111:  # made on Linux: keep "executable" (ignored on Windows)
                target.chmod(0o755)
