"""Small real client bundles for the update tests: a folder with a ``phms`` program (a
shell script that writes down that it ran, and with which arguments) and the
``phms-VERSION.dist-info/METADATA`` a PyInstaller bundle carries, as .tar.gz or .zip."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path

from phms_admin import release_key

KEY_PASSPHRASE = b"a long test passphrase"

PROGRAM = """#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
echo "PHMS {version} started: $*" > "$here/started.txt"
"""


def program_bytes(version: str, windows: bool) -> bytes:
    """The bundle's program: a shell script; for Windows on Windows a real program
    (``cmd.exe``, which :data:`WINDOWS_ARGS` make write ``started.txt``)."""
    if windows and sys.platform == "win32":
        return (
            Path(os.environ.get("SYSTEMROOT", "C:\\Windows")) / "System32" / "cmd.exe"
        ).read_bytes()
    return PROGRAM.format(version=version).encode()


#: Arguments that make the Windows test program (cmd.exe) write ``started.txt`` beside itself.
WINDOWS_ARGS = ["/c", "echo started> started.txt"]


def bundle_files(version: str, *, windows: bool = False, padding: int = 0) -> dict[str, bytes]:
    """Files of a bundle (path inside the archive -> bytes); ``padding`` random bytes more."""
    program = "phms.exe" if windows else "phms"
    files = {
        f"phms/{program}": program_bytes(version, windows),
        f"phms/_internal/phms-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: phms\nVersion: {version}\n"
        ).encode(),
        "phms/_internal/base_library.zip": b"not really a library\n",
    }
    if padding:
        files["phms/_internal/padding.bin"] = os.urandom(padding)  # incompressible
    return files


def write_bundle(
    folder: Path,
    version: str,
    *,
    kind: str = "tar",
    windows: bool = False,
    padding: int = 0,
    files: dict[str, bytes] | None = None,
) -> Path:
    """Write a bundle archive in ``folder``; ``files`` replaces the usual content."""
    content = bundle_files(version, windows=windows, padding=padding) if files is None else files
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        path = folder / f"phms-{version}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in content.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = (
                    0o100755 if name.endswith(("/phms", ".exe")) else 0o100644
                ) << 16
                zf.writestr(info, data)
        return path
    path = folder / f"phms-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in content.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(("/phms", ".exe")) else 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def make_key(folder: Path, name: str = "release.key") -> tuple[Path, Path, str]:
    """A signing key file, its passphrase file, and the public key's site-file text."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / f"{name}.pass"
    secret.write_bytes(KEY_PASSPHRASE + b"\n")
    key_file = folder / name
    public = release_key.generate(key_file, KEY_PASSPHRASE)
    return key_file, secret, public
