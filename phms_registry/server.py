"""Serve the registry app with uvicorn behind mutual TLS.

The TLS context requires a client certificate signed by the registry's CA
(``ssl.CERT_REQUIRED``): a client without one, with an expired one or with one
from another CA never gets past the handshake. uvicorn does not put the peer
certificate into the ASGI scope, so :class:`TlsH11Protocol` adds it as the ASGI
TLS extension (``scope["extensions"]["tls"]``) for each connection.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that hands the verified client certificate to the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        tls: dict[str, Any] = {
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "tls_version": None,
            "cipher_suite": None,
        }
        inner = self.app

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": tls}}
            await inner(scope, receive, send)

        self.app = with_tls


def config(
    app: Any,
    *,
    host: str,
    port: int,
    certfile: Path,
    keyfile: Path,
    ca_file: Path,
    log_level: str = "info",
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(certfile),
        ssl_keyfile=str(keyfile),
        ssl_ca_certs=str(ca_file),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        http=TlsH11Protocol,
        lifespan="off",
        log_level=log_level,
        timeout_keep_alive=5,
        limit_concurrency=50,
    )
