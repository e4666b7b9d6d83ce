"""Name search: prefixes first (family name, then given name first), then look-alikes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import embedded, migrate
from phms_client.db.database import Credentials, Database
from phms_client.services import patients
from tests.db.reports_data import migrated_database
from tests.db.test_client_login import config_for
from tests.db.test_client_patients import person
from tests.harness import STAFF_PASSWORD, PgDatabase


@pytest.fixture
def clerk_db(db: PgDatabase) -> Iterator[Database]:
    database = Database(config_for(db), Credentials("t_clerk", STAFF_PASSWORD))
    yield database
    database.close()


def _tag() -> str:
    """Letters no other test's names contain."""
    return uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))


def test_prefix_matches_come_first_alphabetically(clerk_db: Database) -> None:
    tag = _tag()
    with clerk_db.session() as s:
        b = patients.create(s, person(f"Qübé{tag}", given="Zoë"))
        a = patients.create(s, person(f"Qube{tag}", given="Ángel"))
        inside = patients.create(s, person(f"Van Qube{tag}", given="Ida"))  # substring only
    with clerk_db.session() as s:
        found = [p.id for p in patients.search(s, f"QUBE{tag}")]
        assert found == [a.id, b.id, inside.id]
        # the one prefix match first, then the names that merely resemble the text
        assert [p.id for p in patients.search(s, f"qube{tag} z")][:1] == [b.id]


def test_given_name_first_is_found(clerk_db: Database) -> None:
    tag = _tag()
    with clerk_db.session() as s:
        created = patients.create(s, person(f"Østergård{tag}", given=f"Märta{tag}"))
    with clerk_db.session() as s:
        assert [p.id for p in patients.search(s, f"marta{tag} oster")] == [created.id]


def test_pages_run_across_prefix_and_look_alike_matches(clerk_db: Database) -> None:
    tag = _tag()
    with clerk_db.session() as s:
        prefix = [patients.create(s, person(f"Pré{tag}", given=f"N{i}")).id for i in range(4)]
        inner = [patients.create(s, person(f"Xpre{tag}", given=f"M{i}")).id for i in range(3)]
    with clerk_db.session() as s:
        pages = [patients.search(s, f"pre{tag}", offset=o, limit=3) for o in (0, 3, 6)]
    ids = [p.id for page in pages for p in page]
    assert ids[:4] == prefix and sorted(ids[4:]) == sorted(inner) and len(set(ids)) == 7


def test_wildcards_are_plain_characters(clerk_db: Database) -> None:
    tag = _tag()
    with clerk_db.session() as s:
        other = patients.create(s, person(f"Abx{tag}", given="Cd"))
        literal = patients.create(s, person(f"Ab_{tag}", given="Cd"))
    with clerk_db.session() as s:
        assert [p.id for p in patients.search(s, f"ab_{tag}")][:1] == [literal.id]
        assert [p.id for p in patients.search(s, f"abx{tag}")][:1] == [other.id]
        assert isinstance(patients.search(s, "%_\\"), list)  # no LIKE syntax error


def test_short_text_finds_by_prefix(clerk_db: Database) -> None:
    with clerk_db.session() as s:
        created = patients.create(s, person("Ÿ" + _tag(), given="Q"))
    with clerk_db.session() as s:
        assert created.id in [p.id for p in patients.search(s, "y", limit=500)]


def test_a_name_with_a_letter_dropped_is_found(clerk_db: Database) -> None:
    """The typo tier's word similarity is lowered for the client's sessions: at
    pg_trgm's default (0.6) "Kowlski" misses "Kowalski" (0.55)."""
    tag = _tag()
    with clerk_db.session() as s:
        created = patients.create(s, person("Kowalski", given=f"Jan{tag}"))
    with clerk_db.session() as s:
        assert s.execute(sa.text("SHOW pg_trgm.word_similarity_threshold")).scalar() == "0.45"
        assert created.id in [p.id for p in patients.search(s, f"Kowlski Jan{tag}")]
        assert created.id in [p.id for p in patients.search(s, "Kowlski", limit=500)]


