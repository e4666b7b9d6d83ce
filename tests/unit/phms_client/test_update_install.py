"""Receiving, unpacking and installing a bundle beside the old one, with real files.

Every way a download can go wrong (altered bytes, cut short, too long, an error
half way, a bundle of the wrong version) must leave the versions folder exactly
as it was: same folders, same ``current``.
"""

from __future__ import annotations

import hashlib
import io
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from phms_client.update import archive
from phms_client.update.download import fetch_and_install, receive
from phms_client.update.errors import UpdateCancelled, UpdateError
from phms_client.update.install import (
    POINTER,
    VersionsFolder,
    child_environment,
    launch,
    restart_command,
)
from phms_client.update.launcher import newer_update
from phms_client.update.manifest import Manifest, notes_digest
from tests.bundles import WINDOWS_ARGS, bundle_files, write_bundle

LINUX = "linux-x86_64"


def manifest_of(path: Path, version: str, platform: str = LINUX) -> Manifest:
    data = path.read_bytes()
    return Manifest(
        version, platform, path.name, len(data), hashlib.sha256(data).hexdigest(), notes_digest("")
    )


def pieces(path: Path, size: int = 1000) -> Iterator[bytes]:
    data = path.read_bytes()
    for start in range(0, len(data), size):
        yield data[start : start + size]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Everything in the versions folder: paths, and file contents."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def installed_020(tmp_path: Path) -> VersionsFolder:
    """A versions folder where 0.2.0 is installed and current."""
    folder = VersionsFolder(tmp_path / "versions", LINUX)
    bundle = write_bundle(tmp_path / "in", "0.2.0")
    fetch_and_install(pieces(bundle), manifest_of(bundle, "0.2.0"), folder)
    return folder


# --------------------------------------------------------------------------- receiving


def test_receive_passes_exactly_the_signed_bytes(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, "0.3.0")
    out = io.BytesIO()
    seen: list[tuple[int, int]] = []
    receive(
        pieces(bundle), manifest_of(bundle, "0.3.0"), out, progress=lambda a, b: seen.append((a, b))
    )
    assert out.getvalue() == bundle.read_bytes()
    assert seen[-1] == (bundle.stat().st_size, bundle.stat().st_size)


def test_receive_refuses_altered_cut_and_long_downloads(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, "0.3.0")
    manifest = manifest_of(bundle, "0.3.0")
    data = bytearray(bundle.read_bytes())
    data[100] ^= 0xFF
    with pytest.raises(UpdateError, match="does not match its checksum"):
        receive([bytes(data)], manifest, io.BytesIO())
    with pytest.raises(UpdateError, match="stopped early"):
        receive([bundle.read_bytes()[:-1]], manifest, io.BytesIO())
    endless = (b"x" * 1000 for _ in range(10**9))
    out = io.BytesIO()
    with pytest.raises(UpdateError, match="larger than the release says"):
        receive(endless, manifest, out)
    assert len(out.getvalue()) <= manifest.size  # stopped at once, not after filling a disk


def test_cancelling_stops_the_download(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, "0.3.0")
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(UpdateCancelled):
        receive(pieces(bundle), manifest_of(bundle, "0.3.0"), io.BytesIO(), cancelled=cancelled)


# --------------------------------------------------------------------------- archives


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_bundle_facts_and_unpack(tmp_path: Path, kind: str) -> None:
    bundle = write_bundle(tmp_path, "0.3.0", kind=kind)
    facts = archive.bundle_facts(bundle)
    assert (facts.folder, facts.executable, facts.version) == ("phms", "phms", "0.3.0")
    into = tmp_path / "out"
    into.mkdir()
    folder = archive.unpack(bundle, into)
    assert (folder / "phms").read_bytes() == bundle_files("0.3.0")["phms/phms"]
    if sys.platform != "win32":
        assert (folder / "phms").stat().st_mode & 0o111


