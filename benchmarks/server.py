"""A dedicated embedded PostgreSQL server for a benchmark run, tuned in its postgresql.conf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from phms_admin import embedded, migrate
from phms_client.services import staff

BENCH_USER = "bench_clinician"
BENCH_PASSWORD = "bench-password-2026"

#: Appended to postgresql.conf of the benchmark server (documented in docs/benchmarks.md).
TUNING = {
    "shared_buffers": "'4GB'",
    "effective_cache_size": "'16GB'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'1GB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "random_page_cost": "1.1",
    "max_parallel_workers_per_gather": "2",
    "jit": "off",
}


def tune(data_dir: Path, settings: dict[str, str] = TUNING) -> None:
    conf = data_dir / "postgresql.conf"
    with conf.open("a") as f:
        f.write("\n# --- PHMS benchmark run ---\n")
        for key, value in settings.items():
            f.write(f"{key} = {value}\n")


def ensure_server(data_dir: Path, *, settings: dict[str, str] = TUNING) -> embedded.ServerInfo:
    """Create (first time) and start the benchmark server in ``data_dir``."""
    data_dir = data_dir.resolve()
    if not embedded.is_initialised(data_dir):
        embedded.initdb(data_dir, port=None, listen="127.0.0.1")
        tune(data_dir, settings)
    return embedded.start(data_dir)


def database_exists(server: embedded.ServerInfo, name: str) -> bool:
    engine = sa.create_engine(server.url("postgres"), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text("SELECT EXISTS (SELECT FROM pg_database WHERE datname = :n)"),
                    {"n": name},
                ).scalar()
            )
    finally:
        engine.dispose()


def create_database(server: embedded.ServerInfo, name: str) -> None:
    engine = sa.create_engine(
        server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def prepare_database(admin_url: str) -> None:
    """Migrate to head and create the benchmark's clinician login (no forced change)."""
    migrate.upgrade(admin_url)
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            # Logins are cluster-wide: another benchmark database may have made it.
            exists = conn.execute(
                sa.text("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = :n)"),
                {"n": BENCH_USER},
            ).scalar()
            if not exists:
                staff.create(conn, BENCH_USER, "clinician", BENCH_PASSWORD)
            conn.execute(
                sa.text(
                    "INSERT INTO phms.staff_account (name, must_change_password) VALUES (:n, false)"
                    " ON CONFLICT (name) DO UPDATE SET must_change_password = false"
                ),
                {"n": BENCH_USER},
            )
    finally:
        engine.dispose()


#: The clinic-under-load section's workstations: one login each, as in a clinic.
WORKSTATION_USER = "bench_ws_{:02d}"


def ensure_workstation_logins(admin_url: str, n: int) -> list[str]:
    """Clinician logins ``bench_ws_01`` … (password :data:`BENCH_PASSWORD`)."""
    names = [WORKSTATION_USER.format(i) for i in range(1, n + 1)]
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            existing = set(
                conn.execute(
                    sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"), {"n": names}
                ).scalars()
            )
            for name in names:
                if name not in existing:
                    staff.create(conn, name, "clinician", BENCH_PASSWORD)
                conn.execute(
                    sa.text(
                        "INSERT INTO phms.staff_account (name, must_change_password)"
                        " VALUES (:n, false)"
                        " ON CONFLICT (name) DO UPDATE SET must_change_password = false"
                    ),
                    {"n": name},
                )
    finally:
        engine.dispose()
    return names


def remove_assessments(admin_url: str, ids: list[int]) -> int:
    """Delete the followups a benchmark saved (as the superuser, triggers on: the value
    tally and the audit trail stay right), so that runs do not grow the data."""
    if not ids:
        return 0
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(
                sa.text("DELETE FROM phms.assessment WHERE id = ANY(:ids)"), {"ids": ids}
            )
            return int(result.rowcount)
    finally:
        engine.dispose()


#: Which relations :func:`prewarm` reads: every table and index of the schema, or
#: one table and its indexes.
_EVERY_RELATION = (
    "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'phms' AND c.relkind IN ('r', 'i')"
)
_ONE_TABLE = (
    "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
    " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = CAST(:t AS regclass))"
)


def prewarm(admin_url: str, table: str | None = None) -> dict[str, Any]:
    """Every table and index of the schema (or only ``table`` and its indexes) into
    shared buffers (``pg_prewarm``), as on a server that has been answering a clinic
    for days; what this did is returned."""
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            if table is None:
                blocks = conn.execute(sa.text(_EVERY_RELATION)).scalar()
            else:
                blocks = conn.execute(sa.text(_ONE_TABLE), {"t": table}).scalar()
        return {"prewarmed_blocks": int(blocks or 0)}
    except sa.exc.DBAPIError as exc:
        return {"prewarmed_blocks": 0, "not_prewarmed": str(exc.orig)[:200]}
    finally:
        engine.dispose()
