"""phms_client.update.manifest / versions: what is signed, and what a workstation accepts."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phms_client.update.errors import UpdateError
from phms_client.update.manifest import (
    Manifest,
    notes_digest,
    public_key_from_text,
    public_key_text,
    sign,
    verify,
)
from phms_client.update.versions import canonical_version, is_newer, short_version

MANIFEST = Manifest(
    "0.3.0", "linux-x86_64", "phms-0.3.0-linux-x86_64.tar.gz", 1234, "a" * 64, notes_digest("x")
)


def test_the_text_is_canonical_and_reads_back() -> None:
    text = MANIFEST.text()
    assert text.startswith('{"filename":"phms-0.3.0-linux-x86_64.tar.gz","format":')
    assert " " not in text
    assert Manifest.parse(text) == MANIFEST


def test_a_good_signature_passes() -> None:
    key = Ed25519PrivateKey.generate()
    public = public_key_from_text(public_key_text(key.public_key()))
    assert verify(MANIFEST.text(), sign(MANIFEST, key), public) == MANIFEST


def test_another_key_is_refused() -> None:
    signature = sign(MANIFEST, Ed25519PrivateKey.generate())
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(UpdateError, match="does not match this clinic's release key"):
        verify(MANIFEST.text(), signature, other)


def test_a_changed_manifest_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    signature = sign(MANIFEST, key)
    changed = MANIFEST.text().replace('"size":1234', '"size":1235')
    with pytest.raises(UpdateError, match="does not match"):
        verify(changed, signature, key.public_key())


@pytest.mark.parametrize("signature", [b"", None])
def test_an_unsigned_manifest_is_refused(signature: bytes | None) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(UpdateError, match="not signed"):
        verify(MANIFEST.text(), signature, key.public_key())


def test_a_cut_signature_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(UpdateError, match="damaged"):
        verify(MANIFEST.text(), sign(MANIFEST, key)[:40], key.public_key())


def test_a_signed_but_not_canonical_text_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    loose = json.dumps(json.loads(MANIFEST.text()), indent=1)
    with pytest.raises(UpdateError, match="canonical"):
        verify(loose, key.sign(loose.encode()), key.public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "expected fields"),
        ({"format": "other"}, "unknown kind"),
        ({"size": "1234"}, "wrong kind"),
        ({"size": 0}, "1 byte"),
        ({"filename": "../evil.tar.gz"}, "plain name"),
        ({"sha256": "A" * 64}, "SHA-256"),
        ({"version": "0.03.0"}, "not a release version"),
        ({"version": "v0.3.0"}, "not a release version"),
    ],
)
def test_odd_manifests_are_refused(change: dict[str, object], message: str) -> None:
    raw = {**json.loads(MANIFEST.text()), **change}
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    with pytest.raises(UpdateError, match=message):
        Manifest.parse(text)


def test_a_bad_public_key_says_what_to_do() -> None:
    with pytest.raises(UpdateError, match="release_public_key"):
        public_key_from_text("not base64!")


def test_versions() -> None:
    assert canonical_version(" 0.3.0 ") == "0.3.0"
    for bad in ("0.3.0+local", "1!0.3", "0.3.0-1", "abc", "00.3"):
        with pytest.raises(UpdateError):
            canonical_version(bad)
    assert is_newer("0.10.0", "0.9.1")
    assert is_newer("1.0", "1.0rc1")
    assert not is_newer("0.3.0", "0.3.0")
    assert not is_newer("garbage", "0.1")
    assert short_version("0.3.0") == "0.3"
    assert short_version("0.3.1") == "0.3.1"
    assert short_version("1.0.0") == "1.0"
