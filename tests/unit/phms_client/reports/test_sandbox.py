"""The restricted sandbox refuses huge work before doing it, with the reason in words."""

from __future__ import annotations

import pytest

from phms_client.reports.engine import TemplateProblem, check_template, render
from phms_client.reports.sandbox import MAX_ITEMS, MAX_RANGE


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "{{ 'a' * 10**9 }}",
            "asks for a text of 1,000,000,000 characters (the limit is 2,000,000)",
        ),
        ("{{ 10**9 * 'a' }}", "asks for a text of 1,000,000,000 characters"),
        ("{{ [0] * 10**8 }}", "asks for a list of 100,000,000 items"),
        ("{{ (1, 2) * 10**7 }}", "asks for a list of 20,000,000 items"),
        ("{% if 3**50000000 > 1 %}x{% endif %}", "asks for a power too large: 3 ** 50,000,000"),
        ("{{ (2 ** 60000) * (2 ** 60000) }}", "asks for a number too large"),
        (
            "{{ range(10000000)|length }}",
            "asks for a range of 10,000,000 items (the limit is 10,000)",
        ),
        ("{{ range(0, 10**9, 2)|length }}", "asks for a range of 500,000,000 items"),
    ],
)
def test_huge_work_is_refused_up_front(body: str, why: str) -> None:
    with pytest.raises(TemplateProblem) as info:
        render(body, {})
    assert str(info.value).startswith("Line 1: it ")
    assert why in str(info.value)


def test_reasonable_use_of_the_same_operators_still_works() -> None:
    body = "{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] * 2 }} {{ 7 * 6 }} {{ 2.5 ** 2 }}"
    assert render(body, {}) == "1024 ababab xxx [1, 1] 42 6.25"
    assert render(f"{{{{ range({MAX_RANGE})|length }}}}", {}) == str(MAX_RANGE)
    assert len(render(f"{{{{ 'a' * {MAX_ITEMS} }}}}", {})) == MAX_ITEMS
    assert render("{{ (-1) ** 100000000 }} {{ 1 ** 10**9 }} {{ 2 ** -2 }}", {}) == "1 1 0.25"


def test_limited_operators_are_not_worked_out_while_compiling() -> None:
    """Jinja folds constant expressions when it compiles; a check that only compiles
    (saving a template) must not do the huge work either."""
    check_template("{% if 3**50000000 > 1 %}x{% endif %}{{ 'a' * 10**9 }}")


def test_a_macro_that_calls_itself_fails_cleanly() -> None:
    with pytest.raises(TemplateProblem, match="calls itself without end"):
        render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {})


def test_a_deeply_nested_template_fails_cleanly() -> None:
    with pytest.raises(TemplateProblem, match="nested too deeply"):
        check_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


@pytest.mark.parametrize(
    "body",
    [
        # CVE-2025-27516 (fixed in Jinja 3.1.6): |attr fetched str.format past the sandbox.
        "{{ ('{0.__class__.__mro__}'|attr('format'))(1) }}",
        # GHSA-q2x7-8rv6-6q7h (fixed in 3.1.5): a stored reference to str.format.
        "{% set f = '{0.__class__.__mro__}'.format %}{{ f(1) }}",
    ],
)
def test_known_sandbox_escapes_stay_closed(body: str) -> None:
    with pytest.raises(TemplateProblem, match=r"may not do.*__class__"):
        render(body, {})
