"""Encryption at rest for backups: Fernet (``cryptography``), in numbered chunks.

Fernet authenticates each message but holds it in memory whole, and a clinic's
dump may be larger than memory; so a file is a sequence of Fernet messages of at
most 1 MiB each. Every message starts with its chunk number and a "last chunk"
flag, so a reordered, repeated, cut-short or lengthened file fails to decrypt
rather than decrypting to something else.

File layout: ``MAGIC`` then records of ``4-byte big-endian length`` + the raw
(base64-decoded) Fernet token. Plain text inside a token: ``8-byte chunk number``
+ ``1-byte last flag`` + data.
"""

from __future__ import annotations

import base64
import os
import struct
import sys
from pathlib import Path
from typing import BinaryIO

from cryptography.fernet import Fernet, InvalidToken

from phms_admin.connection import CommandError

MAGIC = b"PHMS-ENCRYPTED-BACKUP-1\n"
SCHEME = "fernet-chunked-v1"
CHUNK = 1 << 20
_HEADER = struct.Struct(">QB")
_LENGTH = struct.Struct(">I")


def generate_key_file(path: Path) -> None:
    """Write a new key, readable by its owner only; never overwrite an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{path} exists; refusing to overwrite a key.") from None
    except OSError as exc:
        raise CommandError(f"Cannot create {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key() + b"\n")


def load_key(path: Path) -> Fernet:
    try:
        if sys.platform != "win32" and path.stat().st_mode & 0o077:
            raise CommandError(
                f"The key file {path} can be read by other users; "
                f"make it private first: chmod 600 {path}"
            )
        raw = path.read_bytes().strip()
    except OSError as exc:
        raise CommandError(f"Cannot read the key file {path}: {exc.strerror or exc}") from exc
    try:
        return Fernet(raw)
    except ValueError:
        raise CommandError(
            f"{path} does not hold a backup key (make one with 'phms-admin backup keygen FILE')."
        ) from None


class EncryptingWriter:
    """Write plain bytes; the file gets the encrypted records."""

    def __init__(self, out: BinaryIO, key: Fernet) -> None:
        self._out = out
        self._key = key
        self._buffer = bytearray()
        self._index = 0
        out.write(MAGIC)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]

    def close(self) -> None:
        """Write the last chunk (possibly empty); the file is complete after this."""
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _emit(self, data: bytes, *, last: bool) -> None:
        token = self._key.encrypt(_HEADER.pack(self._index, int(last)) + data)
        raw = base64.urlsafe_b64decode(token)
        self._out.write(_LENGTH.pack(len(raw)) + raw)
        self._index += 1


def encrypt_file(src: Path, dst: Path, key: Fernet) -> None:
    with src.open("rb") as fin, dst.open("wb") as fout:
        writer = EncryptingWriter(fout, key)
        while chunk := fin.read(CHUNK):
            writer.write(chunk)
        writer.close()


def decrypt_file(src: Path, out: BinaryIO, key: Fernet) -> None:
    """Decrypt ``src`` into ``out``; a wrong key or any damage is a CommandError."""

    def damaged(why: str) -> CommandError:
        return CommandError(f"Cannot decrypt {src}: {why}.")

    with src.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise damaged("it is not an encrypted PHMS backup file")
        index = 0
        while True:
            length_bytes = f.read(_LENGTH.size)
            if len(length_bytes) < _LENGTH.size:
                raise damaged("the file ends early (cut short)")
            (length,) = _LENGTH.unpack(length_bytes)
            raw = f.read(length)
            if len(raw) < length:
                raise damaged("the file ends early (cut short)")
            try:
                plain = key.decrypt(base64.urlsafe_b64encode(raw))
            except InvalidToken:
                raise damaged("wrong key, or the file is damaged") from None
            number, last = _HEADER.unpack_from(plain)
            if number != index:
                raise damaged("its parts are out of order")
            out.write(plain[_HEADER.size :])
            index += 1
            if last:
                break
        if f.read(1):
            raise damaged("there is data after its end")
