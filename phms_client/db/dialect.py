"""SQLAlchemy's psycopg dialect, without its round trips on the first connection (no Qt).

On an engine's first connection SQLAlchemy asks the server for its version, the
current schema, the default isolation level, ``standard_conforming_strings`` and
the ``hstore`` type: nine round trips in all (with the transaction around them),
900 ms on a link with 50 ms each way, before the login's own statement. The
client makes a new engine at each login, so each login paid them.

:class:`QuickPsycopgDialect` takes the same facts from what the server already sent
while the connection was set up (libpq's ``server_version`` and parameter status)
or states them:

- the default schema is ``public``: PHMS names its schemas (``phms``, ``audit``) in
  every statement and the client reflects nothing;
- the default isolation level is READ COMMITTED, PostgreSQL's default: SQLAlchemy
  only uses it to reset a connection whose level was changed through execution
  options, which the client never does;
- no ``hstore``: PHMS has no such column.

Engines name it ``postgresql+phms_psycopg://`` (registered by importing this module).
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

__all__ = ["DRIVER_URL", "QuickPsycopgDialect", "server_version_info"]

#: The URL prefix of an engine with this dialect.
DRIVER_URL = "postgresql+phms_psycopg://"


def server_version_info(number: int) -> tuple[int, ...]:
    """libpq's ``server_version`` number as SQLAlchemy's tuple: 180001 -> (18, 1)."""
    if number >= 100000:
        return (number // 10000, number % 10000)
    return (number // 10000, number // 100 % 100, number % 100)


def _dbapi_connection(connection: sa.Connection) -> Any:
    return connection.connection.dbapi_connection


class QuickPsycopgDialect(PGDialect_psycopg):
    """``PGDialect_psycopg`` whose ``initialize`` sends nothing to the server."""

    supports_statement_cache = True  # (compiles exactly as its parent)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_native_hstore", False)
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    def _get_server_version_info(self, connection: sa.Connection) -> tuple[int, ...]:
        return server_version_info(_dbapi_connection(connection).info.server_version)

    def _get_default_schema_name(self, connection: sa.Connection) -> str:
        return "public"

    def get_default_isolation_level(self, dbapi_conn: Any) -> Literal["READ COMMITTED"]:
        return "READ COMMITTED"

    def _set_backslash_escapes(self, connection: sa.Connection) -> None:
        status = _dbapi_connection(connection).info.parameter_status("standard_conforming_strings")
        self._backslash_escapes = status == "off"


registry.register("postgresql.phms_psycopg", __name__, "QuickPsycopgDialect")
