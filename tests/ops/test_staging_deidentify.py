"""staging create --de-identify, and trying a release on a staging copy (db upgrade)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from phms_admin import deidentify, migrate, staging
from phms_admin.connection import CommandError
from phms_admin.deidentify_plan import REMOVED
from phms_admin.pgtools import Target
from phms_client.clinical.patient_id import PatientIdFormat
from tests.harness import PgDatabase
from tests.ops.helpers import drop_database, fill_clinic, live_counts, run
from tests.ops.staging_data import fill_identifying, kept_digest, sensitive_values, survivors
from tests.ops.test_staging import take_backup

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def copy_name(fresh_database: PgDatabase) -> Iterator[str]:
    name = f"phms_staging_{uuid.uuid4().hex[:8]}"
    yield name
    drop_database(fresh_database, name)


def _column(url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(query))]
    engine.dispose()
    return rows


def test_de_identified_copy_keeps_the_clinic_and_nothing_that_names_anyone(
    clinic: PgDatabase, copy_name: str, tmp_path: Path, capsys: Capsys
) -> None:
    fill_identifying(clinic)
    source = clinic.admin_url
    sensitive = sensitive_values(source)
    assert len(sensitive) > 100  # names, IDs, phones, e-mails, addresses, notes, reports
    assert survivors(source, sensitive)  # the scan finds them where they are
    path = take_backup(clinic, tmp_path, capsys)
    code, out, err = run(
        [
            "staging",
            "create",
            "--url",
            source,
            "--from-backup",
            str(path),
            "--database",
            copy_name,
            "--de-identify",
        ],
        capsys,
    )
    assert code == 0, err
    assert "de-identified in" in out
    copy = PgDatabase(clinic.server, copy_name).admin_url

    # No original name, ID, phone, e-mail, address or free text anywhere in the copy:
    # any table, any text or JSON column, the audit trail's old and new values included.
    assert survivors(copy, sensitive) == []
    # Everything else is equal: clinical values, dates, stamps, relations, row counts.
    before, after = kept_digest(source), kept_digest(copy)
    assert {t: after[t] for t in before if after[t] != before[t]} == {}
    counts = live_counts(copy)
    assert counts["audit.event"] == live_counts(source)["audit.event"] + 1

    # Consistent: one real name, one made-up name (patients are the same rows, same ids).
    real = dict(_column(source, "SELECT id, lower(btrim(family_name)) FROM phms.patient"))
    fake = dict(_column(copy, "SELECT id, family_name FROM phms.patient"))
    by_real: dict[object, set[object]] = {}
    for pid, name in real.items():
        by_real.setdefault(name, set()).add(fake[pid])
    assert all(len(names) == 1 for names in by_real.values())
    assert len(by_real) > 5
    # IDs: unique, of the site's format, none of them a real patient's ID.
    codes = [c for (c,) in _column(copy, "SELECT patient_code FROM phms.patient")]
    real_codes = {c for (c,) in _column(source, "SELECT patient_code FROM phms.patient")}
    assert len(set(codes)) == len(codes) == len(real_codes)
    assert all(PatientIdFormat().is_valid(str(c)) for c in codes)
    assert not set(codes) & real_codes
    # Contact details are made up, in the same shape; free text says it was removed.
    for (phone,) in _column(copy, "SELECT phone FROM phms.patient WHERE phone IS NOT NULL"):
        assert re.fullmatch(r"\+[0-9]{2} [0-9]{2} [0-9 ]+", str(phone)), phone
    emails = _column(copy, "SELECT email FROM phms.patient WHERE email IS NOT NULL")
    assert emails and all(str(e).endswith("@example.org") for (e,) in emails)
    notes = _column(copy, "SELECT DISTINCT note FROM phms.appointment")
    assert notes == [(REMOVED,)]
    # The search finds the made-up names (the search key follows them).
    (key,) = _column(copy, "SELECT search_name FROM phms.patient ORDER BY id LIMIT 1")[0]
    (fam,) = _column(copy, "SELECT family_name FROM phms.patient ORDER BY id LIMIT 1")[0]
    assert str(key).startswith(str(fam).lower())
    # The registry's key is not the clinic's, and the upload record is gone.
    assert _column(copy, "SELECT value FROM phms.site_secret") != _column(
        source, "SELECT value FROM phms.site_secret"
    )
    # One audit event says what happened (not one per changed row).
    events = _column(
        copy,
        "SELECT row_key, new_values ->> 'backup' FROM audit.event WHERE operation = 'DE-IDENTIFY'",
    )
    assert events == [(copy_name, path.name)]


def test_a_full_id_format_is_refused_before_anything_is_changed(clinic: PgDatabase) -> None:
    """Made-up IDs must be free ones: a format with too few is a clear error."""
    engine = sa.create_engine(clinic.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("DELETE FROM phms.patient WHERE id > 10"))
        conn.execute(sa.text("UPDATE phms.patient SET patient_code = (id % 10)::text"))
    engine.dispose()
    before = _column(clinic.admin_url, "SELECT id, patient_code, family_name FROM phms.patient")
    with (
        Target.from_url(clinic.admin_url).connect(autocommit=True) as conn,
        pytest.raises(CommandError, match="too few free IDs"),
    ):
        deidentify.deidentify(conn, database="phms_staging", source="test", log=lambda _: None)
    after = _column(clinic.admin_url, "SELECT id, patient_code, family_name FROM phms.patient")
    assert after == before


def previous_revision() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    head = script.get_revision(migrate.head_revision())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


def test_trying_a_release_on_staging_reports_each_migration_and_the_row_checks(
    fresh_database: PgDatabase, copy_name: str, tmp_path: Path, capsys: Capsys
) -> None:
    """IT's rehearsal: the live database one release behind, its backup made a
    (de-identified) staging copy, and the new release's `db upgrade` run on the copy."""
    live = fresh_database
    old = previous_revision()
    migrate.upgrade(live.admin_url, old)
    fill_clinic(live)
    path = take_backup(live, tmp_path, capsys)
    code, _, err = run(
        [
            "staging",
            "create",
            "--url",
            live.admin_url,
            "--from-backup",
            str(path),
            "--database",
            copy_name,
            "--de-identify",  # of the older schema the backup has
        ],
        capsys,
    )
    assert code == 0, err
    copy = PgDatabase(live.server, copy_name)
    code, out, err = run(["db", "upgrade", "--url", copy.admin_url], capsys)
    assert code == 0, err
    assert "This is a staging copy: no backup is taken" in out
    lines = out.splitlines()
    head = migrate.head_revision()
    timed = [line for line in lines if re.match(rf"\s+{head}\s+.*\d+\.\d+ (s|min)$", line)]
    assert len(timed) == 1, out
    assert any("commit (all migrations are one transaction)" in line for line in lines)
    assert any(re.match(r"\s+TABLE\s+BEFORE\s+AFTER\s+CHECK", line) for line in lines), out
    patients = next(line for line in lines if re.match(r"\s+phms\.patient\s", line))
    assert re.search(r"\s40\s+40\s+same$", patients), patients
    assert f"upgraded from {old} to {head}" in out
    # Nothing was done to the live database.
    assert migrate_revision(live) == old
    assert "phms.patient" in live_counts(live.admin_url)
    assert copy_name in staging.listing(Target.from_url(live.admin_url))


def migrate_revision(database: PgDatabase) -> str:
    ((revision,),) = _column(database.admin_url, "SELECT version_num FROM public.alembic_version")
    return str(revision)
