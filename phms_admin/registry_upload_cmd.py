"""phms-admin registry-upload: send the registry export to the national registry, daily.

    phms-admin registry-upload [--config FILE] [--min-k K] [--url URL]
    phms-admin registry-upload --estimate [--config FILE] [--min-k K] [--url URL]
    phms-admin registry-upload --status [--url URL]

The configuration file (TOML; default ``$PHMS_REGISTRY_UPLOAD_CONFIG``, else
``/etc/phms/registry-upload.toml``) is described in ``registry_upload_config``.

Each run first resends any batch the registry never answered, then builds the
export over the whole cohort, generalised by the export's ladder until every
patient is among at least ``min_k`` (``phms_schema.anonymity``), and sends the
patients whose anonymised data changed since the last acknowledged upload
(``phms_client.services.registry_upload``), written at that cohort-wide rung.
Before anything is sent it asks the registry what it holds from this hospital
and checks every batch as the registry will (``registry_upload_check``): a
batch the registry would refuse is refused here, with what is too rare and what
to do. Every run, good or bad, is logged in the database: ``--status`` and
Preferences show the last success and the last error. See docs/admin-guide.md,
"Registry upload".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import registry_client as rc
from phms_admin.connection import CommandError, describe_db_error, resolve_url
from phms_admin.registry_upload_config import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    UploadConfig,
    load_config,
    min_k_argument,
    read_passphrase,
)
from phms_client.db.environment import OnStaging, refuse_on_staging
from phms_client.services import registry_export, registry_upload
from phms_client.services import registry_upload_check as precheck
from phms_schema.anonymity import DEFAULT_MIN_K, NotAnonymous
from phms_schema.registry_anonymity import Held

__all__ = ["UploadConfig", "cmd_registry_upload", "estimate", "load_config", "read_passphrase",
           "upload"]  # fmt: skip

Sender = Callable[[rc.Endpoint, Any, bytes, str], rc.Ack]
Say = Callable[[str], object]


def _quiet(_line: str) -> None:
    return None


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(
        url,
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 10, "application_name": "phms-admin registry-upload"},
    )


def _situation(cfg: UploadConfig, threshold: int | None) -> precheck.Situation:
    min_k = cfg.min_k or threshold or DEFAULT_MIN_K
    return precheck.Situation(min_k, threshold, cfg.ph_only, cfg.shift_dates)


def _export(
    session: Session, cfg: UploadConfig, situation: precheck.Situation
) -> registry_export.RegistryExport:
    try:
        return _build(session, cfg, situation)
    except OnStaging as exc:  # a staging copy's patients never reach the registry
        raise CommandError(str(exc)) from None


def _build(
    session: Session, cfg: UploadConfig, situation: precheck.Situation
) -> registry_export.RegistryExport:
    if cfg.secret_file is not None:
        try:
            secret = registry_export.read_secret_file(cfg.secret_file)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
    else:
        try:
            secret = registry_export.registry_secret(session)
        except RuntimeError as exc:  # the site has no key yet
            raise CommandError(str(exc)) from exc
    try:
        # The ladder runs over the whole cohort, never over a batch: every patient is
        # written at the same rung, the one that makes the cohort k-anonymous.
        return registry_export.build_export(
            session,
            secret=secret,
            hospital_id=cfg.hospital_id,
            ph_only=cfg.ph_only,
            shift_dates=cfg.shift_dates,
            min_k=situation.min_k,
            birth_band_at_least=cfg.birth_year_band,
        )
    except NotAnonymous as exc:
        raise CommandError(str(precheck.not_anonymous(exc, situation))) from exc


def _prepare(
    session: Session,
    cfg: UploadConfig,
    situation: precheck.Situation,
    held: dict[str, Held] | None,
) -> tuple[registry_export.RegistryExport, registry_upload.Plan, precheck.Check]:
    """Export, plan and pre-check; ``held`` is the registry's cohort (``None``: unknown)."""
    export = _export(session, cfg, situation)
    plan = registry_upload.plan(session, export)
    cohort = precheck.offline_cohort(plan) if held is None else held
    try:
        checked = precheck.check(plan, cohort, situation=situation, batch_size=cfg.batch_size)
    except precheck.NotSent as exc:
        raise CommandError(str(exc)) from exc
    return export, plan, checked


# ------------------------------------------------------------------- estimate


