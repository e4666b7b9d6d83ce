"""Backup encryption: authenticated chunks that cannot be reordered, cut or extended."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from phms_admin import backup_crypto
from phms_admin.backup import role_statements
from phms_admin.connection import CommandError

DATA = bytes(range(256)) * 40  # 10 KiB: several chunks at the test's chunk size


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_crypto, "CHUNK", 1000)


def _encrypt(key: Fernet, data: bytes = DATA) -> bytes:
    out = io.BytesIO()
    writer = backup_crypto.EncryptingWriter(out, key)
    for i in range(0, len(data), 777):  # writes of odd sizes, across chunk borders
        writer.write(data[i : i + 777])
    writer.close()
    return out.getvalue()


def _records(blob: bytes) -> list[bytes]:
    records, pos = [], len(backup_crypto.MAGIC)
    while pos < len(blob):
        (length,) = struct.unpack_from(">I", blob, pos)
        records.append(blob[pos : pos + 4 + length])
        pos += 4 + length
    return records


def _decrypt(tmp_path: Path, blob: bytes, key: Fernet) -> bytes:
    src = tmp_path / "x.enc"
    src.write_bytes(blob)
    out = io.BytesIO()
    backup_crypto.decrypt_file(src, out, key)
    return out.getvalue()


def test_round_trip(small_chunks: None, tmp_path: Path) -> None:
    key = Fernet(Fernet.generate_key())
    blob = _encrypt(key)
    assert len(_records(blob)) == 11  # 10 full chunks and the last one
    assert _decrypt(tmp_path, blob, key) == DATA
    assert _decrypt(tmp_path, _encrypt(key, b""), key) == b""


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda r: [r[1], r[0], *r[2:]], "out of order"),
        (lambda r: r[:-1], "cut short"),
        (lambda r: [*r[:-1], r[-1][:-5]], "cut short"),
        (lambda r: [*r, r[0]], "data after its end"),
        (lambda r: [r[0][:20] + bytes([r[0][20] ^ 1]) + r[0][21:], *r[1:]], "damaged"),
    ],
)
def test_tampering_is_detected(
    small_chunks: None, tmp_path: Path, tamper: Callable[[list[bytes]], list[bytes]], why: str
) -> None:  # type: ignore[no-untyped-def]
    key = Fernet(Fernet.generate_key())
    records = _records(_encrypt(key))
    blob = backup_crypto.MAGIC + b"".join(tamper(records))
    with pytest.raises(CommandError, match=why):
        _decrypt(tmp_path, blob, key)


def test_wrong_key_and_plain_files_are_refused(tmp_path: Path) -> None:
    blob = _encrypt(Fernet(Fernet.generate_key()))
    with pytest.raises(CommandError, match="wrong key"):
        _decrypt(tmp_path, blob, Fernet(Fernet.generate_key()))
    with pytest.raises(CommandError, match="not an encrypted PHMS backup"):
        _decrypt(tmp_path, b"PGDMP plain dump", Fernet(Fernet.generate_key()))


def test_key_files(tmp_path: Path) -> None:
    path = tmp_path / "k"
    backup_crypto.generate_key_file(path)
    key = backup_crypto.load_key(path)
    assert _decrypt(tmp_path, _encrypt(key, b"abc"), key) == b"abc"
    (tmp_path / "bad").write_text("not a key")
    (tmp_path / "bad").chmod(0o600)
    with pytest.raises(CommandError, match="does not hold a backup key"):
        backup_crypto.load_key(tmp_path / "bad")
    with pytest.raises(CommandError, match="Cannot read the key file"):
        backup_crypto.load_key(tmp_path / "missing")


def test_role_statements_of_a_roles_dump() -> None:
    script = "\n".join(
        [
            "--",
            "-- PostgreSQL database cluster dump",
            "\\restrict abc",
            "SET default_transaction_read_only = off;",
            'CREATE ROLE "odd ""name""";',
            'ALTER ROLE "odd ""name""" WITH LOGIN PASSWORD \'SCRAM-SHA-256$x;y\';',
            "COMMENT ON ROLE x IS 'two",
            "lines; still one statement';",
            "GRANT phms_clerk TO x GRANTED BY postgres;",
            "\\unrestrict abc",
        ]
    )
    assert role_statements(script) == [
        "SET default_transaction_read_only = off;",
        'CREATE ROLE "odd ""name""";',
        'ALTER ROLE "odd ""name""" WITH LOGIN PASSWORD \'SCRAM-SHA-256$x;y\';',
        "COMMENT ON ROLE x IS 'two\nlines; still one statement';",
        "GRANT phms_clerk TO x GRANTED BY postgres;",
    ]
    with pytest.raises(CommandError, match="ends inside a statement"):
        role_statements("CREATE ROLE x")
