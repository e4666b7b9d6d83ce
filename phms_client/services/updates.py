"""Client updates and release notes: what the database offers this workstation (no Qt).

- :func:`after_login`: one short session right after logging in: the update to
  offer (the newest release for this platform that is newer than this client and
  not withdrawn; the recommended version) and, the first time this person runs
  this version, its notes ("What's new"), marked as seen in the same statement so
  that two workstations never both show them.
- :func:`install_release`: check the manifest's signature against the site file's
  key *before* reading any byte, then read the bytes (from the database in 1 MiB
  pieces, one short session each, or from the clinic's share), check and install
  them (:mod:`phms_client.update`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg.errors
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.config_release import ReleaseSettings
from phms_client.db.database import Database
from phms_client.update.download import Progress, fetch_and_install
from phms_client.update.errors import UpdateError
from phms_client.update.install import Installed, VersionsFolder
from phms_client.update.manifest import Manifest, notes_digest, public_key_from_text, verify
from phms_client.update.versions import is_newer, version_key
from phms_schema.client_release import CHUNK_BYTES


@dataclass(frozen=True)
class Release:
    id: int
    version: str
    platform: str
    filename: str
    size: int
    sha256: str
    manifest: str
    signature: bytes
    notes: str
    storage: str
    chunk_count: int
    published_at: dt.datetime


@dataclass(frozen=True)
class ReleaseNotes:
    version: str
    notes: str


@dataclass(frozen=True)
class AfterLogin:
    offer: Release | None
    notes: ReleaseNotes | None


_RELEASE = sa.text(
    "SELECT id, version, platform, filename, size_bytes, sha256, manifest, signature, notes,"
    " storage, chunk_count, published_at FROM phms.client_release WHERE id = :id"
)
_CANDIDATES = sa.text(
    "SELECT id, version FROM phms.client_release WHERE platform = :p AND NOT withdrawn"
)
# The notes of one version (this platform's release first), added to what this login
# has seen in the same statement: a row comes back only the first time.
_NOTES_ONCE = sa.text(
    """WITH r AS (
  SELECT version, notes FROM phms.client_release
   WHERE version = :v AND notes <> ''
   ORDER BY (platform = :p) DESC, published_at DESC LIMIT 1
), seen AS (
  INSERT INTO phms.release_notes_seen (version) SELECT version FROM r
  ON CONFLICT DO NOTHING RETURNING version
)
SELECT r.version, r.notes FROM r JOIN seen USING (version)"""
)
_NOTES = sa.text(
    "SELECT version, notes FROM phms.client_release WHERE version = :v AND notes <> ''"
    " ORDER BY (platform = :p) DESC, published_at DESC LIMIT 1"
)
_CHUNK = sa.text("SELECT data FROM phms.client_release_chunk WHERE release_id = :r AND seq = :n")


#: A database before revision 0018 (the client works from ``OLDEST_SCHEMA`` on).
NOT_KEPT_YET = (
    "This clinic's database does not keep client releases yet (it needs "
    "'phms-admin db upgrade'); please ask IT."
)


@contextmanager
def _releases_kept() -> Iterator[None]:
    """An older database without the release tables: UpdateError, said in words."""
    try:
        yield
    except sa.exc.ProgrammingError as exc:
        if isinstance(exc.orig, psycopg.errors.UndefinedTable):
            raise UpdateError(NOT_KEPT_YET) from None
        raise


def newest_release(session: Session, platform: str) -> Release | None:
    """The recommended release for ``platform``: the newest one not withdrawn."""
    with _releases_kept():
        rows = session.execute(_CANDIDATES, {"p": platform}).all()
    if not rows:
        return None
    best = max(rows, key=lambda r: version_key(r.version))
    row = session.execute(_RELEASE, {"id": best.id}).one()
    return Release(
        row.id,
        row.version,
        row.platform,
        row.filename,
        row.size_bytes,
        row.sha256,
        row.manifest,
        bytes(row.signature),
        row.notes,
        row.storage,
        row.chunk_count,
        row.published_at,
    )


def update_offer(session: Session, client: str, platform: str) -> Release | None:
    """The release to offer a client of version ``client``, if there is a newer one."""
    newest = newest_release(session, platform)
    return newest if newest is not None and is_newer(newest.version, client) else None


def notes_once(session: Session, version: str, platform: str) -> ReleaseNotes | None:
    """``version``'s notes if this login has not been shown them yet (now it has)."""
    with _releases_kept():
        row = session.execute(_NOTES_ONCE, {"v": version, "p": platform}).first()
    return None if row is None else ReleaseNotes(row.version, row.notes)


