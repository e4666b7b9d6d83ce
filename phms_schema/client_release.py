"""Client releases published by IT, and who has read their notes (migration 0018).

``phms-admin release publish`` stores a workstation bundle once; every client
learns from here whether a newer one exists and fetches it:

- ``client_release``: one row per version and platform: the signed manifest
  (canonical JSON of version, platform, file name, size, SHA-256 and the notes'
  SHA-256) and its Ed25519 signature, the release notes, and where the bytes
  are: in ``client_release_chunk`` (``storage = 'database'``) or on the clinic's
  share (``'share'``: the client reads ``release_share`` of its site file). Staff
  read it; admins insert and may withdraw a release, nothing else; every change
  is audited. The bytes are trusted only once the workstation has checked the
  signature with the key of its own site file.
- ``client_release_chunk``: the bundle's bytes, in order, at most
  :data:`CHUNK_BYTES` each, so that no statement moves more than that.
- ``release_notes_seen``: per login and version, that the person has been shown
  "What's new" (row-level security: each login sees and adds only its own).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, Str
from phms_schema.ddl_limits import model_checks

#: Largest bundle a release may have.
MAX_BUNDLE_BYTES: Final = 500 * 1024 * 1024
#: Largest piece of a bundle in one row (and so in one statement).
CHUNK_BYTES: Final = 1024 * 1024
MAX_CHUNKS: Final = MAX_BUNDLE_BYTES // CHUNK_BYTES
#: Longest release notes (characters).
MAX_NOTES: Final = 20_000
#: Longest signed manifest (characters; a real one is about 300).
MAX_MANIFEST: Final = 2000
SIGNATURE_BYTES: Final = 64  # Ed25519
STORAGES: Final = ("database", "share")

#: Release versions: a subset of PEP 440 in canonical form (0.3.0, 1.2rc1, 1.0.post1).
VERSION_RE: Final = (
    r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}((a|b|rc)[0-9]{1,6})?(\.post[0-9]{1,6})?(\.dev[0-9]{1,6})?$"
)
#: Operating system and machine, e.g. ``linux-x86_64``, ``windows-x86_64``.
PLATFORM_RE: Final = r"^[a-z0-9]{1,16}-[a-z0-9_]{1,16}$"
#: A plain file name (no folder), as stored on the share.
FILENAME_RE: Final = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$"
HEX64: Final = r"^[0-9a-f]{64}$"
#: Control characters but tab and newline (as ``limits.MULTI``).
_NOTES_CONTROL: Final = r"[\x01-\x08\x0b-\x1f\x7f-\x9f]"


def release_checks() -> list[tuple[str, str]]:
    """``(rule, expr)`` of ``client_release`` beyond the length limits."""
    return [
        ("version_form", f"version ~ '{VERSION_RE}'"),
        ("platform_form", f"platform ~ '{PLATFORM_RE}'"),
        ("filename_form", f"filename ~ '{FILENAME_RE}'"),
        ("sha256_hex", f"sha256 ~ '{HEX64}'"),
        ("size_bounds", f"size_bytes BETWEEN 1 AND {MAX_BUNDLE_BYTES}"),
        ("signature_size", f"octet_length(signature) = {SIGNATURE_BYTES}"),
        ("notes_characters", f"notes !~ '{_NOTES_CONTROL}'"),
        ("storage_known", f"storage IN {STORAGES!r}"),
        (
            "chunk_count_matches",
            f"(storage = 'database' AND chunk_count = (size_bytes + {CHUNK_BYTES - 1}) / "
            f"{CHUNK_BYTES}) OR (storage = 'share' AND chunk_count = 0)",
        ),
    ]


def chunk_checks() -> list[tuple[str, str]]:
    return [
        ("seq_bounds", f"seq BETWEEN 0 AND {MAX_CHUNKS}"),
        ("data_size", f"octet_length(data) BETWEEN 1 AND {CHUNK_BYTES}"),
    ]


def seen_checks() -> list[tuple[str, str]]:
    return [("version_form", f"version ~ '{VERSION_RE}'")]


class ClientRelease(Base):
    __tablename__ = "client_release"

    id: Mapped[BigId]
    version: Mapped[Str]
    platform: Mapped[Str]
    filename: Mapped[Str]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[Str]
    #: The exact text that was signed (canonical JSON).
    manifest: Mapped[Str]
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    notes: Mapped[Str] = mapped_column(server_default="")
    storage: Mapped[Str]
    chunk_count: Mapped[int] = mapped_column(Integer)
    #: Withdrawn by an admin: no longer offered (the row and its bytes stay).
    withdrawn: Mapped[bool] = mapped_column(server_default=text("false"))
    published_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    published_by: Mapped[str] = mapped_column(Text, server_default=text("SESSION_USER"))

    __table_args__ = (
        UniqueConstraint("version", "platform"),
        *(CheckConstraint(expr, name=rule) for rule, expr in release_checks()),
        *model_checks("client_release"),
    )


class ClientReleaseChunk(Base):
    __tablename__ = "client_release_chunk"

    release_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("client_release.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = tuple(CheckConstraint(expr, name=rule) for rule, expr in chunk_checks())


class ReleaseNotesSeen(Base):
    __tablename__ = "release_notes_seen"

    login: Mapped[str] = mapped_column(Text, primary_key=True, server_default=text("SESSION_USER"))
    version: Mapped[str] = mapped_column(Text, primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )

    __table_args__ = (
        *(CheckConstraint(expr, name=rule) for rule, expr in seen_checks()),
        *model_checks("release_notes_seen"),
    )
