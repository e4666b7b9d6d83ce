"""The embedded server checks plain-text passwords, also one made before that rule."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from phms_admin import embedded
from tests.harness import embedded_server


def test_a_server_made_before_the_rule_gets_it_at_its_next_start() -> None:
    with embedded_server("phms-test-pwrules-") as info:
        conf = info.data_dir / "postgresql.conf"
        assert all(line in conf.read_text() for line in embedded.PASSWORD_RULES)
        embedded.stop(info.data_dir)
        # As `phms-admin server init` wrote it before passwordcheck was configured.
        kept = [line for line in conf.read_text().splitlines() if "passwordcheck" not in line]
        conf.write_text("\n".join(kept) + "\n")
        embedded.start(info.data_dir)
        engine = sa.create_engine(info.url("postgres"), poolclass=sa.pool.NullPool)
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
            conn.execute(sa.text("ALTER ROLE CURRENT_USER PASSWORD 'short-1'"))
        engine.dispose()
        assert isinstance(refused.value.orig, psycopg.errors.InvalidParameterValue)
        assert "password is too short" in str(refused.value.orig)
        assert conf.read_text().count("passwordcheck.min_password_length = 12") == 1
