"""How long the client waits for the server, and how it notices a dead link.

Every value is a whole number of seconds and can be set in the site or user file
(``client.toml``), flat, under the names of :data:`KEYS`::

    statement_timeout = 30        # one statement of ordinary work
    long_statement_timeout = 300  # one statement of the Error Check, a report, an export
    lock_timeout = 5              # waiting for a row or table someone else holds
    keepalives_idle = 10          # TCP keepalives: first probe after this much silence,
    keepalives_interval = 5       #   then one every interval,
    keepalives_count = 3          #   the link is dead after this many unanswered
    tcp_user_timeout = 20         # sent data unacknowledged this long: the link is dead
    link_check_after = 10         # a reply this late: check the link with a new connection

The reasons and the defaults are in docs/admin-guide.md ("Timeouts"). No value may be
0: nothing waits forever.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

__all__ = ["KEYS", "MAX_SECONDS", "Timeouts"]

#: Largest value accepted for any of them (a day): a typo like 300000 is refused.
MAX_SECONDS: Final = 86_400


@dataclass(frozen=True)
class Timeouts:
    statement_timeout: int = 30
    long_statement_timeout: int = 300
    lock_timeout: int = 5
    keepalives_idle: int = 10
    keepalives_interval: int = 5
    keepalives_count: int = 3
    tcp_user_timeout: int = 20
    link_check_after: int = 10

    def libpq_kwargs(self) -> dict[str, int]:
        """Connection parameters for libpq (``tcp_user_timeout`` is in milliseconds)."""
        return {
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle,
            "keepalives_interval": self.keepalives_interval,
            "keepalives_count": self.keepalives_count,
            "tcp_user_timeout": self.tcp_user_timeout * 1000,
        }

    def session_settings(self) -> dict[str, str]:
        """Server settings every session of ordinary work starts with."""
        return {
            "statement_timeout": f"{self.statement_timeout}s",
            "lock_timeout": f"{self.lock_timeout}s",
        }


#: The file keys, which are also the attribute names of :class:`Timeouts`.
KEYS: Final = frozenset(f.name for f in fields(Timeouts))
