"""The psycopg dialect that learns at connect time what it would otherwise ask."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from phms_client.db.dialect import DRIVER_URL, QuickPsycopgDialect, server_version_info


@pytest.mark.parametrize(
    ("number", "expected"),
    [(180001, (18, 1)), (170000, (17, 0)), (150012, (15, 12)), (90624, (9, 6, 24))],
)
def test_server_version_numbers(number: int, expected: tuple[int, ...]) -> None:
    assert server_version_info(number) == expected


def test_engines_of_the_driver_url_use_it() -> None:
    engine = sa.create_engine(DRIVER_URL)
    try:
        assert isinstance(engine.dialect, QuickPsycopgDialect)
        assert engine.dialect.driver == "psycopg"
        assert engine.dialect.use_native_hstore is False
    finally:
        engine.dispose()
