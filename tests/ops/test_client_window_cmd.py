"""phms-admin and the window of client versions: db upgrade raises it, db
min-client-version shows and sets it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from phms_admin import client_window, migrate
from phms_client.version import client_version
from tests.harness import PgDatabase
from tests.ops.helpers import run

Capsys = pytest.CaptureFixture[str]
VERSIONS = Path(migrate.__file__).resolve().parent.parent / "migrations" / "versions"
#: The migration that starts the window (0016 when written; the first that breaks 0.1.0).
WINDOW = min(client_window.breaking_migrations())
BEFORE = f"{int(WINDOW) - 1:04d}"


def _minimum(database: PgDatabase) -> str:
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        window = client_window.read(conn)
    engine.dispose()
    assert window.min_client_version is not None
    return window.min_client_version


def _lower(database: PgDatabase, version: str) -> None:
    """As IT at psql (or an older phms-admin): below what the migrations need."""
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE phms.setting SET value = CAST(:v AS jsonb) WHERE key = :k"),
            {"k": "min_client_version", "v": json.dumps(version)},
        )
    engine.dispose()


def test_every_new_migration_says_whether_it_breaks_older_clients() -> None:
    """From the window's migration on, each declares BREAKS_CLIENTS_BEFORE (a version, or
    None)."""
    undecided = []
    for path in sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")):
        if path.name[:4] < WINDOW:
            continue
        module = importlib.import_module(f"migrations.versions.{path.stem}")
        if not hasattr(module, "BREAKS_CLIENTS_BEFORE"):
            undecided.append(path.name)
    assert undecided == []
    assert client_window.breaking_migrations()[WINDOW] == "0.2.0"
    assert client_window.required_minimum(BEFORE) is None
    assert client_window.required_minimum(WINDOW) == ("0.2.0", WINDOW)


def test_upgrade_raises_the_minimum_the_migrations_need(
    fresh_database: PgDatabase, capsys: Capsys
) -> None:
    url = fresh_database.admin_url
    migrate.upgrade(url, BEFORE)
    code, out, err = run(["db", "upgrade", "--no-backup", "--url", url], capsys)
    assert code == 0, err
    assert "Workstations with PHMS 0.2.0 or newer can log in." in out
    assert _minimum(fresh_database) == "0.2.0"

    # Lowered by hand below what the window's migration needs: the next `db upgrade`
    # puts it back and says why.
    _lower(fresh_database, "0.1.0")
    code, out, err = run(["db", "upgrade", "--no-backup", "--url", url], capsys)
    assert code == 0, err
    assert "nothing to do" in out
    assert (
        f"Migration {WINDOW} does not work with older PHMS clients: the database now accepts "
        "PHMS 0.2.0 or newer (it accepted 0.1.0)." in out
    )
    assert _minimum(fresh_database) == "0.2.0"


def test_min_client_version_shows_and_sets(fresh_database: PgDatabase, capsys: Capsys) -> None:
    url = fresh_database.admin_url
    migrate.upgrade(url)
    code, out, err = run(["db", "min-client-version", "--url", url], capsys)
    assert code == 0, err
    assert "Oldest PHMS version the database accepts: 0.2.0" in out
    assert f"its migrations need at least 0.2.0, since revision {WINDOW}" in out
    assert f"this phms-admin is PHMS {client_version()}" in out
    assert "Where staff get PHMS: (not set" in out

    hint = r"\\fileserver\phms"
    code, out, err = run(["db", "min-client-version", "--where", hint, "--url", url], capsys)
    assert code == 0, err
    assert f"Where staff get PHMS: {hint}" in out

    # Newer than any release this phms-admin knows: only with --force.
    code, _, err = run(["db", "min-client-version", "99.0", "--url", url], capsys)
    assert code == 1 and "newer than any release this phms-admin knows" in err
    code, out, err = run(["db", "min-client-version", "99.0", "--force", "--url", url], capsys)
    assert code == 0, err
    assert "now accepts PHMS 99.0 or newer (it accepted 0.2.0)" in out

    # Below what the migrations need: only with --force.
    code, _, err = run(["db", "min-client-version", "0.1.0", "--url", url], capsys)
    assert code == 1 and f"Migration {WINDOW} does not work with clients older than 0.2.0" in err
    code, out, err = run(["db", "min-client-version", "0.2", "--url", url], capsys)
    assert code == 0, err
    assert _minimum(fresh_database) == "0.2"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["0.2.0-beta"], "is not a PHMS release version"),
        (["--force"], "--force goes with a VERSION"),
        (["--where", "x" * 501], "at most 500 fit"),
    ],
)
def test_min_client_version_refuses_nonsense(
    fresh_database: PgDatabase, capsys: Capsys, argv: list[str], says: str
) -> None:
    migrate.upgrade(fresh_database.admin_url)
    code, _, err = run(
        ["db", "min-client-version", *argv, "--url", fresh_database.admin_url], capsys
    )
    assert code == 1 and says in err


def test_a_database_before_the_window_says_to_upgrade(
    fresh_database: PgDatabase, capsys: Capsys
) -> None:
    migrate.upgrade(fresh_database.admin_url, BEFORE)
    code, _, err = run(["db", "min-client-version", "--url", fresh_database.admin_url], capsys)
    assert code == 1
    assert f"revision {BEFORE}, which records no minimum client version yet" in err
    assert "phms-admin db upgrade" in err
