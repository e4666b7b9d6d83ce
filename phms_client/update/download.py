"""Receiving a release: bytes checked against the signed size and checksum, then installed.

:func:`receive` writes the bytes to a temporary file outside the versions folder,
counting them as they come: more than the manifest's size is refused at once
(a source cannot fill the disk), fewer is a cut-short download, and the SHA-256
must match. Only a file that passed all three reaches :meth:`VersionsFolder.install`.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import BinaryIO

from phms_client.update.errors import UpdateCancelled, UpdateError
from phms_client.update.install import Installed, VersionsFolder
from phms_client.update.manifest import Manifest

#: Called with (bytes received, bytes expected) after each piece.
Progress = Callable[[int, int], None]


def receive(
    chunks: Iterable[bytes],
    manifest: Manifest,
    out: BinaryIO,
    *,
    progress: Progress | None = None,
    cancelled: threading.Event | None = None,
) -> None:
    """Copy ``chunks`` to ``out``; UpdateError unless they are exactly the signed bytes."""
    digest = hashlib.sha256()
    received = 0
    for chunk in chunks:
        if cancelled is not None and cancelled.is_set():
            raise UpdateCancelled()
        received += len(chunk)
        if received > manifest.size:
            raise UpdateError(
                "The download is larger than the release says; it was stopped and nothing "
                "was installed."
            )
        digest.update(chunk)
        try:
            out.write(chunk)
        except OSError as exc:
            raise UpdateError(
                f"The download could not be saved ({exc.strerror or exc}); nothing was installed."
            ) from exc
        if progress is not None:
            progress(received, manifest.size)
    if received != manifest.size:
        raise UpdateError(
            f"The download stopped early ({received} of {manifest.size} bytes); "
            "nothing was installed."
        )
    if digest.hexdigest() != manifest.sha256:
        raise UpdateError(
            "The downloaded release does not match its checksum (damaged or altered); "
            "nothing was installed. Please tell IT."
        )


def fetch_and_install(
    chunks: Iterable[bytes],
    manifest: Manifest,
    folder: VersionsFolder,
    *,
    keep: Collection[str] = (),
    progress: Progress | None = None,
    cancelled: threading.Event | None = None,
) -> Installed:
    """Receive, check and install one release; any failure changes nothing installed."""
    folder.check_writable()  # say so before a long download, not after
    with tempfile.TemporaryDirectory(prefix="phms-update-") as scratch:
        archive = Path(scratch) / manifest.filename
        try:
            out = archive.open("wb")
        except OSError as exc:
            raise UpdateError(
                f"The download could not be saved ({exc.strerror or exc}); nothing was installed."
            ) from exc
        with out:
            receive(chunks, manifest, out, progress=progress, cancelled=cancelled)
        if cancelled is not None and cancelled.is_set():
            raise UpdateCancelled()
        return folder.install(archive, manifest, keep=keep)
