"""Render a site-editable template in Jinja's immutable sandbox (no Qt, no database).

A template sees only the render context it is given: plain frozen data
(``MappingProxyType``, tuples, strings, numbers, dates) built by
``phms_client.services.reports``. No session, no ORM object and no function
that reads anything is ever in it, so a template cannot query the database, read
another table or another patient. The sandbox
(:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`) refuses attributes
starting with ``_`` (``''.__class__``…), Python internals and methods that
change data (``list.append``, ``dict.update``…); such a template fails with
:class:`TemplateProblem` naming the line. Unknown placeholders fail too
(``StrictUndefined``), so a typo is found when the template is tried, not
when a letter goes out with a blank.

Output is HTML, autoescaped: a value containing ``<`` is shown, never
interpreted. Size limits stop a runaway template: ``range`` gives at most
:data:`MAX_RANGE` items, ``*`` and ``**`` may not make huge values
(:mod:`.sandbox`) and the output is at most :data:`MAX_OUTPUT` characters.

:func:`render` and :func:`check_template` run the template *here*, with no
time or memory limit: the client calls them only inside the report process of
:mod:`phms_client.reports.bounded`, which adds both.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

import jinja2
from jinja2.exceptions import SecurityError

from phms_client.clinical import demographics
from phms_client.reports.sandbox import (
    MAX_RANGE,
    LimitExceeded,
    RestrictedEnvironment,
    limited_range,
)

__all__ = [
    "MAX_OUTPUT",
    "MAX_RANGE",
    "TemplateProblem",
    "check_template",
    "compile_template",
    "format_day",
    "format_number",
    "render",
    "render_compiled",
    "roman",
]

MAX_OUTPUT: Final = 2_000_000
DASH: Final = "—"
_ROMAN: Final = {1: "I", 2: "II", 3: "III", 4: "IV"}


class TemplateProblem(Exception):
    """The template cannot be rendered; ``str()`` says why and where, in plain words.

    ``template`` is the template's name when known: "Template “Clinic letter”,
    line 3: …"; without it "Line 3: …".
    """

    def __init__(self, message: str, line: int | None = None, template: str | None = None) -> None:
        self.message = message
        self.line = line
        self.template = template
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"Template “{self.template}”" if self.template else ""
        if self.line is not None:
            where = f"{where}, line {self.line}" if where else f"Line {self.line}"
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self._text()

    def named(self, template: str) -> TemplateProblem:
        """The same problem, naming the template."""
        return TemplateProblem(self.message, self.line, template)


# ----------------------------------------------------------------- filters


def format_number(value: Any, places: int = 0) -> str:
    """Rounded half up for display (``—`` when missing); the data keep their precision."""
    if value is None or value == "":
        return DASH
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        rounded = number.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return format(rounded, "f")


def format_day(value: Any) -> str:
    """``17 May 1960``: unambiguous whatever the reader's habits."""
    if value is None:
        return DASH
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return demographics.format_day(value)
    return str(value)


def roman(value: Any) -> str:
    """WHO functional class 1–4 as I–IV."""
    if value is None:
        return DASH
    try:
        return _ROMAN.get(int(value), str(value))
    except (TypeError, ValueError):
        return str(value)


def _or_dash(value: Any, text: str = DASH) -> Any:
    return text if value is None or value == "" else value


# ------------------------------------------------------------- environment


def _environment() -> RestrictedEnvironment:
    env = RestrictedEnvironment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["num"] = format_number
    env.filters["day"] = format_day
    env.filters["roman"] = roman
    env.filters["or_dash"] = _or_dash
    env.globals = {"range": limited_range}
    return env


_ENV: Final = _environment()


@functools.lru_cache(maxsize=16)
def compile_template(body: str) -> jinja2.Template:
    """``body`` compiled (the last few are kept: printing one letter after another
    compiles it once); :class:`TemplateProblem` if it is not well formed."""
    try:
        return _ENV.from_string(body)
    except jinja2.TemplateSyntaxError as exc:
        problem = f"the template is not well formed: {exc.message}"
        raise TemplateProblem(problem, exc.lineno) from exc
    except RecursionError as exc:
        raise TemplateProblem("the template is nested too deeply to be read") from exc


def _line_of(exc: BaseException) -> int | None:
    """The template line where rendering failed, from the traceback Jinja rewrote."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_template(body: str) -> None:
    """Raise :class:`TemplateProblem` if ``body`` is not a well-formed template."""
    compile_template(body)


def render(body: str, context: Mapping[str, Any]) -> str:
    """The template ``body`` rendered over ``context`` (plain frozen data) as HTML."""
    return render_compiled(compile_template(body), context)


def render_compiled(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """A template from :func:`compile_template` rendered over ``context`` as HTML."""
    return _collect(lambda: template.generate(**context))


def _collect(generate: Callable[[], Iterator[str]]) -> str:
    parts: list[str] = []
    size = 0
    try:
        for chunk in generate():
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateProblem(
                    f"the report would be longer than {MAX_OUTPUT:,} characters; "
                    "check the template's loops"
                )
            parts.append(chunk)
    except TemplateProblem:
        raise
    except LimitExceeded as exc:
        raise TemplateProblem(f"it {exc}", _line_of(exc)) from exc
    except SecurityError as exc:
        raise TemplateProblem(
            f"the template tried something reports may not do ({exc})", _line_of(exc)
        ) from exc
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(
            f"{exc.message}: no such field in this kind of report", _line_of(exc)
        ) from exc
    except jinja2.TemplateError as exc:
        raise TemplateProblem(str(exc), _line_of(exc)) from exc
    except RecursionError as exc:
        raise TemplateProblem(
            "the template calls itself without end (a macro that calls itself?)"
        ) from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(f"{type(exc).__name__}: {exc}", _line_of(exc)) from exc
    return "".join(parts)
