"""The typo search's dictionary: kept by the patient trigger, read by the name search."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
import sqlalchemy as sa

from phms_client.db.database import Credentials, Database
from phms_client.services import patients
from tests.db.test_client_login import config_for
from tests.db.test_client_patients import person
from tests.harness import STAFF_PASSWORD, PgDatabase


@pytest.fixture
def clerk_db(db: PgDatabase) -> Iterator[Database]:
    database = Database(config_for(db), Credentials("t_clerk", STAFF_PASSWORD))
    yield database
    database.close()


def _letters() -> str:
    return uuid.uuid4().hex[:5].translate(str.maketrans("0123456789", "ghijklmnop"))


def _words(engine: sa.Engine, *words: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT word FROM phms.search_word WHERE word = ANY(:w)"), {"w": list(words)}
        )
        return {r.word for r in rows}


def test_new_and_renamed_patients_bring_their_words(
    clerk_db: Database, admin_engine: sa.Engine
) -> None:
    tail = _letters()
    with clerk_db.session() as s:
        created = patients.create(s, person(f"Wójcik{tail} Nowak", given=f"Zoë{tail}"))
    # The search key's words: lower case, without accents.
    words = {f"wojcik{tail}", "nowak", f"zoe{tail}"}
    assert _words(admin_engine, *words) == words
    with clerk_db.session() as s:
        patients.update(
            s, created.id, created.version, replace(created.as_input(), family_name=f"Brzęk{tail}")
        )
    assert _words(admin_engine, f"brzek{tail}") == {f"brzek{tail}"}


def test_a_misspelt_word_finds_its_patients_through_the_dictionary(clerk_db: Database) -> None:
    tail = _letters()
    with clerk_db.session() as s:
        meant = patients.create(s, person(f"Kowalczyk{tail}", given="Sebastián"))
        other = patients.create(s, person(f"Kowalczyk{tail}", given="Anna"))
    with clerk_db.session() as s:
        # One letter left out of the family name, the given name typed as it is.
        found = patients.search(s, f"Kowlczyk{tail} seb")
        assert [p.id for p in found] == [meant.id]
        alone = [p.id for p in patients.search(s, f"Kowlczyk{tail}")]
        assert {meant.id, other.id} <= set(alone)
        # The given name misspelt too: the family's names, most alike first.
        both = [p.id for p in patients.search(s, f"Kowlczyk{tail} Sbastian")]
        assert both[:1] == [meant.id]


def test_staff_cannot_write_the_dictionary(db: PgDatabase) -> None:
    engine = db.engine_for("t_clinician")
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM phms.search_word")).scalar()
        with pytest.raises(sa.exc.ProgrammingError) as caught, engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO phms.search_word (word) VALUES ('planted')"))
        assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege)
    finally:
        engine.dispose()
