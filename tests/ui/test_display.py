"""PHMS says so when it cannot draw, instead of opening black windows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from phms_client.ui.shell.display import MIN_DEPTH, display_problem


def test_a_usable_display_has_no_problem(qapp: QApplication) -> None:
    screen = qapp.primaryScreen()
    assert screen is not None and screen.depth() >= MIN_DEPTH
    assert display_problem(qapp) is None


def _free_display() -> int:
    for number in range(180, 240):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise AssertionError("no free X display number")


@pytest.fixture
def eight_bit_display() -> Iterator[str]:
    """A real X server with 8-bit colour, as ``xvfb-run`` starts by default."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None or not sys.platform.startswith("linux"):
        pytest.skip("needs Xvfb (Linux)")
    number = _free_display()
    server = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "640x480x8", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_an_eight_bit_display_is_refused_with_a_message(
    eight_bit_display: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DISPLAY": eight_bit_display,
        "QT_QPA_PLATFORM": "xcb",
        "PHMS_SITE_CONFIG": str(tmp_path / "site.toml"),
        "PHMS_USER_CONFIG": str(tmp_path / "user.toml"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "phms_client"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "8-bit colour" in done.stderr and "1280x1024x24" in done.stderr