def notes_for(session: Session, version: str, platform: str) -> ReleaseNotes | None:
    """``version``'s notes (Help > What's new), seen or not."""
    with _releases_kept():
        row = session.execute(_NOTES, {"v": version, "p": platform}).first()
    return None if row is None else ReleaseNotes(row.version, row.notes)


def after_login(session: Session, *, client: str, platform: str, offer: bool) -> AfterLogin:
    """What to show after logging in: an update (only if ``offer``) and new notes."""
    return AfterLogin(
        update_offer(session, client, platform) if offer else None,
        notes_once(session, client, platform),
    )


# --------------------------------------------------------------------------- installing


def database_chunks(db: Database, release: Release) -> Iterator[bytes]:
    """The release's bytes from the database, one short session per piece."""
    for seq in range(release.chunk_count):
        with db.session() as session:
            data = session.execute(_CHUNK, {"r": release.id, "n": seq}).scalar()
        if data is None:
            raise UpdateError(
                f"The release PHMS {release.version} is incomplete on the server "
                f"(piece {seq + 1} of {release.chunk_count} is missing); nothing was "
                "installed. Please tell IT."
            )
        yield bytes(data)


def share_chunks(share: Path | None, release: Release) -> Iterator[bytes]:
    """The release's bytes from the clinic's share (``release_share`` of the site file)."""
    if share is None:
        raise UpdateError(
            "This release is kept on the clinic's file share, but this workstation's site "
            "file does not say where that is (release_share). Please ask IT."
        )
    path = share / release.filename
    try:
        with path.open("rb") as fh:
            while block := fh.read(CHUNK_BYTES):
                yield block
    except OSError as exc:
        raise UpdateError(
            f"Cannot read the release from {path} ({exc.strerror or exc}); nothing was installed."
        ) from exc


def checked_manifest(release: Release, settings: ReleaseSettings, platform: str) -> Manifest:
    """The release's manifest, signed by the site's release key and matching its row."""
    if not settings.updates_configured:
        raise UpdateError(
            "This workstation cannot check updates: its site file has no release key "
            "(release_public_key). Please ask IT."
        )
    manifest = verify(
        release.manifest, release.signature, public_key_from_text(settings.public_key)
    )
    signed = (
        manifest.version,
        manifest.platform,
        manifest.filename,
        manifest.size,
        manifest.sha256,
        manifest.notes_sha256,
    )
    stored = (
        release.version,
        release.platform,
        release.filename,
        release.size,
        release.sha256,
        notes_digest(release.notes),
    )
    if signed != stored:
        raise UpdateError(
            "The release stored on the server does not match what IT signed; it was not "
            "installed. Please tell IT."
        )
    if manifest.platform != platform:
        raise UpdateError(f"The release is for {manifest.platform}, not for {platform}.")
    return manifest


def install_release(
    db: Database,
    release: Release,
    settings: ReleaseSettings,
    folder: VersionsFolder,
    *,
    keep: Collection[str] = (),
    progress: Progress | None = None,
    cancelled: threading.Event | None = None,
) -> Installed:
    """Check, fetch and install ``release`` into ``folder``; UpdateError changes nothing."""
    manifest = checked_manifest(release, settings, folder.platform)
    chunks = (
        database_chunks(db, release)
        if release.storage == "database"
        else share_chunks(settings.share, release)
    )
    return fetch_and_install(
        chunks, manifest, folder, keep=keep, progress=progress, cancelled=cancelled
    )
