"""The HTTPS client of the registry upload: mutual TLS with the stdlib only.

``ssl`` and ``http.client`` do everything needed (a client certificate with an
encrypted key, the registry's CA, timeouts), so the sending side adds no
dependency. Before connecting, :func:`check_credentials` reads the certificate
and the key itself, so that the failures a site meets get their own message:
a wrong passphrase, an expired or not yet valid certificate, a certificate of
another hospital. Everything the network or the registry does wrong becomes a
:class:`RegistryError` with plain words.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from phms_schema.registry_anonymity import Held

TIMEOUT_S: Final = 60.0
BATCH_PATH: Final = "/v1/batches"
#: Largest answer read: an acknowledgement is small; a cohort lists every patient held.
MAX_ANSWER: Final = 1024 * 1024
MAX_COHORT_ANSWER: Final = 64 * 1024 * 1024


class RegistryError(Exception):
    """An upload failure in plain words (the CLI prints it, the status shows it)."""


class RegistryRefused(RegistryError):
    """The registry answered and refused the batch: ``code`` and its ``reason``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"The registry refused the batch ({code}): {reason}")
        self.code, self.reason = code, reason


class RegistryDisconnected(RegistryError):
    """The connection ended without an answer."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    #: Seconds to wait for the connection and for each answer.
    timeout: float = TIMEOUT_S

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise RegistryError(f"The registry URL must be https://HOST[:PORT]: {self.url}")
        return parts.hostname, parts.port or 443

    @property
    def path_prefix(self) -> str:
        return urlsplit(self.url).path.rstrip("/")


@dataclass(frozen=True)
class Ack:
    batch_id: str
    receipt: str
    replayed: bool
    received_at: str


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"Cannot read the {what} {path}: {exc.strerror or exc}") from exc


def check_credentials(
    endpoint: Endpoint, passphrase: bytes, hospital_id: str, *, now: dt.datetime | None = None
) -> x509.Certificate:
    """Open the key, check the certificate's dates, key and hospital ID; return it."""
    try:
        cert = x509.load_pem_x509_certificate(_read(endpoint.cert_file, "certificate"))
    except ValueError as exc:
        raise RegistryError(f"{endpoint.cert_file} is not a PEM certificate.") from exc
    key_data = _read(endpoint.key_file, "private key")
    try:
        key = serialization.load_pem_private_key(key_data, passphrase or None)
    except TypeError as exc:  # encrypted but no passphrase, or a passphrase for a plain key
        raise RegistryError(
            f"The private key {endpoint.key_file} needs its passphrase (passphrase_file)."
            if not passphrase
            else f"The private key {endpoint.key_file} is not encrypted; a key sent to a "
            "registry must be protected by a passphrase."
        ) from exc
    except ValueError as exc:
        raise RegistryError(
            f"Wrong passphrase: it does not open the private key {endpoint.key_file}."
        ) from exc
    if key.public_key() != cert.public_key():
        raise RegistryError(f"The key {endpoint.key_file} does not belong to {endpoint.cert_file}.")
    now = now or dt.datetime.now(dt.UTC)
    if now < cert.not_valid_before_utc:
        raise RegistryError(
            f"The certificate {endpoint.cert_file} is not valid yet: from "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (is this machine's clock right?)."
        )
    if now >= cert.not_valid_after_utc:
        raise RegistryError(
            f"The certificate {endpoint.cert_file} expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d}; ask the registry for a new one."
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    issued_to = str(names[0].value) if names else ""
    if issued_to != hospital_id:
        raise RegistryError(
            f"The hospital ID {hospital_id!r} does not match the certificate, which the "
            f"registry issued to {issued_to!r}."
        )
    return cert


def ssl_context(endpoint: Endpoint, passphrase: bytes) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(endpoint.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise RegistryError(f"Cannot use the registry CA file {endpoint.ca_file}: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(endpoint.cert_file, endpoint.key_file, password=passphrase)
    except ssl.SSLError as exc:
        raise RegistryError(f"Cannot use the certificate and key: {exc.reason or exc}") from exc
    return context


_TLS_REFUSALS: Final = {
    "CERTIFICATE_EXPIRED": "the registry says this hospital's certificate has expired",
    "CERTIFICATE_REQUIRED": "the registry requires a client certificate",
    "UNKNOWN_CA": "the registry does not trust the CA that signed this certificate",
    "BAD_CERTIFICATE": "the registry did not accept this hospital's certificate",
    "CERTIFICATE_UNKNOWN": "the registry did not accept this hospital's certificate",
    "CERTIFICATE_REVOKED": "the registry has revoked this hospital's certificate",
}


def _describe_ssl(exc: ssl.SSLError, where: str) -> RegistryError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RegistryError(
            f"The registry at {where} could not be verified against the registry CA file: "
            f"{exc.verify_message}. Is the URL right, and the CA file the registry's?"
        )
    reason = str(exc.reason or "")
    for marker, text in _TLS_REFUSALS.items():
        if marker in reason.upper():
            return RegistryError(f"The TLS connection to {where} was refused: {text}.")
    return RegistryError(f"The TLS connection to {where} failed: {reason or exc}.")


def _request(
    endpoint: Endpoint,
    context: ssl.SSLContext,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    max_answer: int = MAX_ANSWER,
) -> tuple[int, dict[str, Any]]:
    host, port = endpoint.host_port
    where = f"{host}:{port}"
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=endpoint.timeout)
    try:
        conn.request(method, endpoint.path_prefix + path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read(max_answer)
        status = response.status
    except ssl.SSLEOFError as exc:
        raise RegistryDisconnected(
            f"The connection to the registry at {where} broke off during TLS; the batch "
            "will be sent again next time."
        ) from exc
    except ssl.SSLError as exc:
        raise _describe_ssl(exc, where) from exc
    except TimeoutError as exc:
        raise RegistryDisconnected(
            f"The registry at {where} did not answer within {endpoint.timeout:g} s; the "
            "batch will be sent again next time."
        ) from exc
    except ConnectionRefusedError as exc:
        raise RegistryError(
            f"The registry at {where} cannot be reached (connection refused)."
        ) from exc
    except socket.gaierror as exc:
        raise RegistryError(
            f"The registry's host name {host!r} is unknown: {exc.strerror}."
        ) from exc
    except (ConnectionError, http.client.HTTPException) as exc:
        raise RegistryDisconnected(
            f"The connection to the registry at {where} broke off ({type(exc).__name__}); "
            "the batch will be sent again next time."
        ) from exc
    except OSError as exc:
        raise RegistryError(
            f"The registry at {where} cannot be reached: {exc.strerror or exc}."
        ) from exc
    finally:
        conn.close()
    try:
        answer = json.loads(raw)
        if not isinstance(answer, dict):
            raise ValueError
    except ValueError:
        raise RegistryError(
            f"The registry at {where} answered {status} with something that is not its JSON "
            "(is the URL right?)."
        ) from None
    return status, answer


def send_batch(
    endpoint: Endpoint, context: ssl.SSLContext, payload: bytes, content_sha256: str
) -> Ack:
    """POST one batch; its acknowledgement, or :class:`RegistryRefused` / :class:`RegistryError`."""
    status, answer = _request(
        endpoint,
        context,
        "POST",
        BATCH_PATH,
        payload,
        {"Content-Type": "application/json", "Content-SHA256": content_sha256},
    )
    if status == 200 and answer.get("status") == "acknowledged":
        if answer.get("content_sha256") != content_sha256:
            raise RegistryError("The registry acknowledged different content; nothing recorded.")
        return Ack(
            str(answer.get("batch_id")),
            str(answer.get("receipt", ""))[:200],
            bool(answer.get("replayed")),
            str(answer.get("received_at", "")),
        )
    if 400 <= status < 500:
        raise RegistryRefused(
            str(answer.get("error", status))[:40], str(answer.get("reason", ""))[:1500]
        )
    raise RegistryError(f"The registry failed ({status}): {str(answer.get('reason', ''))[:500]}")


def hello(endpoint: Endpoint, context: ssl.SSLContext) -> dict[str, Any]:
    """Which hospital the registry takes this certificate for (checked before sending).

    The registry's TLS refuses a certificate it did not sign, or one that has expired,
    by closing the connection (its TLS stack sends no reason), so a connection closed
    here, before any data, is reported as that.
    """
    try:
        status, answer = _request(endpoint, context, "GET", "/v1/hello", None, {})
    except RegistryDisconnected as exc:
        host, port = endpoint.host_port
        raise RegistryError(
            f"The registry at {host}:{port} closed the connection without answering: it did "
            "not accept this hospital's certificate (not signed by the registry's CA, or "
            "expired). Check the certificate with the registry."
        ) from exc
    if status != 200:
        raise RegistryRefused(str(answer.get("error", status)), str(answer.get("reason", "")))
    return answer


@dataclass(frozen=True)
class RegistryCohort:
    """What the registry holds from this hospital, as it will judge k on it."""

    k_threshold: int
    #: patient key -> quasi-identifiers as held.
    patients: dict[str, Held]


def cohort(endpoint: Endpoint, context: ssl.SSLContext) -> RegistryCohort:
    """The quasi-identifiers the registry holds for this hospital (``GET /v1/cohort``)."""
    status, answer = _request(
        endpoint, context, "GET", "/v1/cohort", None, {}, max_answer=MAX_COHORT_ANSWER
    )
    if status != 200:
        raise RegistryRefused(str(answer.get("error", status)), str(answer.get("reason", "")))
    threshold, rows = answer.get("k_threshold"), answer.get("patients")
    try:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError("k_threshold")
        if not isinstance(rows, list):
            raise ValueError("patients")
        held = {str(r["patient_key"]): Held.from_json(r) for r in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(
            f"The registry's list of the patients it holds is not in its format ({exc}); "
            "nothing was sent."
        ) from None
    return RegistryCohort(threshold, held)
