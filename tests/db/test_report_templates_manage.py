"""Managing report templates: duplicate, rename, default, delete (never the default letter).

Real logins on a freshly migrated database; the default letter's protection is
tried through PHMS, as an admin writing SQL, and as a superuser at psql.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.db.errors import classify, refused_constraint
from phms_client.services import reports
from phms_client.services.reports import StaleTemplate, TemplateInput, TemplateIsDefault
from tests.db.reports_data import migrated_database
from tests.harness import PgDatabase

USERS = ("t_clerk", "t_clinician", "t_admin", "t_auditor")


@pytest.fixture(scope="module")
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    with migrated_database(pg_server) as database:
        yield database


@pytest.fixture(scope="module")
def engines(own_db: PgDatabase) -> Iterator[dict[str, sa.Engine]]:
    engines = {u: own_db.engine_for(u) for u in USERS}
    yield engines
    for engine in engines.values():
        engine.dispose()


def by_name(engine: sa.Engine, name: str) -> reports.TemplateInfo:
    with Session(engine) as s:
        return next(t for t in reports.list_templates(s) if t.name == name)


def test_the_shipped_templates_are_the_defaults(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_clinician"]) as s:
        defaults = {t.kind: t.name for t in reports.list_templates(s) if t.is_default}
    assert defaults == {"individual": "Clinic letter", "statistical": "Cohort report"}


def test_duplicate_rename_make_default_and_delete(engines: dict[str, sa.Engine]) -> None:
    admin = engines["t_admin"]
    letter = by_name(admin, "Clinic letter")
    with Session(admin) as s, s.begin():
        copy = reports.duplicate_template(s, letter.id, "Clinic letter (copy)")
    assert (copy.body, copy.description) == (letter.body, letter.description)
    assert copy.kind == "individual"
    assert not copy.is_default and copy.updated_by == "t_admin"

    with Session(admin) as s, s.begin():
        renamed = reports.rename_template(s, copy.id, copy.version, "Short letter")
    assert renamed.name == "Short letter" and renamed.version == copy.version + 1
    with Session(admin) as s, s.begin(), pytest.raises(StaleTemplate):
        reports.rename_template(s, copy.id, copy.version, "Again")
    # Names stay unique.
    with Session(admin) as s, pytest.raises(sa.exc.IntegrityError) as taken:
        reports.rename_template(s, renamed.id, renamed.version, "Clinic letter")
    assert refused_constraint(taken.value) == "uq_report_template_name"

    # The default letter cannot be deleted; the copy can become the default instead.
    with Session(admin) as s, s.begin(), pytest.raises(TemplateIsDefault, match="default"):
        reports.delete_template(s, letter.id, letter.version)
    with Session(admin) as s, s.begin():
        made = reports.set_default_template(s, renamed.id)
    assert made.is_default
    with Session(admin) as s:
        defaults = [t.name for t in reports.list_templates(s, "individual") if t.is_default]
    assert defaults == ["Short letter"]
    with Session(admin) as s, s.begin(), pytest.raises(TemplateIsDefault):
        reports.delete_template(s, renamed.id, made.version)
    # The old letter is no longer the default: now it can go; then make it all as it was.
    old = by_name(admin, "Clinic letter")
    with Session(admin) as s, s.begin():
        reports.set_default_template(s, old.id)
    with Session(admin) as s, s.begin():  # un-defaulting it was a change: a new version
        reports.delete_template(s, renamed.id, by_name(admin, "Short letter").version)
    assert by_name(admin, "Clinic letter").is_default


def test_the_database_keeps_the_default_even_from_sql(
    engines: dict[str, sa.Engine], own_db: PgDatabase
) -> None:
    """An admin (or a superuser at psql) deleting the default letter directly is refused."""
    superuser = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    try:
        for engine in (engines["t_admin"], superuser):
            with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
                conn.execute(
                    sa.text("DELETE FROM phms.report_template WHERE name = 'Clinic letter'")
                )
            orig = refused.value.orig
            assert getattr(orig, "sqlstate", None) == "23001"  # restrict_violation
            error = classify(refused.value)
            assert "cannot be deleted" in error.message
        # Emptying the table at once is refused too (TRUNCATE fires no row trigger).
        with superuser.connect() as conn, pytest.raises(sa.exc.DBAPIError) as truncated:
            conn.execute(sa.text("TRUNCATE phms.report_template"))
        assert getattr(truncated.value.orig, "sqlstate", None) == "23001"
        # A second default of a kind is refused as well.
        with superuser.connect() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                sa.text(
                    "INSERT INTO phms.report_template (name, kind, body, is_default)"
                    " SELECT 'Second default', kind, body, true FROM phms.report_template"
                    " WHERE name = 'Clinic letter'"
                )
            )
    finally:
        superuser.dispose()
    assert by_name(engines["t_admin"], "Clinic letter").is_default


@pytest.mark.parametrize("user", ["t_clerk", "t_clinician", "t_auditor"])
def test_only_admins_manage_templates(engines: dict[str, sa.Engine], user: str) -> None:
    letter = by_name(engines["t_admin"], "Clinic letter")
    extra_data = TemplateInput(f"Spare {user}", "statistical", "<p>{{ period }}</p>")
    with Session(engines["t_admin"]) as s, s.begin():
        spare = reports.create_template(s, extra_data)
    try:
        engine = engines[user]
        attempts = {
            "create": lambda s: reports.create_template(
                s, TemplateInput(f"By {user}", "statistical", "<p>x</p>")
            ),
            "duplicate": lambda s: reports.duplicate_template(s, letter.id, f"Copy by {user}"),
            "rename": lambda s: reports.rename_template(s, spare.id, spare.version, "Renamed"),
            "default": lambda s: reports.set_default_template(s, spare.id),
            "delete": lambda s: reports.delete_template(s, spare.id, spare.version),
        }
        for what, attempt in attempts.items():
            with (
                Session(engine) as s,
                pytest.raises((sa.exc.ProgrammingError, reports.TemplateNotFound)) as refused,
            ):
                attempt(s)
                s.commit()
            if isinstance(refused.value, sa.exc.ProgrammingError):
                assert "permission denied" in str(refused.value.orig), what
            else:  # this login may not even see the template (clerk; auditor: a letter)
                assert user in ("t_clerk", "t_auditor"), what
        after = by_name(engines["t_admin"], spare.name)
        assert (after.version, after.is_default) == (spare.version, False)
    finally:
        with Session(engines["t_admin"]) as s, s.begin():
            reports.delete_template(s, spare.id, by_name(engines["t_admin"], spare.name).version)
