"""The compatibility window's rules, without a database (phms_client/db/gate.py)."""

from __future__ import annotations

import pytest

from phms_client.db.errors import ClientTooOld, SchemaMismatch
from phms_client.db.gate import ClientRelease, Window, check_window, this_release
from phms_client.version import OLDEST_SCHEMA, client_version
from phms_schema import SCHEMA_REVISION

RELEASE = ClientRelease("0.2.0", schema="0016", oldest_schema="0015")


def test_this_release_is_what_is_installed() -> None:
    assert this_release() == ClientRelease(client_version(), SCHEMA_REVISION, OLDEST_SCHEMA)
    assert int(OLDEST_SCHEMA) <= int(SCHEMA_REVISION)


@pytest.mark.parametrize(
    ("revision", "minimum"),
    [
        ("0016", "0.2.0"),  # as built for
        ("0015", None),  # older, still inside the window: records no minimum yet
        ("0015", "0.1.0"),
        ("0017", "0.2.0"),  # newer, and it says it accepts 0.2.0
        ("0017", "0.2"),  # 0.2 is 0.2.0
        ("0099", "0.1.5"),
    ],
)
def test_inside_the_window_the_revision_is_returned(revision: str, minimum: str | None) -> None:
    assert check_window(Window(revision, minimum), RELEASE) == revision


def test_no_schema_at_all_needs_the_upgrade() -> None:
    with pytest.raises(SchemaMismatch) as exc:
        check_window(Window(None), RELEASE)
    assert (exc.value.database_revision, exc.value.database_is_older) == (None, True)


def test_older_than_the_oldest_schema_needs_the_upgrade() -> None:
    with pytest.raises(SchemaMismatch) as exc:
        check_window(Window("0014", "0.1.0"), RELEASE)
    assert exc.value.database_is_older is True
    assert exc.value.client_revision == "0015"  # what it needs at least


def test_newer_without_a_minimum_promises_nothing() -> None:
    with pytest.raises(SchemaMismatch) as exc:
        check_window(Window("0017", None), RELEASE)
    assert exc.value.database_is_older is False


@pytest.mark.parametrize("revision", ["abc123", "0016a"])
def test_a_revision_that_is_no_number_cannot_be_placed(revision: str) -> None:
    with pytest.raises(SchemaMismatch) as exc:
        check_window(Window(revision, "0.2.0"), RELEASE)
    assert exc.value.database_is_older is None


@pytest.mark.parametrize("minimum", ["0.2.1", "0.3", "1.0.0", "0.10.0"])
def test_a_minimum_above_the_client_refuses_it_with_the_hint(minimum: str) -> None:
    with pytest.raises(ClientTooOld) as exc:
        check_window(Window("0016", minimum, "https://it.example/phms"), RELEASE)
    assert (exc.value.client, exc.value.minimum) == ("0.2.0", minimum)
    assert exc.value.where == "https://it.example/phms"


def test_versions_are_ordered_as_numbers() -> None:
    ten = ClientRelease("0.10.0", schema="0016", oldest_schema="0015")
    assert check_window(Window("0016", "0.9.0"), ten) == "0016"


def test_a_minimum_that_is_no_version_cannot_be_placed() -> None:
    with pytest.raises(SchemaMismatch) as exc:
        check_window(Window("0016", "newest"), RELEASE)
    assert exc.value.database_is_older is None


def test_window_from_the_site_settings() -> None:
    settings = {"min_client_version": "0.2.0", "client_download_hint": "  \\\\srv\\phms  "}
    assert Window.from_settings("0016", settings) == Window("0016", "0.2.0", "\\\\srv\\phms")
    assert Window.from_settings("0015", {}) == Window("0015", None, "")
