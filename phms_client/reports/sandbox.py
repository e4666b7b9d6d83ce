"""Jinja's immutable sandbox, refusing huge work before it starts (no Qt, no database).

The stock sandbox stops a template from reaching Python internals but not from
asking for a billion of something: ``{{ 'a' * 10**9 }}`` or
``{% if 3**50000000 > 1 %}`` run for a minute and take gigabytes. Here the
operators that can make a huge value from a short text are checked first:

- ``*`` may not make a text or list longer than :data:`MAX_ITEMS`, nor a whole
  number longer than :data:`MAX_INT_BITS` bits;
- ``**`` may not make a whole number longer than :data:`MAX_INT_BITS` bits;
- ``range`` gives at most :data:`MAX_RANGE` items.

Intercepted operators are also never worked out while the template is compiled
(Jinja folds constant expressions otherwise), so saving such a template is as
safe as rendering it. What these checks cannot foresee (nested loops, a filter
asked for a wide text…) is bounded by the separate process each render runs in
(:mod:`phms_client.reports.bounded`).
"""

from __future__ import annotations

from typing import Any, Final

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["MAX_INT_BITS", "MAX_ITEMS", "MAX_RANGE", "LimitExceeded", "RestrictedEnvironment"]

#: Most items one ``range()`` may give.
MAX_RANGE: Final = 10_000
#: Longest text, list or tuple ``*`` may make (the whole report may be 2,000,000 characters).
MAX_ITEMS: Final = 2_000_000
#: Largest whole number ``*`` and ``**`` may make: about 30,000 digits.
MAX_INT_BITS: Final = 100_000


class LimitExceeded(SecurityError):
    """The template asks for more than a report may do; ``str()`` says what, in plain words."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repeat(left: Any, right: Any) -> None:
    """``text * n`` (or ``n * text``) longer than MAX_ITEMS."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and _is_int(times):
            size = len(seq) * times
            if size > MAX_ITEMS:
                what = "text of {:,} characters" if isinstance(seq, str) else "list of {:,} items"
                raise LimitExceeded(f"asks for a {what.format(size)} (the limit is {MAX_ITEMS:,})")


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        bits = abs(left).bit_length() + abs(right).bit_length()
        if bits > MAX_INT_BITS:
            raise LimitExceeded(
                f"asks for a number too large: about {int(bits * 0.30103):,} digits "
                f"(the limit is about {int(MAX_INT_BITS * 0.30103):,})"
            )


def _check_power(base: Any, exponent: Any) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        bits = (abs(base).bit_length() - 1) * exponent
        if bits > MAX_INT_BITS:
            raise LimitExceeded(
                f"asks for a power too large: {base} ** {exponent:,} would have about "
                f"{int(bits * 0.30103):,} digits (the limit is about "
                f"{int(MAX_INT_BITS * 0.30103):,})"
            )


def _check_times(left: Any, right: Any) -> None:
    _check_repeat(left, right)
    _check_product(left, right)


_CHECKS: Final = {"*": _check_times, "**": _check_power}


def limited_range(*args: int) -> range:
    """``range()`` of at most MAX_RANGE items."""
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise LimitExceeded(f"asks for a range of {len(r):,} items (the limit is {MAX_RANGE:,})")
    return r


class RestrictedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with ``*``, ``**`` and ``range`` limited (see the module)."""

    intercepted_binops = frozenset(_CHECKS)

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        check = _CHECKS.get(operator_)
        if check is not None:
            check(left, right)
        return self.binop_table[operator_](left, right)
