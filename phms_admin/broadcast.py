"""Maintenance broadcasts: one NOTIFY that every connected PHMS client hears.

The client listens on :data:`BROADCAST_CHANNEL` and shows the payload (plain
text) to the user, e.g. "The server restarts at 18:00; please save your work."
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from phms_admin.connection import CommandError
from phms_schema.roles import BROADCAST_CHANNEL

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_BYTES: Final = 7999


def check_message(message: str) -> str:
    text = message.strip()
    if not text:
        raise CommandError("The broadcast message is empty.")
    if len(text.encode()) > MAX_BYTES:
        raise CommandError(f"The broadcast message is too long (at most {MAX_BYTES} bytes).")
    return text


def send(conn: psycopg.Connection[Any], message: str) -> None:
    """Send ``message``; it is delivered when ``conn``'s transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (BROADCAST_CHANNEL, check_message(message)))
