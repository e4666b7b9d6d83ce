"""phms-admin registry-export: the anonymised extract for the national PH registry.

    phms-admin registry-export --out FILE [--format csv|json] [--ph-only]
                               [--shift-dates] [--hospital-id ID] [--secret-file FILE]
                               [--url URL]

The patient key is an HMAC-SHA-256 of the patient ID keyed with the site's
secret: by default the one the migration generated in the database (readable
by admins only, each read audited), or the bytes of ``--secret-file`` (for a
site that keeps it elsewhere, or shares a key with other sites). The hospital
ID is ``--hospital-id``, else the client configuration's ``hospital_id``. The
file is written atomically with mode 0600. See ``docs/reports.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from phms_admin.connection import CommandError, connect, resolve_url
from phms_client.config import ConfigError, load_config
from phms_client.services import registry_export


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "registry-export",
        help="write the anonymised extract for the national PH registry (admins)",
        description="Anonymised registry extract: no names or contact data, birth year only, "
        "patient key = HMAC-SHA-256 of the patient ID with the site's secret.",
    )
    p.add_argument("--out", required=True, type=Path, help="file to write (mode 0600)")
    p.add_argument(
        "--format",
        choices=("csv", "json"),
        help="file format (default: from the --out extension, else json)",
    )
    p.add_argument("--ph-only", action="store_true", help="only patients with a PH diagnosis")
    p.add_argument(
        "--shift-dates",
        action="store_true",
        help="move each patient's dates by a fixed number of days (±1–182, stable per patient)",
    )
    p.add_argument("--hospital-id", help="site hospital ID (default: the client configuration's)")
    p.add_argument(
        "--secret-file", type=Path, help="key file (≥ 32 bytes) instead of the database's secret"
    )
    p.add_argument("--url", help="database URL of an admin login (default: PHMS_DATABASE_URL)")
    p.set_defaults(handler=cmd_registry_export)


def _hospital_id(given: str | None) -> str:
    if given and given.strip():
        return given.strip()
    try:
        configured = load_config().hospital_id
    except ConfigError as exc:
        raise CommandError(f"Cannot read the client configuration: {exc}") from exc
    if not configured:
        raise CommandError(
            "No hospital ID: pass --hospital-id or set hospital_id in the client configuration."
        )
    return configured


def cmd_registry_export(args: argparse.Namespace) -> int:
    out: Path = args.out
    fmt = args.format or ("csv" if out.suffix.lower() == ".csv" else "json")
    hospital_id = _hospital_id(args.hospital_id)
    if not out.parent.is_dir():
        raise CommandError(f"No such folder: {out.parent}")
    secret = None
    if args.secret_file is not None:
        try:
            secret = registry_export.read_secret_file(args.secret_file)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
    with connect(resolve_url(args.url)) as conn, Session(bind=conn) as session:
        if secret is None:
            secret = registry_export.registry_secret(session)
        export = registry_export.build_export(
            session,
            secret=secret,
            hospital_id=hospital_id,
            ph_only=args.ph_only,
            shift_dates=args.shift_dates,
        )
    data = (
        registry_export.export_csv(export) if fmt == "csv" else registry_export.export_json(export)
    )
    registry_export.write_export(out, data)
    records = sum(len(p.records) for p in export.patients)
    print(
        f"Wrote {len(export.patients)} patients and {records} records ({fmt}) to {out}"
        + (" with dates shifted" if export.dates_shifted else ""),
        file=sys.stdout,
    )
    return 0
