"""Choosing pg_dump/pg_restore: the right version, and no trust in a broken candidate."""

from __future__ import annotations

from pathlib import Path

import pytest

from phms_admin import embedded
from phms_admin.connection import CommandError
from phms_admin.pgtools import Target, find_bin_dir


def _fake(folder: Path, tool: str, script: str) -> Path:
    folder.mkdir(exist_ok=True)
    program = folder / tool
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o755)
    return program


def test_a_broken_program_on_path_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Like Debian's pg_wrapper while a cluster is being created or dropped.
    _fake(tmp_path / "bin", "pg_restore", 'echo "Error: invalid cluster" >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    chosen = find_bin_dir("pg_restore", at_least=18, explicit=None)
    assert chosen != tmp_path / "bin" and (chosen / "pg_restore").exists()
    # Given explicitly, the same program is an error that says what it printed.
    with pytest.raises(CommandError, match="invalid cluster"):
        find_bin_dir("pg_restore", at_least=18, explicit=tmp_path / "bin")


def test_the_first_new_enough_program_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake(tmp_path / "old", "pg_dump", 'echo "pg_dump (PostgreSQL) 9.6.24"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'old'}:/bin")
    assert find_bin_dir("pg_dump", at_least=9, explicit=None) == tmp_path / "old"
    # Too old for the server: the next candidate that fits (at last the wheel's, 18).
    assert find_bin_dir("pg_dump", at_least=18, explicit=None) == embedded.bin_dir()
    with pytest.raises(CommandError, match="No pg_dump of PostgreSQL 99 or newer"):
        find_bin_dir("pg_dump", at_least=99, explicit=None)


def test_target_keeps_the_password_off_the_command_line() -> None:
    target = Target.from_url(
        "postgresql://ann:s3cret@db.clinic.local:5433/phms?sslmode=verify-full"
    )
    assert "s3cret" not in target.conninfo()
    assert target.env()["PGPASSWORD"] == "s3cret"
    assert target.params["sslmode"] == "verify-full" and target.dbname == "phms"
    socket = Target.from_url("postgresql://postgres@/phms?host=/var/run/postgresql&port=5432")
    assert socket.params["host"] == "/var/run/postgresql" and socket.params["port"] == "5432"
    assert socket.password is None and "user=postgres" in socket.conninfo()
