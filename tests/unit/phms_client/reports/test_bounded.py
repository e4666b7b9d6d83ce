"""Every render runs in a report process with a time and a memory limit.

These start real report processes (multiprocessing's spawn, as on Windows). The
durations asserted are generous on purpose: they prove a render does not hang,
they do not measure speed (the benchmarks do).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import multiprocessing
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest

from phms_client.reports import bounded, memory_limit
from phms_client.reports.bounded import MEMORY_LIMIT_MB, TIME_LIMIT_S, plain, render_bounded
from phms_client.reports.engine import TemplateProblem, render
from phms_client.reports.worker import freeze

NOT_HANGING_S = 20.0

CONTEXT = MappingProxyType(
    {
        "patient": MappingProxyType(
            {"name": "Zoë <Müller> & Co", "birth_date": dt.date(1960, 5, 17), "who_fc": 3}
        ),
        "body": MappingProxyType({"weight_kg": Decimal("95.25"), "bmi": None}),
        "medications": (MappingProxyType({"name": "bosentan"}), MappingProxyType({"name": "x"})),
    }
)
LETTER = (
    "<p>{{ patient.name }}, born {{ patient.birth_date|day }}, FC {{ patient.who_fc|roman }}</p>"
    "{% for m in medications %}<li>{{ m.name|upper }}</li>{% endfor %}"
    "<p>{{ body.weight_kg|num(1) }} kg, BMI {{ body.bmi|num }}</p>"
)

LOOPS = (
    "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    yield
    bounded.shutdown()
    assert multiprocessing.active_children() == []


def pid_gone(pid: int) -> bool:
    """No such process any more (Linux: /proc; elsewhere: multiprocessing's own list)."""
    proc = Path("/proc")
    if proc.is_dir():
        return not (proc / str(pid)).exists()
    return all(p.pid != pid for p in multiprocessing.active_children())


def timed_problem(body: str, name: str = "Clinic letter") -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(TemplateProblem) as info:
        render_bounded(body, CONTEXT, template=name)
    return str(info.value), time.monotonic() - start


def test_a_normal_template_renders_exactly_as_in_process() -> None:
    expected = render(LETTER, CONTEXT)
    assert "Zoë &lt;Müller&gt; &amp; Co" in expected and "95.3 kg, BMI —" in expected
    assert render_bounded(LETTER, CONTEXT, template="Clinic letter") == expected
    assert render_bounded(LETTER, CONTEXT) == expected  # the warm process again


def test_the_context_travels_as_plain_data_and_is_frozen_again() -> None:
    data = plain(CONTEXT)
    assert type(data) is dict and type(data["patient"]) is dict
    assert type(data["medications"]) is tuple
    assert freeze(data) == CONTEXT
    assert isinstance(freeze(data)["patient"], MappingProxyType)
    with pytest.raises(TemplateProblem, match="no such field"):
        render_bounded("{{ patient.update({'name': 'x'}) }}", CONTEXT)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{{ 'a' * 10**9 }}", "line 1: it asks for a text of 1,000,000,000 characters"),
        ("{% if 3**50000000 > 1 %}x{% endif %}", "line 1: it asks for a power too large"),
        ("{{ range(10000000)|length }}", "line 1: it asks for a range of 10,000,000 items"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", ": the template calls itself"),
        ("{{ ''.__class__.__mro__ }}", "line 1: the template tried something reports may not do"),
        ("<p>\n{% if x %}\n", "line 2: the template is not well formed"),
    ],
)
def test_hostile_templates_are_refused_with_the_reason(body: str, why: str) -> None:
    message, took = timed_problem(body)
    assert message.startswith("Template “Clinic letter”")
    assert why in message
    assert took < NOT_HANGING_S


