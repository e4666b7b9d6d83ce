"""Name search: prefixes first (family name, then given name first), then look-alikes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

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