def _ask_registry(cfg: UploadConfig) -> tuple[rc.RegistryCohort | None, str]:
    """The registry's cohort for the estimate, when it can be asked without a prompt."""
    if cfg.passphrase_file is None:
        return None, "not asked (no passphrase_file to open the key with)"
    try:
        passphrase = read_passphrase(cfg)
        rc.check_credentials(cfg.endpoint, passphrase, cfg.hospital_id)
        cohort = rc.cohort(cfg.endpoint, rc.ssl_context(cfg.endpoint, passphrase))
    except (rc.RegistryError, CommandError) as exc:
        return None, f"not reachable ({exc})"
    return cohort, f"asked just now: it needs k≥{cohort.k_threshold}"


def estimate(engine: sa.Engine, cfg: UploadConfig) -> list[str]:
    remote, asked = _ask_registry(cfg)
    situation = _situation(cfg, remote.k_threshold if remote else None)
    lines = [
        f"Registry upload estimate for hospital ID {cfg.hospital_id} "
        f"({'patients with a PH diagnosis' if cfg.ph_only else 'all patients'}); nothing sent.",
        f"  The registry: {asked}"
        + ("." if remote else f"; assuming it holds what it acknowledged, k≥{situation.min_k}."),
    ]
    with Session(engine) as s:
        pending = registry_upload.pending_batches(s, cfg.hospital_id)
        try:
            held = None if remote is None else remote.patients
            _, plan, checked = _prepare(s, cfg, situation, held)
        except CommandError as exc:
            s.rollback()
            return [*lines, f"  NOT SENDABLE. {exc}"]
        s.rollback()
    lines += [
        f"  In the export: {plan.total_patients} patient(s), {plan.total_records} record(s).",
        f"  To send now: {len(plan.changed)} new or changed patient(s) with {plan.records} "
        f"record(s), {len(plan.removed)} removed, in {len(checked.chunks)} batch(es).",
        f"  Waiting to be resent: {len(pending)} batch(es).",
        *(f"  {line}" for line in precheck.describe(checked, plan)),
    ]
    return lines


# --------------------------------------------------------------------- upload


@dataclass
class Tally:
    batches: int = 0
    patients: int = 0
    removed: int = 0
    resent: int = 0
    replayed: int = 0


def _send_one(
    engine: sa.Engine,
    cfg: UploadConfig,
    context: Any,
    batch: registry_upload.Batch,
    tally: Tally,
    send: Sender,
    say: Say,
) -> None:
    try:
        ack = send(cfg.endpoint, context, batch.payload, batch.content_sha256)
    except rc.RegistryRefused as exc:
        with Session(engine) as s:
            registry_upload.record_refused(s, batch, f"{exc.code}: {exc.reason}")
            s.commit()
        say(f"Batch {batch.batch_id}: refused ({exc.code})")
        raise
    say(
        f"Batch {batch.batch_id}: {batch.patients} patient(s), {batch.removed} removed, "
        f"acknowledged{' again (it had arrived before)' if ack.replayed else ''}"
    )
    with Session(engine) as s:
        registry_upload.record_acknowledged(s, batch, ack.receipt or "acknowledged")
        s.commit()
    tally.batches += 1
    tally.patients += batch.patients
    tally.removed += batch.removed
    tally.replayed += ack.replayed


def _upload(
    engine: sa.Engine, cfg: UploadConfig, passphrase: bytes, send: Sender, say: Say
) -> tuple[str, Tally]:
    rc.check_credentials(cfg.endpoint, passphrase, cfg.hospital_id)
    context = rc.ssl_context(cfg.endpoint, passphrase)
    hello = rc.hello(cfg.endpoint, context)
    if hello.get("hospital_id") != cfg.hospital_id:
        raise rc.RegistryError(
            f"The hospital ID {cfg.hospital_id!r} does not match the certificate: the registry "
            f"knows it as {hello.get('hospital_id')!r}."
        )
    tally = Tally()
    with Session(engine) as s:
        pending = registry_upload.pending_batches(s, cfg.hospital_id)
    if pending:
        say(f"Resending {len(pending)} batch(es) the registry has not answered")
    for batch in pending:
        _send_one(engine, cfg, context, batch, tally, send, say)
        tally.resent += 1
    remote = rc.cohort(cfg.endpoint, context)  # after the resends: what it holds now
    situation = _situation(cfg, remote.k_threshold)
    with Session(engine) as s:
        export, plan, checked = _prepare(s, cfg, situation, remote.patients)
        batches = registry_upload.make_batches(
            s, export, checked.chunks, registry_url=cfg.endpoint.url
        )
        s.commit()
    if batches:
        say(
            f"Sending {len(plan.changed)} new or changed patient(s) and {len(plan.removed)} "
            f"removal(s) in {len(batches)} batch(es)"
        )
        for line in precheck.describe(checked, plan):
            say(line)
    for batch in batches:
        _send_one(engine, cfg, context, batch, tally, send, say)
    anonymity = f"k={checked.final.k}; " + (
        ", ".join(plan.anonymity.generalised) or "nothing generalised"
    )
    if not tally.batches:
        message = (
            f"Nothing changed; the registry holds {plan.total_patients} patient(s) ({anonymity})."
        )
    else:
        message = (
            f"Sent {tally.batches} batch(es): {tally.patients} patient(s), {tally.removed} "
            f"removed; the registry holds {plan.total_patients} patient(s) ({anonymity})."
        )
        if tally.resent:
            message += f" {tally.resent} interrupted batch(es) resent."
    return message, tally