def test_a_windows_bundle_says_so(tmp_path: Path) -> None:
    facts = archive.bundle_facts(write_bundle(tmp_path, "0.3.0", kind="zip", windows=True))
    assert (facts.executable, facts.platform_family) == ("phms.exe", "windows")


@pytest.mark.parametrize("kind", ["tar", "zip"])
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"phms/../../evil": b"x"}, "outside its folder"),
        ({"/etc/evil": b"x"}, "outside its folder"),
        ({"other/file": b"x"}, "exactly one folder"),
    ],
)
def test_unsafe_or_odd_bundles_are_refused(
    tmp_path: Path, kind: str, extra: dict[str, bytes], message: str
) -> None:
    bundle = write_bundle(tmp_path, "0.3.0", kind=kind, files={**bundle_files("0.3.0"), **extra})
    with pytest.raises(UpdateError, match=message):
        archive.bundle_facts(bundle)
    into = tmp_path / "out"
    into.mkdir()
    with pytest.raises(UpdateError, match=message):
        archive.unpack(bundle, into)
    assert list(into.iterdir()) == []


def test_backslashes_in_zip_names_are_explained(tmp_path: Path) -> None:
    files = {name.replace("/", "\\"): data for name, data in bundle_files("0.3.0").items()}
    bundle = write_bundle(tmp_path, "0.3.0", kind="zip", files=files)
    with pytest.raises(UpdateError, match="Compress-Archive does; make the archive with tar"):
        archive.bundle_facts(bundle)


def test_a_bundle_must_say_its_version_and_have_its_program(tmp_path: Path) -> None:
    files = bundle_files("0.3.0")
    no_metadata = {k: v for k, v in files.items() if "dist-info" not in k}
    with pytest.raises(UpdateError, match="does not say its version"):
        archive.bundle_facts(write_bundle(tmp_path / "a", "0.3.0", files=no_metadata))
    no_program = {k: v for k, v in files.items() if k != "phms/phms"}
    with pytest.raises(UpdateError, match="no phms program"):
        archive.bundle_facts(write_bundle(tmp_path / "b", "0.3.0", files=no_program))
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"neither tar nor zip")
    with pytest.raises(UpdateError, match="neither"):
        archive.bundle_facts(junk)


# --------------------------------------------------------------------------- installing


def test_install_beside_the_old_one_and_switch(
    installed_020: VersionsFolder, tmp_path: Path
) -> None:
    folder = installed_020
    assert folder.current() is not None and folder.current().version == "0.2.0"  # type: ignore[union-attr]
    bundle = write_bundle(tmp_path / "in", "0.3.0")
    done = fetch_and_install(pieces(bundle), manifest_of(bundle, "0.3.0"), folder)
    assert done.executable == folder.root / "0.3.0" / "phms"
    assert (folder.root / POINTER).read_text() == "0.3.0\n"
    assert folder.current() == done
    assert (folder.root / "0.2.0" / "phms").is_file()  # kept, to go back to
    assert sorted(p.name for p in folder.root.iterdir()) == ["0.2.0", "0.3.0", POINTER]


def test_older_versions_are_tidied_away(installed_020: VersionsFolder, tmp_path: Path) -> None:
    folder = installed_020
    for version in ("0.3.0", "0.4.0"):
        bundle = write_bundle(tmp_path / version, version)
        fetch_and_install(pieces(bundle), manifest_of(bundle, version), folder, keep={"0.2.0"})
    # 0.2.0 is the one running (keep), 0.3.0 was current before 0.4.0.
    assert sorted(p.name for p in folder.root.iterdir()) == ["0.2.0", "0.3.0", "0.4.0", POINTER]
    bundle = write_bundle(tmp_path / "0.5.0", "0.5.0")
    fetch_and_install(pieces(bundle), manifest_of(bundle, "0.5.0"), folder)
    assert sorted(p.name for p in folder.root.iterdir()) == ["0.4.0", "0.5.0", POINTER]


