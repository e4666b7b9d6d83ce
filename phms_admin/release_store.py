"""Publishing a client bundle: check it, sign its manifest, store it once for every client.

The bundle must say its own version (``phms-VERSION.dist-info`` inside, as the
PyInstaller spec makes it), and that version must be newer than every release
still offered for its platform. Its bytes go into ``phms.client_release_chunk``
(one transaction: all or nothing), or with ``share`` onto the clinic's file share
(copied under a temporary name, checked, then renamed) with only the manifest in
the database. The rows are audited by the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phms_admin.connection import CommandError, connect
from phms_client.services.input_rules import clean_text
from phms_client.update.archive import BundleFacts, bundle_facts
from phms_client.update.errors import UpdateError
from phms_client.update.manifest import Manifest, notes_digest, sign, verify
from phms_client.update.platforms import is_platform
from phms_client.update.versions import canonical_version, is_newer, version_key
from phms_schema.client_release import CHUNK_BYTES, MAX_BUNDLE_BYTES, MAX_NOTES


@dataclass(frozen=True)
class Published:
    version: str
    platform: str
    filename: str
    size: int
    sha256: str
    storage: str


@dataclass(frozen=True)
class ListedRelease:
    version: str
    platform: str
    size: int
    storage: str
    published_at: dt.datetime
    published_by: str
    withdrawn: bool
    recommended: bool


def read_notes(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"The notes file {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise CommandError(f"Cannot read the notes file {path}: {exc.strerror or exc}") from exc
    text = clean_text(text).strip()
    if not text:
        raise CommandError(f"The notes file {path} is empty; say what changed in this version.")
    if len(text) > MAX_NOTES:
        raise CommandError(f"The release notes are {len(text)} characters; at most {MAX_NOTES}.")
    if any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in text):
        raise CommandError("The release notes contain control characters; remove them.")
    return text


def _facts(bundle: Path) -> BundleFacts:
    try:
        size = bundle.stat().st_size
    except OSError as exc:
        raise CommandError(f"Cannot read the bundle {bundle}: {exc.strerror or exc}") from exc
    if not 0 < size <= MAX_BUNDLE_BYTES:
        raise CommandError(
            f"The bundle is {size} bytes; it must be 1 byte to {MAX_BUNDLE_BYTES >> 20} MB."
        )
    try:
        return bundle_facts(bundle)
    except UpdateError as exc:
        raise CommandError(str(exc)) from None


def _pieces(path: Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(size):
            yield block


def _digest(path: Path) -> tuple[int, str]:
    digest, total = hashlib.sha256(), 0
    for block in _pieces(path):
        digest.update(block)
        total += len(block)
    return total, digest.hexdigest()


def make_manifest(
    bundle: Path, notes: str, *, version: str | None = None, platform: str | None = None
) -> Manifest:
    """The manifest of ``bundle``: its own version (``version``, if given, must agree)."""
    facts = _facts(bundle)
    try:
        found = canonical_version(facts.version)
        wanted = canonical_version(version) if version is not None else found
    except UpdateError as exc:
        raise CommandError(str(exc)) from None
    if wanted != found:
        raise CommandError(
            f"The bundle says it is PHMS {found}, not {wanted}; build it again or fix --version."
        )
    chosen = platform or f"{facts.platform_family}-x86_64"
    if not is_platform(chosen):
        raise CommandError(
            f"{chosen!r} is not a platform name like linux-x86_64 or windows-x86_64."
        )
    if chosen.startswith("windows-") != (facts.executable == "phms.exe"):
        raise CommandError(f"The bundle's program is {facts.executable}: not a {chosen} bundle.")
    size, sha256 = _digest(bundle)
    suffix = ".zip" if bundle.name.lower().endswith(".zip") else ".tar.gz"
    return Manifest(
        found, chosen, f"phms-{found}-{chosen}{suffix}", size, sha256, notes_digest(notes)
    )


def _copy_to_share(bundle: Path, share: Path, manifest: Manifest) -> Path:
    target = share / manifest.filename
    if target.exists():
        raise CommandError(f"{target} exists already; remove it or publish another version.")
    temporary = share / f".{manifest.filename}.{secrets.token_hex(4)}"
    try:
        shutil.copyfile(bundle, temporary)
        if _digest(temporary) != (manifest.size, manifest.sha256):
            raise CommandError(f"The copy on {share} does not match the bundle; nothing published.")
        os.replace(temporary, target)
    except OSError as exc:
        raise CommandError(f"Cannot copy the bundle to {share}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return target


def publish(
    url: str,
    bundle: Path,
    notes: str,
    key: Ed25519PrivateKey,
    *,
    version: str | None = None,
    platform: str | None = None,
    share: Path | None = None,
) -> Published:
    manifest = make_manifest(bundle, notes, version=version, platform=platform)
    text = manifest.text()
    signature = sign(manifest, key)
    verify(text, signature, key.public_key())  # the key signs what the clients will check
    storage = "share" if share is not None else "database"
    copied: Path | None = None
    try:
        with connect(url) as conn:
            _refuse_not_newer(conn, manifest)
            if share is not None:
                copied = _copy_to_share(bundle, share, manifest)
            release_id = conn.execute(
                sa.text(
                    "INSERT INTO phms.client_release (version, platform, filename, size_bytes,"
                    " sha256, manifest, signature, notes, storage, chunk_count) VALUES"
                    " (:v, :p, :f, :s, :h, :m, :sig, :n, :st, :c) RETURNING id"
                ),
                {
                    "v": manifest.version,
                    "p": manifest.platform,
                    "f": manifest.filename,
                    "s": manifest.size,
                    "h": manifest.sha256,
                    "m": text,
                    "sig": signature,
                    "n": notes,
                    "st": storage,
                    "c": 0 if share is not None else -(-manifest.size // CHUNK_BYTES),
                },
            ).scalar_one()
            if share is None:
                for seq, piece in enumerate(_pieces(bundle)):
                    conn.execute(
                        sa.text(
                            "INSERT INTO phms.client_release_chunk (release_id, seq, data)"
                            " VALUES (:r, :n, :d)"
                        ),
                        {"r": release_id, "n": seq, "d": piece},
                    )
    except BaseException:
        if copied is not None:  # the database said no: take the copy back off the share
            with contextlib.suppress(OSError):
                copied.unlink()
        raise
    return Published(
        manifest.version,
        manifest.platform,
        manifest.filename,
        manifest.size,
        manifest.sha256,
        storage,
    )


def _refuse_not_newer(conn: sa.Connection, manifest: Manifest) -> None:
    rows = conn.execute(
        sa.text("SELECT version, withdrawn FROM phms.client_release WHERE platform = :p"),
        {"p": manifest.platform},
    ).all()
    if any(r.version == manifest.version for r in rows):
        raise CommandError(
            f"PHMS {manifest.version} for {manifest.platform} is published already; "
            "publish a later version."
        )
    offered = [r.version for r in rows if not r.withdrawn]
    newest = max(offered, key=version_key, default=None)
    if newest is not None and not is_newer(manifest.version, newest):
        raise CommandError(
            f"PHMS {manifest.version} is not newer than {newest}, the version offered for "
            f"{manifest.platform} now; publish a later version (withdraw a bad release with "
            "'phms-admin release withdraw')."
        )


def list_releases(url: str) -> list[ListedRelease]:
    with connect(url) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT version, platform, size_bytes, storage, published_at, published_by,"
                " withdrawn FROM phms.client_release"
            )
        ).all()
    recommended: dict[str, str] = {}
    for r in rows:
        if not r.withdrawn and (
            r.platform not in recommended or is_newer(r.version, recommended[r.platform])
        ):
            recommended[r.platform] = r.version
    ordered = sorted(rows, key=lambda r: (r.platform, version_key(r.version)), reverse=True)
    return [
        ListedRelease(
            r.version,
            r.platform,
            r.size_bytes,
            r.storage,
            r.published_at,
            r.published_by,
            r.withdrawn,
            recommended.get(r.platform) == r.version,
        )
        for r in ordered
    ]


def withdraw(url: str, version: str, platform: str | None = None) -> int:
    with connect(url) as conn:
        count = conn.execute(
            sa.text(
                "UPDATE phms.client_release SET withdrawn = true WHERE version = :v"
                " AND (CAST(:p AS text) IS NULL OR platform = :p) AND NOT withdrawn"
            ),
            {"v": version, "p": platform},
        ).rowcount
    if count == 0:
        raise CommandError(
            f"No release PHMS {version} is offered{' for ' + platform if platform else ''}."
        )
    return count
