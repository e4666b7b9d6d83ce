"""phms-admin registry-export: the anonymised extract for the national PH registry.

    phms-admin registry-export --out FILE [--format csv|json] [--ph-only]
                               [--min-k K] [--exact-dates] [--hospital-id ID]
                               [--secret-file FILE] [--url URL]

Before writing, the export measures its k-anonymity over the quasi-identifiers
(birth year, sex, PH group and subtype, and the year of diagnosis when dates
are exact) and generalises (5- then 10-year birth bands, group without
subtype) until every patient shares them with at least K-1 others (``--min-k``,
default 5), or refuses with the reason and writes nothing. Dates are shifted
per patient unless ``--exact-dates`` (which warns loudly).

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
from phms_client.db.environment import OnStaging, refuse_on_staging
from phms_client.services import registry_export
from phms_schema.anonymity import DEFAULT_MIN_K, NotAnonymous


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
    dates = p.add_mutually_exclusive_group()
    dates.add_argument(
        "--shift-dates",
        action="store_true",
        help="move each patient's dates by a fixed number of days (±1–182, stable per "
        "patient); the default",
    )
    dates.add_argument(
        "--exact-dates",
        action="store_true",
        help="export the real dates (weakens the anonymity: a warning is printed)",
    )
    p.add_argument(
        "--min-k",
        type=_min_k,
        default=DEFAULT_MIN_K,
        metavar="K",
        help=f"every patient must share their quasi-identifiers with at least K-1 others "
        f"(default {DEFAULT_MIN_K}); generalises until it holds, else refuses",
    )
    p.add_argument("--hospital-id", help="site hospital ID (default: the client configuration's)")
    p.add_argument(
        "--secret-file", type=Path, help="key file (≥ 32 bytes) instead of the database's secret"
    )
    p.add_argument("--url", help="database URL of an admin login (default: PHMS_DATABASE_URL)")
    p.set_defaults(handler=cmd_registry_export)


def _min_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("K must be between 1 and 1000")
    return value


EXACT_DATES_WARNING = (
    "WARNING: --exact-dates: the real dates of every visit go out. Together with the "
    "birth year they can identify a patient to anybody who knows when they were seen; "
    "the year of diagnosis is counted as a quasi-identifier."
)


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
    if args.exact_dates:
        print(EXACT_DATES_WARNING, file=sys.stderr)
    with connect(resolve_url(args.url)) as conn, Session(bind=conn) as session:
        try:
            refuse_on_staging(session, "The registry export")
        except OnStaging as exc:
            raise CommandError(str(exc)) from None
        if secret is None:
            secret = registry_export.registry_secret(session)
        try:
            export = registry_export.build_export(
                session,
                secret=secret,
                hospital_id=hospital_id,
                ph_only=args.ph_only,
                shift_dates=not args.exact_dates,
                min_k=args.min_k,
            )
        except NotAnonymous as exc:
            raise CommandError(f"Not anonymous enough: {exc}") from exc
    data = (
        registry_export.export_csv(export) if fmt == "csv" else registry_export.export_json(export)
    )
    registry_export.write_export(out, data)
    records = sum(len(p.records) for p in export.patients)
    print(
        f"Wrote {len(export.patients)} patients and {records} records ({fmt}) to {out}"
        + (" with dates shifted" if export.dates_shifted else " with EXACT dates"),
        file=sys.stdout,
    )
    print(f"Privacy: {export.anonymity.summary()}.", file=sys.stdout)
    return 0
