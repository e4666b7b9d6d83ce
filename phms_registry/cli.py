"""phms-registry: run the registry's side of PHMS uploads.

    phms-registry ca init --ca-dir DIR [--name NAME]
    phms-registry server-cert --ca-dir DIR --out-dir DIR --name HOST [--name ...]
    phms-registry db upgrade --db URL
    phms-registry hospital issue HOSPITAL_ID --ca-dir DIR --out-dir DIR
                               --passphrase-file FILE [--days N] --db URL
    phms-registry hospital revoke SERIAL [--reason TEXT] --db URL
    phms-registry hospital list --db URL
    phms-registry batches [--hospital-id ID] --db URL
    phms-registry cohort --db URL
    phms-registry serve --db URL --cert F --key F --ca F [--host H] [--port P] [--k N]

``--db`` defaults to ``PHMS_REGISTRY_DATABASE_URL``. See docs/registry-service.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from phms_registry import dbmigrate, pki, store


class CliError(Exception):
    pass


def _url(given: str | None) -> str:
    url = given or os.environ.get("PHMS_REGISTRY_DATABASE_URL")
    if not url:
        raise CliError("No registry database: pass --db URL or set PHMS_REGISTRY_DATABASE_URL.")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _engine(args: argparse.Namespace) -> sa.Engine:
    return sa.create_engine(
        _url(args.db), poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10}
    )


def _passphrase(path: Path) -> bytes:
    try:
        data = path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise CliError(f"Cannot read the passphrase file: {exc}") from exc
    return data


def cmd_ca_init(args: argparse.Namespace) -> int:
    crt = pki.create_ca(args.ca_dir, args.name)
    print(
        f"Created the registry CA: {crt} (its key: {args.ca_dir / pki.CA_KEY_FILE}, keep it safe)"
    )
    return 0


def cmd_server_cert(args: argparse.Namespace) -> int:
    crt, key = pki.issue_server(args.ca_dir, args.out_dir, args.name, days=args.days)
    print(f"Server certificate {crt} and key {key} for {', '.join(args.name)}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    dbmigrate.upgrade(_url(args.db))
    print("The registry database is up to date.")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    issued = pki.issue_hospital(
        args.ca_dir,
        args.out_dir,
        args.hospital_id,
        _passphrase(args.passphrase_file),
        days=args.days,
    )
    engine = _engine(args)
    try:
        with engine.begin() as conn:
            store.register_certificate(
                conn,
                hospital_id=issued.subject_cn,
                serial=issued.serial,
                fingerprint=issued.fingerprint,
                not_before=issued.not_before,
                not_after=issued.not_after,
            )
    except BaseException:
        issued.key_path.unlink(missing_ok=True)
        issued.cert_path.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    print(
        f"Issued certificate {issued.serial} to hospital {issued.subject_cn}, valid until "
        f"{issued.not_after:%Y-%m-%d}: {issued.cert_path}, key {issued.key_path} "
        "(encrypted with the passphrase). Send them with the registry CA "
        f"({args.ca_dir / pki.CA_FILE}); send the passphrase by another channel."
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        with engine.begin() as conn:
            hospital = store.revoke(conn, args.serial, args.reason)
    except LookupError as exc:
        raise CliError(str(exc)) from exc
    finally:
        engine.dispose()
    print(f"Revoked certificate {args.serial} of hospital {hospital}; refused from now on.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with engine.connect() as conn:
        rows = store.hospitals(conn)
    engine.dispose()
    print(
        f"{'hospital':<16} {'certs':>5} {'revoked':>7} {'batches':>7} {'patients':>8} "
        f"{'refused':>7}  last batch"
    )
    for h in rows:
        last = f"{h.last_batch_at:%Y-%m-%d %H:%M}" if h.last_batch_at else "never"
        print(
            f"{h.hospital_id:<16} {h.certificates:>5} {h.revoked:>7} {h.batches:>7} "
            f"{h.patients:>8} {h.refusals:>7}  {last}"
        )
    return 0


def cmd_batches(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with engine.connect() as conn:
        rows = store.batches(conn, args.hospital_id)
    engine.dispose()
    for r in rows:
        print(
            f"{r.received_at:%Y-%m-%d %H:%M:%S} {r.hospital_id:<12} {r.batch_id} "
            f"patients={r.patients} removed={r.removed} records={r.records} "
            f"band={r.birth_year_band} sha256={r.content_sha256[:16]}"
        )
    return 0


def cmd_cohort(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with engine.connect() as conn:
        rows = store.cohort(conn)
    engine.dispose()
    print(f"{'hospital':<16} {'PH group':>8} {'risk':>5} {'patients':>8}")
    for hospital, group, risk, n in rows:
        print(
            f"{hospital or 'ALL':<16} {group if group is not None else '-':>8} "
            f"{risk if risk is not None else '-':>5} {n:>8}"
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    try:
        import uvicorn

        from phms_registry import server
        from phms_registry.app import create_app
    except ImportError as exc:
        raise CliError(
            f"The service needs Starlette and uvicorn ({exc.name} is missing): "
            "pip install 'phms[registry]'."
        ) from exc

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = sa.create_engine(
        _url(args.db), pool_size=5, pool_pre_ping=True, connect_args={"connect_timeout": 10}
    )
    app = create_app(engine, k_threshold=args.k)
    uvicorn.Server(
        server.config(
            app,
            host=args.host,
            port=args.port,
            certfile=args.cert,
            keyfile=args.key,
            ca_file=args.ca,
        )
    ).run()
    engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phms-registry", description="The PH registry's receiving service for PHMS uploads."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="registry database URL (default PHMS_REGISTRY_DATABASE_URL)")

    ca = sub.add_parser("ca", help="the registry's certificate authority")
    ca_sub = ca.add_subparsers(dest="ca_command", required=True)
    p = ca_sub.add_parser("init", help="create the CA (never replaces one)")
    p.add_argument("--ca-dir", type=Path, required=True)
    p.add_argument("--name", default="PHMS registry CA")
    p.set_defaults(handler=cmd_ca_init)

    p = sub.add_parser("server-cert", help="issue the registry's TLS server certificate")
    p.add_argument("--ca-dir", type=Path, required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--name", action="append", required=True, help="DNS name or IP (repeatable)")
    p.add_argument("--days", type=int, default=825)
    p.set_defaults(handler=cmd_server_cert)

    dbp = sub.add_parser("db", help="the registry database")
    db_sub = dbp.add_subparsers(dest="db_command", required=True)
    p = db_sub.add_parser("upgrade", help="create or update the registry schema")
    db_option(p)
    p.set_defaults(handler=cmd_db_upgrade)

    hp = sub.add_parser("hospital", help="hospital certificates")
    h_sub = hp.add_subparsers(dest="hospital_command", required=True)
    p = h_sub.add_parser("issue", help="issue a hospital's client certificate")
    p.add_argument("hospital_id")
    p.add_argument("--ca-dir", type=Path, required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument(
        "--passphrase-file",
        type=Path,
        required=True,
        help="file holding the passphrase that encrypts the key",
    )
    p.add_argument("--days", type=int, default=397)
    db_option(p)
    p.set_defaults(handler=cmd_issue)
    p = h_sub.add_parser("revoke", help="revoke a certificate (refused at once)")
    p.add_argument("serial", help="the certificate's serial (hex), as 'issue' printed it")
    p.add_argument("--reason", default="revoked by the registry")
    db_option(p)
    p.set_defaults(handler=cmd_revoke)
    p = h_sub.add_parser("list", help="what each hospital sent")
    db_option(p)
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("batches", help="the batches received")
    p.add_argument("--hospital-id")
    db_option(p)
    p.set_defaults(handler=cmd_batches)

    p = sub.add_parser("cohort", help="patients per hospital, PH group and risk stratum")
    db_option(p)
    p.set_defaults(handler=cmd_cohort)

    p = sub.add_parser("serve", help="run the service (HTTPS, client certificates required)")
    db_option(p)
    p.add_argument("--cert", type=Path, required=True, help="server certificate")
    p.add_argument("--key", type=Path, required=True, help="server key")
    p.add_argument("--ca", type=Path, required=True, help="the registry CA (client certificates)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument(
        "--k",
        type=int,
        default=store.DEFAULT_K,
        help=f"k-anonymity threshold (default {store.DEFAULT_K})",
    )
    p.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (CliError, pki.PkiError) as exc:
        print(f"phms-registry: error: {exc}", file=sys.stderr)
    except sa.exc.DBAPIError as exc:
        print(f"phms-registry: database error: {str(exc.orig).strip()}", file=sys.stderr)
    except OSError as exc:
        print(f"phms-registry: error: {exc}", file=sys.stderr)
    return 1
