"""phms-admin registry-upload: send the registry export to the national registry, daily.

    phms-admin registry-upload [--config FILE] [--url URL]
    phms-admin registry-upload --estimate [--config FILE] [--url URL]
    phms-admin registry-upload --status [--url URL]

The configuration file (TOML; default ``$PHMS_REGISTRY_UPLOAD_CONFIG``, else
``/etc/phms/registry-upload.toml``) names the registry, the hospital ID, the
registry's CA, this hospital's client certificate and key, and the file that
holds the key's passphrase (else it is asked for on the terminal; never on the
command line)::

    registry_url = "https://registry.example.org:8443"
    hospital_id = "RBH"
    ca_file = "registry-ca.crt"          # relative to this file's folder
    cert_file = "hospital.crt"
    key_file = "hospital.key"
    passphrase_file = "hospital.pass"
    patients = "ph-only"                 # or "all"
    birth_year_band = 1                  # 1, 5 or 10
    shift_dates = false
    batch_size = 500
    timeout_seconds = 60                 # wait this long for each answer

Each run first resends any batch the registry never answered, then sends the
patients whose anonymised data changed since the last acknowledged upload
(``phms_client.services.registry_upload``). Every run, good or bad, is logged
in the database: ``--status`` and Preferences show the last success and the
last error. See docs/admin-guide.md, "Registry upload".
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import registry_client as rc
from phms_admin.connection import CommandError, describe_db_error, resolve_url
from phms_client.services import registry_export, registry_upload
from phms_schema.registry_format import BIRTH_YEAR_BANDS

DEFAULT_CONFIG: Final = Path("/etc/phms/registry-upload.toml")
CONFIG_ENV: Final = "PHMS_REGISTRY_UPLOAD_CONFIG"
KEYS: Final = frozenset(
    {
        "registry_url",
        "hospital_id",
        "ca_file",
        "cert_file",
        "key_file",
        "passphrase_file",
        "patients",
        "birth_year_band",
        "shift_dates",
        "batch_size",
        "secret_file",
        "timeout_seconds",
    }
)

Sender = Callable[[rc.Endpoint, Any, bytes, str], rc.Ack]
Say = Callable[[str], object]


def _quiet(_line: str) -> None:
    return None


@dataclass(frozen=True)
class UploadConfig:
    endpoint: rc.Endpoint
    hospital_id: str
    passphrase_file: Path | None
    ph_only: bool
    birth_year_band: int
    shift_dates: bool
    batch_size: int
    secret_file: Path | None


def load_config(path: Path) -> UploadConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(
            f"Cannot read the registry upload configuration {path}: {exc.strerror or exc}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(raw) - KEYS
    if unknown:
        raise CommandError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")

    def text(key: str, required: bool = True) -> str | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise CommandError(f"{path}: '{key}' must be set (text)")
        return value.strip()

    def file(key: str, required: bool = True) -> Path | None:
        value = text(key, required)
        return None if value is None else (path.parent / value).resolve()

    patients = raw.get("patients", "ph-only")
    if patients not in ("ph-only", "all"):
        raise CommandError(f'{path}: \'patients\' is "ph-only" or "all"')
    band = raw.get("birth_year_band", 1)
    if band not in BIRTH_YEAR_BANDS:
        raise CommandError(f"{path}: 'birth_year_band' is one of {BIRTH_YEAR_BANDS}")
    timeout = raw.get("timeout_seconds", rc.TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 600:
        raise CommandError(f"{path}: 'timeout_seconds' is a number from 1 to 600")
    batch_size = raw.get("batch_size", registry_upload.DEFAULT_BATCH_SIZE)
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 5000:
        raise CommandError(f"{path}: 'batch_size' is a number from 1 to 5000")
    hospital_id = text("hospital_id")
    assert hospital_id is not None
    if len(hospital_id) > 64:
        raise CommandError(f"{path}: 'hospital_id' is at most 64 characters")
    url, ca, cert, key = text("registry_url"), file("ca_file"), file("cert_file"), file("key_file")
    assert url is not None and ca is not None and cert is not None and key is not None
    if len(url) > 500:
        raise CommandError(f"{path}: 'registry_url' is at most 500 characters")
    return UploadConfig(
        endpoint=rc.Endpoint(url, ca, cert, key, float(timeout)),
        hospital_id=hospital_id,
        passphrase_file=file("passphrase_file", required=False),
        ph_only=patients == "ph-only",
        birth_year_band=int(band),
        shift_dates=bool(raw.get("shift_dates", False)),
        batch_size=batch_size,
        secret_file=file("secret_file", required=False),
    )


def read_passphrase(cfg: UploadConfig) -> bytes:
    if cfg.passphrase_file is not None:
        try:
            return cfg.passphrase_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise CommandError(
                f"Cannot read the passphrase file {cfg.passphrase_file}: {exc.strerror or exc}"
            ) from exc
    if not sys.stdin.isatty():
        raise CommandError(
            "No passphrase: set passphrase_file in the configuration (a scheduled upload has "
            "nobody to ask)."
        )
    return getpass.getpass(f"Passphrase of {cfg.endpoint.key_file}: ").encode("utf-8")


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(
        url,
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 10, "application_name": "phms-admin registry-upload"},
    )


def _export(session: Session, cfg: UploadConfig) -> registry_export.RegistryExport:
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
    return registry_export.build_export(
        session,
        secret=secret,
        hospital_id=cfg.hospital_id,
        ph_only=cfg.ph_only,
        shift_dates=cfg.shift_dates,
        # The upload judges k itself: per batch, against what the registry already
        # holds from this hospital, with its own birth-year bands (registry_upload).
        min_k=1,
    )


# ------------------------------------------------------------------- estimate


def estimate(engine: sa.Engine, cfg: UploadConfig) -> list[str]:
    with Session(engine) as s:
        export = _export(s, cfg)
        plan = registry_upload.plan(s, export, cfg.birth_year_band)
        pending = registry_upload.pending_batches(s, cfg.hospital_id)
        s.rollback()
    batches = registry_upload.batch_count(plan, cfg.batch_size)
    k = plan.smallest_group
    lines = [
        f"Registry upload estimate for hospital ID {cfg.hospital_id} "
        f"({'patients with a PH diagnosis' if cfg.ph_only else 'all patients'}); nothing sent.",
        f"  In the export: {plan.total_patients} patient(s), {plan.total_records} record(s).",
        f"  To send now: {len(plan.changed)} new or changed patient(s) with {plan.records} "
        f"record(s), {len(plan.removed)} removed, in {batches} batch(es).",
        f"  Waiting to be resent: {len(pending)} batch(es).",
        f"  Smallest group sharing birth year"
        f"{f' ({cfg.birth_year_band}-year bands)' if cfg.birth_year_band > 1 else ''}, sex and "
        f"PH group: {'-' if k is None else f'k={k}'}.",
    ]
    if k is not None and k < 5:
        lines.append(
            "  A registry that requires k≥5 will refuse a batch holding a patient of a smaller "
            "group; birth_year_band = 5 or 10 makes the groups larger."
        )
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
    with Session(engine) as s:
        export = _export(s, cfg)
        plan = registry_upload.plan(s, export, cfg.birth_year_band)
        batches = registry_upload.make_batches(
            s,
            plan,
            export,
            registry_url=cfg.endpoint.url,
            birth_year_band=cfg.birth_year_band,
            batch_size=cfg.batch_size,
        )
        s.commit()
    if batches:
        say(
            f"Sending {len(plan.changed)} new or changed patient(s) and {len(plan.removed)} "
            f"removal(s) in {len(batches)} batch(es); k={plan.smallest_group}"
        )
    for batch in batches:
        _send_one(engine, cfg, context, batch, tally, send, say)
    if not tally.batches:
        message = f"Nothing changed; the registry holds {plan.total_patients} patient(s)."
    else:
        message = (
            f"Sent {tally.batches} batch(es): {tally.patients} patient(s), {tally.removed} "
            f"removed; the registry holds {plan.total_patients} patient(s)."
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
        help="print how many patients and records would go; send nothing",
    )
    mode.add_argument(
        "--status", action="store_true", help="print the last successful upload and the last error"
    )
    p.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default ${CONFIG_ENV}, else {DEFAULT_CONFIG})",
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
    path = args.config or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    cfg = load_config(path)
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
