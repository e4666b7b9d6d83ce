"""One logged-in staff member's connection to the server (no Qt).

The engine keeps a small pool of connections, all as the staff member's own
PostgreSQL role. Statement parameters are hidden from error messages so that a
logged error never carries patient data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from phms_client.config import ClientConfig


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:  # never show the password in a log or traceback
        return f"Credentials(user={self.user!r}, password=***)"


#: Settings every session starts with, sent in the connection's startup packet
#: (no extra round trip). The name search's typo tier (``services.patients``)
#: matches by trigram word similarity; at pg_trgm's default of 0.6 a name with one
#: letter dropped is missed ("Kowlski": 0.55 against "Kowalski"). The benchmark
#: (docs/benchmarks.md, Findings) compares both on misspelt keystrokes at a million
#: patients: 0.45 lists the family meant about twice as often, at the same speed.
SESSION_SETTINGS = {"pg_trgm.word_similarity_threshold": "0.45"}


def session_options() -> str:
    """``SESSION_SETTINGS`` as libpq's ``options``."""
    return " ".join(f"-c {name}={value}" for name, value in SESSION_SETTINGS.items())


class Database:
    def __init__(
        self, config: ClientConfig, credentials: Credentials, *, pool_size: int = 4
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.engine = sa.create_engine(
            "postgresql+psycopg://",
            connect_args={
                **config.conninfo_kwargs(credentials.user, credentials.password),
                "options": session_options(),
            },
            pool_size=pool_size,
            max_overflow=2,
            pool_pre_ping=True,
            pool_recycle=1800,
            hide_parameters=True,
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def address(self) -> str:
        return self.config.display_address()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One short unit of work: commit on success, roll back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def reset(self) -> None:
        """Drop pooled connections (after the server went away); new ones are made lazily."""
        self.engine.dispose()

    def close(self) -> None:
        self.engine.dispose()
