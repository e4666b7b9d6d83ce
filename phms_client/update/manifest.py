"""What IT signs for a release, and the check every workstation makes before using it.

A manifest is canonical JSON (sorted keys, no spaces, ASCII only) of::

    {"filename": ..., "format": "phms-client-release-1", "notes_sha256": ...,
     "platform": ..., "sha256": ..., "size": ..., "version": ...}

IT signs its exact bytes with the release key (Ed25519, ``phms-admin release
keygen``); the public half is ``release_public_key`` in each workstation's site
file (base64 of the 32 raw bytes). A manifest that is not in canonical form is
refused even with a good signature, so that one release has one text only.

Ed25519 from ``cryptography`` (already used for backups and the registry's TLS):
small keys that fit a settings line, deterministic signatures, no parameters to
get wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from phms_client.update.errors import UpdateError
from phms_client.update.versions import canonical_version
from phms_schema.client_release import (
    FILENAME_RE,
    MAX_BUNDLE_BYTES,
    MAX_MANIFEST,
    SIGNATURE_BYTES,
)

FORMAT: Final = "phms-client-release-1"
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_KEYS: Final = frozenset({"filename", "format", "notes_sha256", "platform", "sha256", "size"})


def notes_digest(notes: str) -> str:
    return hashlib.sha256(notes.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    version: str
    platform: str
    filename: str
    size: int
    sha256: str
    notes_sha256: str

    def text(self) -> str:
        """The canonical text: what is signed and stored."""
        return json.dumps(
            {**asdict(self), "format": FORMAT},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )

    @classmethod
    def parse(cls, text: str) -> Manifest:
        """Read a manifest; anything odd about it is an UpdateError."""
        if len(text) > MAX_MANIFEST:
            raise UpdateError("The release's manifest is too long to be one of ours.")
        try:
            raw = json.loads(text)
        except ValueError:
            raise UpdateError("The release's manifest is not readable.") from None
        if not isinstance(raw, dict) or set(raw) != _KEYS | {"version"}:
            raise UpdateError("The release's manifest does not have the expected fields.")
        if raw["format"] != FORMAT:
            raise UpdateError(f"The release's manifest is of an unknown kind ({raw['format']!r}).")
        strings = ("version", "platform", "filename", "sha256", "notes_sha256")
        if not all(isinstance(raw[k], str) for k in strings) or type(raw["size"]) is not int:
            raise UpdateError("The release's manifest has a field of the wrong kind.")
        manifest = cls(
            version=canonical_version(raw["version"]),
            platform=raw["platform"],
            filename=raw["filename"],
            size=raw["size"],
            sha256=raw["sha256"],
            notes_sha256=raw["notes_sha256"],
        )
        manifest.check()
        if manifest.text() != text:
            raise UpdateError("The release's manifest is not in its signed (canonical) form.")
        return manifest

    def check(self) -> None:
        if not 0 < self.size <= MAX_BUNDLE_BYTES:
            raise UpdateError(
                f"The release is {self.size} bytes; a bundle must be 1 byte to "
                f"{MAX_BUNDLE_BYTES // 1024 // 1024} MB."
            )
        if re.fullmatch(FILENAME_RE.strip("^$"), self.filename) is None:
            raise UpdateError(f"The release's file name {self.filename!r} is not a plain name.")
        if not (_HEX64.fullmatch(self.sha256) and _HEX64.fullmatch(self.notes_sha256)):
            raise UpdateError("The release's checksums are not SHA-256 values.")


# --------------------------------------------------------------------------- keys


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """The site file's ``release_public_key`` (base64 of 32 bytes) as a key."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise UpdateError(
            "The release key in this workstation's site file (release_public_key) is not "
            "an Ed25519 public key; ask IT to copy it again from 'phms-admin release keygen'."
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign(manifest: Manifest, key: Ed25519PrivateKey) -> bytes:
    return key.sign(manifest.text().encode("ascii"))


def verify(text: str, signature: bytes | None, key: Ed25519PublicKey) -> Manifest:
    """The manifest ``text`` if ``signature`` is the release key's signature of it."""
    if not signature:
        raise UpdateError("The release is not signed; PHMS installs only signed releases.")
    if len(signature) != SIGNATURE_BYTES:
        raise UpdateError("The release's signature is damaged.")
    try:
        key.verify(signature, text.encode("utf-8"))
    except InvalidSignature:
        raise UpdateError(
            "The release's signature does not match this clinic's release key (site file). "
            "It was not installed; please tell IT."
        ) from None
    return Manifest.parse(text)
