"""A registry for the upload tests: its CA, its server (uvicorn, mutual TLS) and database.

Everything is real: certificates made here with the registry's own PKI code, the
registry database migrated on the suite's PostgreSQL server, the service served
by uvicorn on 127.0.0.1 in a thread, and PHMS databases of their own (one per
hospital) filled as a clinician would.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn

from phms_admin import embedded, migrate
from phms_admin.registry_upload_cmd import UploadConfig, load_config
from phms_registry import dbmigrate, pki, server, store
from phms_registry.app import create_app
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person
from tests.harness import PgDatabase, create_database

K_THRESHOLD = 2
PASSPHRASE = b"correct horse registry"
DAY = dt.date.today() - dt.timedelta(days=400)


@dataclass
class Registry:
    url: str
    db_url: str
    ca_dir: Path
    certs: Path
    port: int

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.db_url, poolclass=sa.pool.NullPool)

    def query(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        engine = self.engine()
        with engine.connect() as conn:
            rows = list(conn.execute(sa.text(sql), params))
        engine.dispose()
        return rows

    def issue(self, hospital_id: str, **window: Any) -> pki.Issued:
        """A client certificate for ``hospital_id``, recorded in the registry database."""
        issued = pki.issue_hospital(self.ca_dir, self.certs, hospital_id, PASSPHRASE, **window)
        engine = self.engine()
        with engine.begin() as conn:
            store.register_certificate(
                conn,
                hospital_id=hospital_id,
                serial=issued.serial,
                fingerprint=issued.fingerprint,
                not_before=issued.not_before,
                not_after=issued.not_after,
            )
        engine.dispose()
        return issued

    def config(
        self,
        folder: Path,
        hospital_id: str,
        issued: pki.Issued,
        *,
        passphrase: bytes = PASSPHRASE,
        **extra: Any,
    ) -> UploadConfig:
        """A registry-upload.toml as a site writes it, read by the real loader."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hospital.pass").write_bytes(passphrase + b"\n")
        lines = [
            f'registry_url = "{self.url}"',
            f'hospital_id = "{hospital_id}"',
            f'ca_file = "{self.ca_dir / pki.CA_FILE}"',
            f'cert_file = "{issued.cert_path}"',
            f'key_file = "{issued.key_path}"',
            'passphrase_file = "hospital.pass"',
        ]
        for key, value in extra.items():
            lines.append(f"{key} = {value!r}".replace("'", '"').replace("True", "true"))
        path = folder / "registry-upload.toml"
        path.write_text("\n".join(lines) + "\n")
        return load_config(path)


@pytest.fixture(scope="session")
def registry(
    pg_server: embedded.ServerInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    base = tmp_path_factory.mktemp("registry")
    ca_dir, certs = base / "ca", base / "certs"
    pki.create_ca(ca_dir, "Test PH registry CA")
    crt, key = pki.issue_server(ca_dir, base / "server", ["localhost", "127.0.0.1"])
    name = f"registry_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name)
    db_url = pg_server.url(name)
    dbmigrate.upgrade(db_url)
    engine = sa.create_engine(db_url, pool_size=4)
    port = embedded.free_port()
    config = server.config(
        create_app(engine, k_threshold=K_THRESHOLD),
        host="127.0.0.1",
        port=port,
        certfile=crt,
        keyfile=key,
        ca_file=ca_dir / pki.CA_FILE,
        log_level="warning",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="registry", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the registry did not start"
        time.sleep(0.05)
    try:
        yield Registry(f"https://localhost:{port}", db_url, ca_dir, certs, port)
    finally:
        srv.should_exit = True
        thread.join(10)
        engine.dispose()


# ------------------------------------------------------------------ hospitals


def add_ph_patient(
    conn: sa.Connection,
    *,
    born: int,
    sex: str = "female",
    group: int | None = 1,
    subtype: str | None = None,
    who_fc: int = 3,
    followup: bool = False,
) -> int:
    """A patient with a first assessment (risk at diagnosis) and a walk; with
    ``followup``, also a followup and a walk 90 days later (the four-strata risk at
    follow-up, from WHO-FC, 6MWD and NT-proBNP)."""
    pid = int(
        add_person(
            conn, sex=sex, birth_date=dt.date(born, 6, 1), ph_group=group, ph_subtype=subtype
        )["id"]
    )
    visits = [("assessment", DAY), ("followup", DAY + dt.timedelta(days=90))]
    for kind, day in visits[: 2 if followup else 1]:
        insert(
            conn,
            "assessment",
            patient_id=pid,
            kind=kind,
            study_date=day,
            who_fc=who_fc,
            nt_probnp_pg_ml=Decimal(1200 if who_fc >= 3 else 200),
            mpap_mmhg=Decimal(44),
            pawp_mmhg=Decimal(10),
            co_l_min=Decimal("4.2"),
        )
        insert(conn, "six_minute_walk", patient_id=pid, study_date=day, distance_m=Decimal(400))
    return pid


@pytest.fixture(scope="session")
def phms_template(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[str]:
    """One migrated PHMS database that each hospital's database is copied from (a copy
    takes a moment; migrating takes seconds). ``db`` made the staff logins."""
    name = f"phms_tmpl_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name)
    migrate.upgrade(pg_server.url(name))
    yield name
    _drop(pg_server, name)


def _drop(server: embedded.ServerInfo, name: str) -> None:
    engine = sa.create_engine(
        server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def hospital_db(
    pg_server: embedded.ServerInfo, phms_template: str
) -> Iterator[Callable[..., PgDatabase]]:
    """Makes PHMS databases of their own (copies of the migrated template, each with a
    registry secret of its own, as a separate clinic has), each filled with
    ``add_ph_patient(**spec)`` for every spec given; dropped afterwards."""
    made: list[str] = []

    def make(*specs: dict[str, Any]) -> PgDatabase:
        database = PgDatabase(pg_server, f"phms_h_{uuid.uuid4().hex[:10]}")
        admin = sa.create_engine(
            pg_server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{database.name}" TEMPLATE "{phms_template}"'))
        admin.dispose()
        made.append(database.name)
        owner = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
        with owner.begin() as conn:
            conn.execute(
                sa.text("UPDATE phms.site_secret SET value = :v WHERE name = 'registry_hmac'"),
                {"v": secrets.token_bytes(32)},
            )
        owner.dispose()
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            for spec in specs:
                add_ph_patient(conn, **spec)
        engine.dispose()
        return database

    yield make
    for name in made:
        _drop(pg_server, name)
