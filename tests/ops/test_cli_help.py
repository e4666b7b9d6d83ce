"""Every operations command answers --help."""

from __future__ import annotations

import pytest

from phms_admin.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["backup"],
        ["backup", "run"],
        ["backup", "verify"],
        ["backup", "restore"],
        ["backup", "drill"],
        ["backup", "list"],
        ["backup", "keygen"],
        ["db", "upgrade"],
        ["broadcast"],
        ["staging"],
        ["staging", "create"],
        ["staging", "drop"],
        ["staging", "list"],
    ],
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: phms-admin {' '.join(argv)}" in capsys.readouterr().out
