"""The registry's ASGI application (Starlette): ``POST /v1/batches``, ``GET /v1/hello``
and ``GET /v1/cohort``.

It must run behind TLS that *requires* a client certificate signed by the
registry's CA (``phms_registry.server`` does that with uvicorn). The verified
certificate reaches the app through the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``); its fingerprint names
the hospital (``store.caller_for``). A request without one is refused.

``GET /v1/cohort`` answers the quasi-identifiers the registry holds for the
caller's own hospital (patient keys and the values the hospital sent, nothing
of another hospital), with the threshold: the sender checks its batches against
them exactly as the registry will (``phms_schema.registry_anonymity``).

Every answer is JSON. An acknowledgement is ``200`` with ``status:
acknowledged``; a refusal is ``4xx`` with ``error`` (a code) and ``reason``
(plain words the sender shows its admin). Refusals are logged in
``registry.refusal``.
"""

from __future__ import annotations

import json
import logging
import ssl
from typing import Any, Final

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from phms_registry import pki, store

MAX_BODY: Final = 64 * 1024 * 1024
log = logging.getLogger("phms_registry")


def _refused(refusal: store.Refusal) -> JSONResponse:
    return JSONResponse({"error": refusal.code, "reason": refusal.reason}, refusal.status)


def client_fingerprint(scope: Any) -> str:
    chain = (scope.get("extensions") or {}).get("tls", {}).get("client_cert_chain") or []
    if not chain:
        raise store.Refusal(
            403,
            "certificate_required",
            "The registry accepts only requests with a client certificate.",
        )
    return pki.fingerprint_der(ssl.PEM_cert_to_DER_cert(chain[0]))


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise store.Refusal(413, "too_large", f"A batch is at most {MAX_BODY // 2**20} MiB.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise store.Refusal(413, "too_large", f"A batch is at most {MAX_BODY // 2**20} MiB.")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(engine: sa.Engine, *, k_threshold: int = store.DEFAULT_K) -> Starlette:
    if k_threshold < 1:
        raise ValueError("k must be at least 1")

    def caller(fingerprint: str) -> store.Caller:
        with engine.connect() as conn:
            return store.caller_for(conn, fingerprint)

    def apply(who: store.Caller, body: bytes, sha: str | None) -> store.Ack:
        with engine.begin() as conn:
            return store.receive(conn, who, body, sha, k_threshold=k_threshold)

    def log_refusal(who: store.Caller | None, body: bytes, refusal: store.Refusal) -> None:
        try:  # the batch's ID when there is one to read, for the operator
            batch_id = json.loads(body).get("batch_id") if body else None
        except (ValueError, AttributeError):
            batch_id = None
        with engine.begin() as conn:
            store.log_refusal(conn, who, batch_id, refusal)

    async def hello(request: Request) -> JSONResponse:
        try:
            who = await run_in_threadpool(caller, client_fingerprint(request.scope))
        except store.Refusal as refusal:
            return _refused(refusal)
        return JSONResponse({"hospital_id": who.hospital_id, "k_threshold": k_threshold})

    def held(who: store.Caller) -> dict[str, Any]:
        with engine.connect() as conn:
            cohort = store.held_cohort(conn, who.hospital_id)
        return {
            "hospital_id": who.hospital_id,
            "k_threshold": k_threshold,
            "patients": [
                {"patient_key": key, **qi.as_json()} for key, qi in sorted(cohort.items())
            ],
        }

    async def cohort(request: Request) -> JSONResponse:
        try:
            who = await run_in_threadpool(caller, client_fingerprint(request.scope))
        except store.Refusal as refusal:
            return _refused(refusal)
        return JSONResponse(await run_in_threadpool(held, who))

    async def post_batch(request: Request) -> JSONResponse:
        who: store.Caller | None = None
        body = b""
        try:
            who = await run_in_threadpool(caller, client_fingerprint(request.scope))
            body = await _body(request)
            ack = await run_in_threadpool(apply, who, body, request.headers.get("content-sha256"))
        except store.Refusal as refusal:
            log.warning("refused a batch from %s: %s", who and who.hospital_id, refusal.reason)
            await run_in_threadpool(log_refusal, who, body, refusal)
            return _refused(refusal)
        log.info(
            "batch %s from %s: %d patients, %d removed%s",
            ack.batch_id,
            ack.hospital_id,
            ack.patients,
            ack.removed,
            " (replayed)" if ack.replayed else "",
        )
        return JSONResponse(ack.as_json())

    return Starlette(
        routes=[
            Route("/v1/hello", hello, methods=["GET"]),
            Route("/v1/cohort", cohort, methods=["GET"]),
            Route("/v1/batches", post_batch, methods=["POST"]),
        ]
    )