def test_a_misspelt_common_name_with_a_given_name_finds_that_person(
    db: PgDatabase, pg_server: embedded.ServerInfo
) -> None:
    """Every word typed must resemble the name. With only the first word, a typo of a
    family name borne by more than SIMILAR_CANDIDATES patients ranked an arbitrary
    thousand of them, and the person whose given name was typed could be missing."""
    with migrated_database(pg_server) as own:
        common = patients.SIMILAR_CANDIDATES + 200
        admin = sa.create_engine(own.admin_url, poolclass=sa.pool.NullPool)
        with admin.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO phms.patient (patient_code, family_name, given_name, sex,"
                    " birth_date) SELECT lpad(g::text, 7, '0') || '-1', 'Nowakowski',"
                    " 'Anna', 'female', DATE '1970-01-01' FROM generate_series(1, :n) g"
                ),
                {"n": common},
            )
        admin.dispose()
        database = Database(config_for(own), Credentials("t_clerk", STAFF_PASSWORD))
        try:
            with database.session() as s:
                meant = patients.create(s, person("Nowakowski", given="Zuzanna"))
            with database.session() as s:
                found = patients.search(s, "Nowakowki Zuzanna")
                assert found and found[0].id == meant.id
                # The family name alone still lists the many who bear it; so does a
                # second word misspelt too (the first word alone, as the last resort),
                # however many spaces were typed.
                assert len(patients.search(s, "Nowakowki")) == patients.PAGE_SIZE
                assert len(patients.search(s, "Nowakowki Zznx")) == patients.PAGE_SIZE
                assert patients.search(s, "  Nowakowki   Zuzanna ")[0].id == meant.id
        finally:
            database.close()


@pytest.fixture
def libc_database(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    """A database whose locale does not sort byte-wise, as on a distribution server
    created with a libc locale (Debian: ``pg_createcluster --locale C.UTF-8``)."""
    database = PgDatabase(pg_server, f"phms_libc_{uuid.uuid4().hex[:8]}")
    postgres = sa.create_engine(
        pg_server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with postgres.connect() as conn:
        conn.execute(
            sa.text(
                f'CREATE DATABASE "{database.name}" TEMPLATE template0 LOCALE_PROVIDER libc'
                " LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8'"
            )
        )
    try:
        migrate.upgrade(database.admin_url)
        yield database
    finally:
        with postgres.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{database.name}" WITH (FORCE)'))
        postgres.dispose()


def _plan_of_search(engine: sa.Engine, text: str) -> str:
    """EXPLAIN of the statement ``patients.search`` sends, sequential scans disabled
    (the tables are small: the question is whether an index *can* answer it)."""
    sent: list[tuple[str, object]] = []

    def keep(_conn: object, _cursor: object, statement: str, params: object, *_: object) -> None:
        if not statement.startswith("EXPLAIN"):
            sent.append((statement, params))

    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", keep)
        conn.exec_driver_sql("SET enable_seqscan = off")
        with Session(bind=conn) as s:
            patients.search(s, text)
        statement, params = sent[-1]
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params).scalars()  # type: ignore[arg-type]
        return "\n".join(rows)


def test_prefixes_are_index_ranges_on_a_locale_that_is_not_bytewise(
    libc_database: PgDatabase,
) -> None:
    engine = sa.create_engine(libc_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        collation = conn.execute(
            sa.text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        ).scalar()
        assert collation == "C.utf8"
        for i in range(30):
            patients.create(Session(bind=conn), person(f"Libc{chr(97 + i % 26)}name", given="Ida"))
        conn.execute(sa.text("ANALYZE phms.patient"))
    try:
        id_plan = _plan_of_search(engine, "000")
        assert "ix_patient_code_prefix" in id_plan and "Index Cond" in id_plan, id_plan
        name_plan = _plan_of_search(engine, "libcb")
        assert "ix_patient_search_name_prefix" in name_plan, name_plan
    finally:
        engine.dispose()
