"""phms-admin demo: realistic fake patients (and demo logins) for trying PHMS."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from phms_admin import demo_course, embedded
from phms_admin.connection import CommandError, connect, resolve_url
from phms_client.clinical.patient_id import PatientIdFormat
from phms_client.services import staff

FAMILY_NAMES = (
    "Müller",
    "García",
    "Núñez",
    "Øster",
    "Łukasiewicz",
    "Dvořák",
    "Çelik",
    "Sørensen",
    "O'Brien",
    "Nguyễn",
    "Schröder",
    "Fernández",
    "Kovačević",
    "Papadopoulos",
    "Smith",
    "Johnson",
    "Brown",
    "Williams",
    "Martin",
    "Dubois",
    "Lefèvre",
    "Rossi",
    "Bianchi",
    "Jansen",
    "de Vries",
    "Novák",
    "Horváth",
    "Nowak",
    "Kowalski",
    "Yılmaz",
    "Andersson",
    "Jäger",
    "Škoda",
    "Ibáñez",
    "Gonçalves",
    "Ó Súilleabháin",
    "Wójcik",
    "Hämäläinen",
)
GIVEN = {
    "female": (
        "Émilie",
        "Zoë",
        "Anna",
        "María",
        "Sofía",
        "Chloé",
        "Agnieszka",
        "Ingrid",
        "Mária",
        "Hélène",
        "Siobhán",
        "Jana",
        "Ana",
        "Laura",
        "Eva",
        "Zeynep",
    ),
    "male": (
        "José",
        "François",
        "Jürgen",
        "Lukáš",
        "Björn",
        "Tomasz",
        "Ole",
        "Seán",
        "Miguel",
        "Luca",
        "Jan",
        "Peter",
        "Ömer",
        "Andrés",
        "Noël",
        "Mikkel",
    ),
}
SUBTYPES = {1: "idiopathic PAH", 2: "left heart disease", 3: "COPD", 4: "CTEPH", 5: "sarcoidosis"}
DEMO_PASSWORD = "demo-password-2026"
DEMO_LOGINS = {
    "demo_clinician": "clinician",
    "demo_clerk": "clerk",
    "demo_admin": "admin",
    "demo_auditor": "auditor",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="load realistic fake patients and demo logins")
    p.add_argument("--patients", type=int, default=200, help="how many patients (default 200)")
    p.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same data)")
    p.add_argument("--url", help="database URL (default: PHMS_DATABASE_URL or the local server)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="local embedded server to create or use when no --url is given",
    )
    p.add_argument("--launch", action="store_true", help="start the PHMS client afterwards")
    p.set_defaults(handler=cmd_demo)


def fake_patients(n: int, fmt: PatientIdFormat, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    today = dt.date.today()
    rows: list[dict[str, object]] = []
    codes: set[str] = set()
    while len(rows) < n:
        code = fmt.random_code(rng)
        if code in codes:
            continue
        codes.add(code)
        sex = rng.choice(("female", "female", "male"))
        family = rng.choice(FAMILY_NAMES)
        given = rng.choice(GIVEN[sex])
        birth = today - dt.timedelta(days=rng.randint(18 * 365, 90 * 365))
        group = rng.choice((1, 1, 1, 2, 3, 4, 5, None))
        rows.append(
            {
                "patient_code": code,
                "family_name": family,
                "given_name": given,
                "sex": sex,
                "birth_date": birth,
                "phone": f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                "email": None,
                "address": f"{rng.randint(1, 200)} High Street",
                "ph_group": group,
                "ph_subtype": SUBTYPES.get(group) if group else None,
            }
        )
    return rows


def load(conn: sa.Connection, n: int, seed: int) -> int:
    """Insert ``n`` patients unless the database already has patients; returns inserted."""
    if conn.execute(sa.text("SELECT EXISTS (SELECT FROM phms.patient)")).scalar():
        return 0
    fmt_text = conn.execute(
        sa.text("SELECT value #>> '{}' FROM phms.setting WHERE key = 'patient_id_format'")
    ).scalar()
    rows = fake_patients(n, PatientIdFormat(str(fmt_text or "NNNNNNN-N")), seed)
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, "
                "birth_date, phone, email, address, ph_group, ph_subtype) VALUES (:patient_code,"
                " :family_name, :given_name, :sex, :birth_date, :phone, :email, :address,"
                " :ph_group, :ph_subtype)"
            ),
            rows,
        )
    return len(rows)


def ensure_demo_logins(conn: sa.Connection) -> None:
    existing = {m.name for m in staff.list_staff(conn)}
    for name, group in DEMO_LOGINS.items():
        if name not in existing:
            staff.create(conn, name, group, DEMO_PASSWORD)
    superuser = conn.execute(
        sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    ).scalar()
    if superuser:
        # Demo logins share a published password; asking each visitor to change it
        # at first login would only get in the way of trying PHMS.
        conn.execute(
            sa.text(
                "INSERT INTO phms.staff_account (name, must_change_password) "
                "SELECT unnest(CAST(:n AS text[])), false "
                "ON CONFLICT (name) DO UPDATE SET must_change_password = false"
            ),
            {"n": list(DEMO_LOGINS)},
        )


def login_url(url: str, user: str) -> str:
    """``url`` with the demo login ``user`` in place of the admin's."""
    parsed = sa.engine.make_url(url).set(username=user, password=DEMO_PASSWORD)
    return parsed.render_as_string(hide_password=False)