def upload(
    url: str,
    cfg: UploadConfig,
    passphrase: bytes,
    *,
    send: Sender = rc.send_batch,
    say: Say = _quiet,
) -> str:
    """One upload run (one at a time per database); logged; CommandError on failure."""
    started = dt.datetime.now(dt.UTC)
    engine = _engine(url)
    try:
        # The lock's connection holds no transaction while the upload runs (a server
        # that ends idle transactions would otherwise end it, and the lock with it).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            key = registry_upload.UPLOAD_LOCK_KEY
            if not lock.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise CommandError("Another registry upload is running; try again later.")
            try:
                try:
                    message, tally = _upload(engine, cfg, passphrase, send, say)
                except (rc.RegistryError, CommandError) as exc:
                    _log_run(engine, started, ok=False, message=str(exc))
                    raise CommandError(str(exc)) from exc
                _log_run(engine, started, ok=True, message=message, tally=tally)
                return message
            finally:
                lock.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    except sa.exc.DBAPIError as exc:
        raise CommandError(describe_db_error(exc)) from exc
    finally:
        engine.dispose()


def _log_run(
    engine: sa.Engine, started: dt.datetime, *, ok: bool, message: str, tally: Tally | None = None
) -> None:
    t = tally or Tally()
    with Session(engine) as s:
        registry_upload.record_run(
            s,
            started_at=started,
            ok=ok,
            message=message,
            batches=t.batches,
            patients=t.patients,
            removed=t.removed,
        )
        s.commit()


# ------------------------------------------------------------------------ CLI


def refuse_on_staging_copy(url: str) -> None:
    """Nothing of a staging copy is ever sent to (or estimated for) the registry."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            refuse_on_staging(conn, "The registry upload")
    except OnStaging as exc:
        raise CommandError(str(exc)) from None
    except sa.exc.DBAPIError as exc:
        raise CommandError(describe_db_error(exc)) from exc
    finally:
        engine.dispose()


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "registry-upload",
        help="send the anonymised registry export to the registry (mutual TLS, incremental)",
        description="Send what registry-export builds to the national registry over HTTPS "
        "with this hospital's client certificate: only what changed since the last "
        "acknowledged upload. Scheduled daily by installer/server/.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--estimate",
        action="store_true",
        help="print how many patients and records would go, the k reached and what was "
        "generalised; send nothing",
    )
    mode.add_argument(
        "--status", action="store_true", help="print the last successful upload and the last error"
    )
    p.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default ${CONFIG_ENV}, else {DEFAULT_CONFIG})",
    )
    p.add_argument(
        "--min-k",
        type=min_k_argument,
        metavar="K",
        help="every patient among at least K sharing their quasi-identifiers (default: "
        "min_k of the configuration, else the registry's threshold, else 5)",
    )
    p.add_argument("--url", help="database URL of an admin login (default: PHMS_DATABASE_URL)")
    p.set_defaults(handler=cmd_registry_upload)


def cmd_registry_upload(args: argparse.Namespace) -> int:
    url = resolve_url(args.url)
    if args.status:
        engine = _engine(url)
        try:
            with Session(engine) as s:
                lines = registry_upload.describe(registry_upload.status(s))
        except sa.exc.DBAPIError as exc:
            raise CommandError(describe_db_error(exc)) from exc
        finally:
            engine.dispose()
        print("\n".join(lines))
        return 0
    refuse_on_staging_copy(url)
    path = args.config or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    cfg = load_config(path).asking(args.min_k)
    if args.estimate:
        engine = _engine(url)
        try:
            print("\n".join(estimate(engine, cfg)))
        except sa.exc.DBAPIError as exc:
            raise CommandError(describe_db_error(exc)) from exc
        finally:
            engine.dispose()
        return 0
    passphrase = read_passphrase(cfg)
    print(upload(url, cfg, passphrase, say=lambda line: print(line, flush=True)))
    return 0
