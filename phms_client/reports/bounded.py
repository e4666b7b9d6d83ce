"""Every template render bounded in time and memory, on Windows and Linux (no Qt, no database).

A template is written by an admin and run on every workstation that prints,
so no template may freeze one. Two layers:

1. the restricted sandbox (:mod:`.sandbox`) refuses huge ranges, powers and
   repetitions up front, with a clear reason;
2. every render runs in a separate *report process* (:mod:`.worker`, started
   with multiprocessing's ``spawn``): the client waits at most
   :data:`TIME_LIMIT_S` seconds for the report (plus up to
   :data:`COMPILE_LIMIT_S` to compile a long template) and then kills the process; the
   process cannot use more than :data:`MEMORY_LIMIT_MB` MB for a render
   (:mod:`.memory_limit`); its answer is at most a few MB of JSON.

The report process gets only the template text and the render context as plain
data, never a database connection. One process is kept warm between renders
(started on first use; it takes a fraction of a second) and a new one replaces
any process that was stopped. Call :func:`render_bounded` from a worker thread
(the task runner), never from the GUI thread: it waits for the process.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import threading
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from typing import Any, Final

from phms_client.reports import worker
from phms_client.reports.engine import MAX_OUTPUT, TemplateProblem

__all__ = [
    "COMPILE_LIMIT_S",
    "MEMORY_LIMIT_MB",
    "TIME_LIMIT_S",
    "ReportProcessFailed",
    "plain",
    "render_bounded",
    "shutdown",
]

#: Longest a render may take, in seconds (the process's start is not counted).
TIME_LIMIT_S: Final = 2.0
#: Longest compiling a template may take, in seconds: a 200,000-character template
#: full of placeholders takes a few seconds; a letter a few hundredths.
COMPILE_LIMIT_S: Final = 10.0
#: Most memory a render may use, in MB, over what the report process needs to start.
MEMORY_LIMIT_MB: Final = 256
#: Longest a report process may take to start (a cold start on a slow workstation).
START_TIMEOUT_S: Final = 60.0
#: Report processes kept waiting for the next render.
KEEP_WARM: Final = 1
_MAX_REPLY_BYTES: Final = 4 * MAX_OUTPUT + 4096  # UTF-8 has at most 4 bytes a character


class ReportProcessFailed(RuntimeError):
    """The report process could not be started (not the template's fault)."""


class _TooSlow(Exception):
    """The report process did not answer in time; ``str()`` is what ran over."""


class _Gone(Exception):
    """The report process had ended before it was given the job (not the template's doing)."""


def plain(value: Any) -> Any:
    """The render context as plain data for the report process: read-only mappings
    become dicts, sequences tuples; strings, numbers, dates and None stay."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(plain(v) for v in value)
    return value


class _ReportProcess:
    """One report process and the pipe to it; used by one thread at a time."""

    def __init__(self) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.conn, child_end = spawn.Pipe()
        self.process: BaseProcess = spawn.Process(
            target=worker.serve,
            args=(child_end, MEMORY_LIMIT_MB * 1024 * 1024),
            name="phms-report",
            daemon=True,
        )
        try:
            self.process.start()
            ready = self._reply(START_TIMEOUT_S)
        except (OSError, EOFError, ValueError):
            ready = None
        finally:
            child_end.close()
        if not isinstance(ready, dict) or not ready.get("ready"):
            self.stop()
            raise ReportProcessFailed("The report process did not start")
        self.memory_limited = bool(ready.get("memory_limited"))

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def _reply(self, timeout: float) -> Any:
        """The process's next answer; None when it does not come within ``timeout``.

        Raises EOFError when the process has ended, OSError when the answer is too long.
        """
        if not self.conn.poll(timeout):
            return None
        return json.loads(self.conn.recv_bytes(_MAX_REPLY_BYTES).decode("utf-8"))

    def render(
        self, body: str, context: Mapping[str, Any], compile_limit: float, time_limit: float
    ) -> Any:
        """The process's answer; raises _TooSlow when compiling or rendering ran over,
        _Gone when the process was not there to take the job."""
        try:
            self.conn.send((body, context))
        except OSError as exc:
            raise _Gone from exc
        reply = self._reply(compile_limit)
        if reply is None:
            raise _TooSlow(f"took longer than {compile_limit:g} s to compile")
        if reply.get("compiled"):
            reply = self._reply(time_limit)
            if reply is None:
                raise _TooSlow(f"took longer than {time_limit:g} s")
        return reply

    def stop(self) -> None:
        """End the process now (it is killed, not asked) and wait until it is gone."""
        if self.process.pid is not None and self.process.is_alive():
            self.process.kill()
        if self.process.pid is not None:
            self.process.join(5)
        self.conn.close()
        if self.process.exitcode is not None:
            self.process.close()


_idle: list[_ReportProcess] = []
_lock = threading.Lock()


def _take() -> _ReportProcess:
    with _lock:
        while _idle:
            process = _idle.pop()
            if process.alive():
                return process
            process.stop()
    return _ReportProcess()


def _give_back(process: _ReportProcess) -> None:
    with _lock:
        if len(_idle) < KEEP_WARM and process.alive():
            _idle.append(process)
            return
    process.stop()


def shutdown() -> None:
    """Stop the report processes kept warm (at exit, and in tests)."""
    with _lock:
        waiting = list(_idle)
        _idle.clear()
    for process in waiting:
        process.stop()


atexit.register(shutdown)


def render_bounded(
    body: str,
    context: Mapping[str, Any],
    *,
    template: str | None = None,
    time_limit: float = TIME_LIMIT_S,
) -> str:
    """``body`` rendered over ``context`` as HTML, in the report process.

    Raises :class:`TemplateProblem` naming ``template`` when the template
    cannot be rendered, took longer than ``time_limit`` seconds (or
    :data:`COMPILE_LIMIT_S` to compile) or used more
    than :data:`MEMORY_LIMIT_MB` MB (the process is then stopped and replaced),
    and :class:`ReportProcessFailed` when no report process could be started.
    """
    data = plain(context)
    process = _take()
    try:
        return _render_in(process, body, data, template, time_limit)
    except _Gone:
        # A warm process that ended meanwhile (killed from outside, say): one more try.
        return _render_in(_take(), body, data, template, time_limit)


def _render_in(
    process: _ReportProcess,
    body: str,
    data: Mapping[str, Any],
    template: str | None,
    time_limit: float,
) -> str:
    """Render in ``process``; keep it warm afterwards unless it was stopped."""
    keep = False
    try:
        try:
            reply = process.render(body, data, COMPILE_LIMIT_S, time_limit)
        except _TooSlow as exc:
            raise TemplateProblem(f"it {exc} and was stopped", template=template) from None
        except EOFError:
            process.process.join(5)
            code = process.process.exitcode
            raise TemplateProblem(
                f"the report process stopped while rendering it (exit code {code}); "
                "the template probably asks for too much",
                template=template,
            ) from None
        except OSError as exc:  # recv_bytes: the answer is longer than any report may be
            raise TemplateProblem(
                "the report would be too long; check the template's loops", template=template
            ) from exc
        if reply.get("memory"):
            raise TemplateProblem(
                f"it used more than {MEMORY_LIMIT_MB} MB and was stopped", template=template
            )
        keep = True
        if "problem" in reply:
            raise TemplateProblem(str(reply["problem"]), reply.get("line"), template)
        return str(reply["html"])
    finally:
        if keep:
            _give_back(process)
        else:
            process.stop()