def _fails_half_way(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    yield data[:500]
    raise ConnectionError("the server went away")


def test_nothing_changes_when_anything_fails(installed_020: VersionsFolder, tmp_path: Path) -> None:
    folder = installed_020
    before = snapshot(folder.root)
    bundle = write_bundle(tmp_path / "in", "0.3.0")
    manifest = manifest_of(bundle, "0.3.0")
    data = bundle.read_bytes()
    tampered = bytearray(data)
    tampered[-10] ^= 1
    attempts: list[tuple[object, Manifest, type[BaseException]]] = [
        ([bytes(tampered)], manifest, UpdateError),  # altered bytes
        ([data[: len(data) // 2]], manifest, UpdateError),  # cut short
        (_fails_half_way(bundle), manifest, ConnectionError),  # an error midway
        (pieces(bundle), manifest_of(bundle, "0.4.0"), UpdateError),  # says 0.3.0 inside
        (pieces(bundle), manifest_of(bundle, "0.3.0", "windows-x86_64"), UpdateError),
    ]
    for chunks, wanted, error in attempts:
        platform_folder = VersionsFolder(folder.root, wanted.platform)
        with pytest.raises(error):
            fetch_and_install(chunks, wanted, platform_folder)  # type: ignore[arg-type]
        assert snapshot(folder.root) == before


def test_an_unwritable_folder_is_said_before_downloading(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    folder = VersionsFolder(blocker / "versions", LINUX)
    bundle = write_bundle(tmp_path / "in", "0.3.0")

    def never() -> Iterator[bytes]:
        raise AssertionError("downloaded although the folder cannot be written")
        yield b""

    with pytest.raises(UpdateError, match="cannot write to its versions folder"):
        fetch_and_install(never(), manifest_of(bundle, "0.3.0"), folder)


def test_a_damaged_pointer_means_no_update(installed_020: VersionsFolder) -> None:
    (installed_020.root / POINTER).write_text("../../etc\n")
    assert installed_020.current() is None
    (installed_020.root / POINTER).write_text("0.9.0\n")  # not installed
    assert installed_020.current() is None


# --------------------------------------------------------------------------- restarting


def test_the_launcher_picks_only_a_newer_other_program(installed_020: VersionsFolder) -> None:
    folder = installed_020
    own = folder.root / "elsewhere" / "phms"
    assert newer_update(folder, "0.1.0", own) == folder.current()
    assert newer_update(folder, "0.2.0", own) is None  # not newer
    assert newer_update(folder, "0.3.0", own) is None  # IT installed a newer program
    running = folder.root / "0.2.0" / "phms"
    assert newer_update(folder, "0.1.0", running) is None  # that is this program


def test_child_environment_is_the_one_this_program_was_started_with() -> None:
    env = child_environment(
        {"LD_LIBRARY_PATH": "/opt/phms/_internal", "LD_LIBRARY_PATH_ORIG": "/x"}
    )
    assert env["LD_LIBRARY_PATH"] == "/x" and "LD_LIBRARY_PATH_ORIG" not in env
    assert env["PYINSTALLER_RESET_ENVIRONMENT"] == "1"


def test_restart_runs_the_new_program_with_the_same_arguments(tmp_path: Path) -> None:
    """On this computer's own platform: Linux runs the bundle's script, Windows a real
    ``phms.exe`` (a copy of cmd.exe) started detached."""
    windows = sys.platform == "win32"
    folder = VersionsFolder(tmp_path / "versions")  # this computer's platform
    bundle = write_bundle(
        tmp_path / "in", "0.3.0", kind="zip" if windows else "tar", windows=windows
    )
    done = fetch_and_install(pieces(bundle), manifest_of(bundle, "0.3.0", folder.platform), folder)
    args = WINDOWS_ARGS if windows else ["--server", "db.clinic.local"]
    command = restart_command(done, args)
    assert command == [str(folder.root / "0.3.0" / folder.executable_name), *args]
    process = launch(command)
    assert process.wait(timeout=30) == 0
    marker = done.folder / "started.txt"
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    expected = "started" if windows else "PHMS 0.3.0 started: --server db.clinic.local"
    assert marker.read_text().strip() == expected