def test_nested_loops_are_stopped_after_the_time_limit() -> None:
    render_bounded("warm", {})
    (process,) = bounded._idle
    pid = process.pid
    assert pid is not None
    message, took = timed_problem(LOOPS)
    assert (
        message
        == f"Template “Clinic letter”: it took longer than {TIME_LIMIT_S:g} s and was stopped"
    )
    assert TIME_LIMIT_S <= took < NOT_HANGING_S
    assert pid_gone(pid), "the report process that ran over was killed"
    assert bounded._idle == []
    # The next report gets a new process and is not held up by the old one.
    assert render_bounded("{{ 6 * 7 }}", {}) == "42"
    assert bounded._idle[0].pid != pid


@pytest.mark.parametrize(
    "body",
    [
        # Each step stays under the sandbox's limits; together they need about 2 GB.
        "{% set a = 'x' * 2000000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}"
        "{% set c = b ~ b ~ b ~ b ~ b ~ b ~ b ~ b %}{% set d = c ~ c ~ c ~ c %}{{ d|length }}",
        "{{ 'a'|center(1000000000) }}",
        "{{ '{:>999999999}'.format(1)|length }}",
        "{{ 'x'|indent(900000000, true) }}",
    ],
)
def test_memory_hungry_templates_are_stopped(body: str) -> None:
    message, took = timed_problem(body, "Cohort report")
    assert (
        message
        == f"Template “Cohort report”: it used more than {MEMORY_LIMIT_MB} MB and was stopped"
    )
    assert took < NOT_HANGING_S
    assert bounded._idle == []


def test_renders_from_several_threads_each_get_a_process() -> None:
    results: dict[int, str] = {}
    problems: list[str] = []

    def report(n: int) -> None:
        try:
            results[n] = render_bounded("{{ n * 2 }}", {"n": n})
        except TemplateProblem as exc:
            problems.append(str(exc))

    def runaway() -> None:
        with pytest.raises(TemplateProblem):
            render_bounded(LOOPS, {})
        problems.append("stopped")

    threads = [threading.Thread(target=runaway)]
    threads += [threading.Thread(target=report, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(NOT_HANGING_S)
    assert results == {0: "0", 1: "2", 2: "4"}
    assert problems == ["stopped"]
    assert len(bounded._idle) <= bounded.KEEP_WARM


def test_a_long_template_gets_time_to_compile_and_is_compiled_once() -> None:
    """10,000 placeholders in 185,000 characters take seconds to compile, not to render."""
    body = "<p>{{ x }}{% if x %}y{% endif %}</p>\n" * 5000
    assert render_bounded(body, {"x": 1}) == "<p>1y</p>\n" * 5000
    assert render_bounded(body, {"x": 2}).startswith("<p>2y</p>")


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="sizes given for 64-bit")
def test_the_windows_structures_have_windows_sizes() -> None:
    """Sizes of JOBOBJECT_BASIC_LIMIT_INFORMATION, IO_COUNTERS,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION and PROCESS_MEMORY_COUNTERS on 64-bit Windows."""
    sizes = [
        ctypes.sizeof(s)
        for s in (
            memory_limit.BasicLimits,
            memory_limit.IoCounters,
            memory_limit.ExtendedLimits,
            memory_limit.MemoryCounters,
        )
    ]
    assert sizes == [64, 48, 144, 72]
    assert memory_limit.ExtendedLimits.ProcessMemoryLimit.offset == 112


def test_the_report_process_caps_its_memory() -> None:
    render_bounded("warm", {})
    (process,) = bounded._idle
    assert process.memory_limited


def test_a_warm_process_that_was_killed_from_outside_is_replaced() -> None:
    render_bounded("warm", {})
    (process,) = bounded._idle
    process.process.kill()
    process.process.join(5)
    assert render_bounded("{{ 6 * 7 }}", {}) == "42"
    # ... also when it dies just as the job is sent (the pipe is broken then).
    (process,) = bounded._idle
    bounded._idle.clear()
    process.process.kill()
    process.process.join(5)
    bounded._idle.append(process)
    process.alive = lambda: True  # type: ignore[method-assign]  # as if it died after the check
    assert render_bounded("{{ 6 * 7 }}", {}) == "42"
