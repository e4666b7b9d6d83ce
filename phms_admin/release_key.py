"""The release signing key: made once by IT, kept off the server, protected by a passphrase.

``phms-admin release keygen FILE`` writes the Ed25519 private key as encrypted
PKCS#8 PEM (``cryptography``'s best available encryption for the passphrase),
readable by its owner only (0600), never over an existing file, and prints the
public key's line for the workstations' site file. ``release publish`` refuses
a key file others can read or one without a passphrase.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phms_admin.connection import CommandError
from phms_client.update.manifest import public_key_text

MIN_PASSPHRASE: Final = 12


def read_passphrase(path: Path | None, what: str, *, confirm: bool = False) -> bytes:
    """From ``path`` (first line), else asked on the terminal (twice with ``confirm``)."""
    if path is not None:
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise CommandError(
                f"Cannot read the passphrase file {path}: {exc.strerror or exc}"
            ) from exc
        return lines[0] if lines else b""
    if not sys.stdin.isatty():
        raise CommandError(f"No passphrase for {what}: give --passphrase-file FILE.")
    first = getpass.getpass(f"Passphrase for {what}: ").encode("utf-8")
    if confirm and getpass.getpass("The same passphrase again: ").encode("utf-8") != first:
        raise CommandError("The two passphrases differ; nothing was written.")
    return first


def generate(path: Path, passphrase: bytes) -> str:
    """Write a new signing key to ``path`` (0600); return the public key's text."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise CommandError(
            f"The passphrase must have at least {MIN_PASSPHRASE} characters; nothing was written."
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{path} exists; refusing to overwrite a signing key.") from None
    except OSError as exc:
        raise CommandError(f"Cannot create {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return public_key_text(key.public_key())


def load(path: Path, passphrase: bytes) -> Ed25519PrivateKey:
    """The signing key in ``path``; CommandError for anything unusable."""
    try:
        if sys.platform != "win32" and path.stat().st_mode & 0o077:
            raise CommandError(
                f"The signing key {path} can be read by other users; "
                f"make it private first: chmod 600 {path}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read the signing key {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, passphrase or None)
    except TypeError:
        raise CommandError(
            f"The signing key {path} is not protected by a passphrase; make a new one with "
            "'phms-admin release keygen'."
            if passphrase
            else f"The signing key {path} needs its passphrase."
        ) from None
    except ValueError:
        raise CommandError(f"Wrong passphrase, or {path} is not a release signing key.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandError(f"{path} is not an Ed25519 release signing key.")
    return key
