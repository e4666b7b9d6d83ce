"""The report process: renders templates for the client, one at a time (no Qt, no database).

Started by :mod:`.bounded` with multiprocessing's *spawn* method (a fresh
Python, the same on Windows and Linux), so it has nothing of the client: no
database connection, no window, no password. It caps its own memory
(:mod:`.memory_limit`), says it is ready, then answers jobs until told to stop.

A job is ``(body, context)``: the template text and the render context as plain
data (dicts, tuples, strings, numbers, dates), made read-only again here.
Answers are JSON objects, never pickles, so that the client trusts nothing but
text from this process:

- ``{"compiled": true}`` as soon as the template is compiled (a long template
  takes longer to compile than to render, so the client times the two apart);
- then ``{"html": "..."}``, the report;
- or, instead of either, ``{"problem": "...", "line": 3}``: the template cannot
  be compiled or rendered;
- or ``{"memory": true}``: it needed more than the cap (this process then ends).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any

from phms_client.reports.engine import TemplateProblem, compile_template, render_compiled
from phms_client.reports.memory_limit import limit_memory

__all__ = ["freeze", "serve"]


def freeze(value: Any) -> Any:
    """Dicts become read-only mappings, lists tuples (the context's form in the client)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def _answer(conn: Connection, reply: Mapping[str, Any]) -> None:
    conn.send_bytes(json.dumps(reply, ensure_ascii=False).encode("utf-8"))


def _render(conn: Connection, body: str, context: Mapping[str, Any]) -> dict[str, Any]:
    try:
        template = compile_template(body)
        _answer(conn, {"compiled": True})
        return {"html": render_compiled(template, freeze(context))}
    except TemplateProblem as exc:
        return {"problem": exc.message, "line": exc.line}
    except MemoryError:
        raise
    except Exception as exc:  # anything else a template can provoke, in words
        return {"problem": f"the template failed: {type(exc).__name__}: {exc}", "line": None}


def serve(conn: Connection, memory_bytes: int) -> None:
    """Entry point of the report process (the target given to ``Process``)."""
    limited = limit_memory(memory_bytes)
    _answer(conn, {"ready": True, "memory_limited": limited})
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the client has gone
        if job is None:
            return
        body, context = job
        try:
            reply = _render(conn, body, context)
        except MemoryError:
            reply = None
        if reply is None:
            _answer(conn, {"memory": True})
            return
        _answer(conn, reply)