def demo_logins_keep_password(url: str) -> bool:
    with connect(login_url(url, "demo_clerk")) as conn:
        return conn.execute(sa.text("SELECT phms.must_change_password()")).scalar() is False


def cmd_demo(args: argparse.Namespace) -> int:
    if args.patients < 0:
        raise CommandError("--patients must be 0 or more.")
    server: str | None = None
    if args.url or os.environ.get("PHMS_DATABASE_URL"):
        url = resolve_url(args.url)
    else:
        data_dir = Path(args.data_dir or embedded.default_data_dir()).expanduser().resolve()
        if not embedded.is_initialised(data_dir):
            from phms_admin.cli import main as admin_main

            code = admin_main(["server", "init", "--data-dir", str(data_dir)])
            if code:
                return code
        try:
            info = embedded.start(data_dir)
        except embedded.ServerError as exc:
            raise CommandError(str(exc)) from exc
        url, server = info.url(), f"127.0.0.1:{info.port}"
    with connect(url) as conn:
        ensure_demo_logins(conn)
    inserted = courses = booked = 0
    with connect(login_url(url, "demo_clerk")) as clerk:
        inserted = load(clerk, args.patients, args.seed)
    if inserted:
        # Written through the demo staff's own logins, so "Entered by" and the audit
        # trail name them, as they would name the staff of a real clinic.
        with (
            connect(login_url(url, "demo_clinician")) as clinician,
            connect(login_url(url, "demo_clerk")) as clerk,
        ):
            ph_patients = list(
                clinician.execute(
                    sa.text("SELECT id FROM phms.patient WHERE ph_group IS NOT NULL ORDER BY id")
                ).scalars()
            )
            courses, booked = demo_course.load_as_staff(clinician, clerk, ph_patients, args.seed)
    print(
        f"Demo data ready: {inserted} new patients, {courses} with a clinical course, "
        f"{booked} appointments today."
        if inserted
        else "Patients already present; none added."
    )
    print(
        f"Demo logins, all with the password {DEMO_PASSWORD}: "
        + ", ".join(DEMO_LOGINS)
        + (
            ". They are not asked to choose a new password."
            if demo_logins_keep_password(url)
            else ". Each is asked to choose a new password at first login."
        )
    )
    if server:
        print(
            f"The demo's database server keeps running on {server} after PHMS is closed. "
            "Stop it with: phms-admin server stop"
        )
    if args.launch:
        cmd = [sys.executable, "-m", "phms_client"]
        if server:
            cmd += ["--server", server]
        return subprocess.call(cmd)
    return 0
