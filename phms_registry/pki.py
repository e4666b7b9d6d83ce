"""The registry's certificate authority: its CA, its server certificate, hospital certificates.

Every hospital gets one client certificate, signed by the registry's CA, whose
subject common name is the hospital ID the registry assigned (organisation
``PHMS registry hospital``). The registry does not trust the name alone: the
certificate's SHA-256 fingerprint is recorded in its database against the
hospital ID when it is issued (``phms_registry.store``), and only recorded,
unrevoked certificates are accepted. Revoking is immediate (no CRL to publish).

Keys are EC P-256. A hospital's private key is written encrypted with its
passphrase (PKCS#8, the best encryption ``cryptography`` offers); the CA and
server keys are files readable by their owner only (0600), as on the PHMS server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOSPITAL_ORG: Final = "PHMS registry hospital"
CA_FILE: Final = "ca.crt"
CA_KEY_FILE: Final = "ca.key"
MIN_PASSPHRASE: Final = 8


class PkiError(Exception):
    """A certificate task that cannot be done, in plain words."""


@dataclass(frozen=True)
class Issued:
    serial: str
    fingerprint: str
    subject_cn: str
    not_before: dt.datetime
    not_after: dt.datetime
    cert_path: Path
    key_path: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER form, lower-case hex (what the registry's database records)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def fingerprint_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def create_ca(directory: Path, name: str = "PHMS registry CA", *, days: int = 3650) -> Path:
    """A new CA in ``directory`` (ca.crt, ca.key 0600); refuses to replace one."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CA_KEY_FILE).exists():
        raise PkiError(f"{directory} already holds a CA; it is never replaced.")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(
        directory / CA_KEY_FILE,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write(directory / CA_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return directory / CA_FILE


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), None)
    except FileNotFoundError as exc:
        raise PkiError(f"No CA in {directory} (run 'phms-registry ca init' first).") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{directory / CA_KEY_FILE} is not an EC key")
    return cert, key


def _leaf(
    ca_dir: Path,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    san: x509.SubjectAlternativeName | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = _load_ca(ca_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def issue_server(
    ca_dir: Path, out_dir: Path, names: list[str], *, days: int = 825
) -> tuple[Path, Path]:
    """The registry's TLS server certificate for ``names`` (DNS names or IP addresses)."""
    if not names:
        raise PkiError("A server certificate needs at least one name.")
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    now = _now()
    cert, key = _leaf(
        ca_dir,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]),
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.SubjectAlternativeName(alt),
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(days=days),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    crt, key_path = out_dir / "server.crt", out_dir / "server.key"
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return crt, key_path


def issue_hospital(
    ca_dir: Path,
    out_dir: Path,
    hospital_id: str,
    passphrase: bytes,
    *,
    days: int = 397,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A hospital's client certificate and its key, encrypted with ``passphrase``.

    ``not_before``/``not_after`` replace the default window (now … now + days); the
    registry operator uses them to align a renewal, the tests to make an expired one.
    """
    hospital_id = hospital_id.strip()
    if not hospital_id or len(hospital_id) > 64 or not hospital_id.isprintable():
        raise PkiError("A hospital ID is 1 to 64 printable characters.")
    if len(passphrase) < MIN_PASSPHRASE:
        raise PkiError(f"The key's passphrase must be at least {MIN_PASSPHRASE} characters.")
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=days)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, HOSPITAL_ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, hospital_id),
        ]
    )
    cert, key = _leaf(ca_dir, subject, ExtendedKeyUsageOID.CLIENT_AUTH, None, start, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in hospital_id)
    stem = f"{stem}-{cert.serial_number:x}"[:80]
    crt, key_path = out_dir / f"{stem}.crt", out_dir / f"{stem}.key"
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        ),
        0o600,
    )
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Issued(
        serial=f"{cert.serial_number:x}",
        fingerprint=fingerprint(cert),
        subject_cn=hospital_id,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        cert_path=crt,
        key_path=key_path,
    )
