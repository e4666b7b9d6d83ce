"""The sandboxed template engine: placeholders, conditions, filters, and no way out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import MappingProxyType

import pytest

from phms_client.reports.engine import (
    MAX_OUTPUT,
    TemplateProblem,
    check_template,
    format_day,
    format_number,
    render,
    roman,
)

CONTEXT = MappingProxyType(
    {
        "patient": MappingProxyType(
            {"name": "Zoë <Müller> & Co", "birth_date": dt.date(1960, 5, 17), "who_fc": 3}
        ),
        "body": MappingProxyType(
            {"weight_kg": Decimal("95.25"), "weight_to_ideal": Decimal("1.62")}
        ),
        "medications": (MappingProxyType({"name": "bosentan"}), MappingProxyType({"name": "x"})),
        "nothing": None,
    }
)
OBESE = (
    "{{ body.weight_kg|num(1) }} kg"
    "{% if body.weight_to_ideal and body.weight_to_ideal > 1.5 %} (Obese){% endif %}"
)


def test_placeholders_are_filled_and_escaped() -> None:
    assert render("<b>{{ patient.name }}</b>", CONTEXT) == "<b>Zoë &lt;Müller&gt; &amp; Co</b>"


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [("1.62", "95.3 kg (Obese)"), ("1.5", "95.3 kg"), ("1.49", "95.3 kg"), (None, "95.3 kg")],
)
def test_obesity_condition(ratio: str | None, expected: str) -> None:
    body = MappingProxyType(
        {
            "weight_kg": Decimal("95.25"),
            "weight_to_ideal": None if ratio is None else Decimal(ratio),
        }
    )
    assert render(OBESE, {**CONTEXT, "body": body}) == expected


def test_loops_and_filters() -> None:
    body = (
        "{% for m in medications %}{{ m.name }}{% if not loop.last %}, {% endif %}{% endfor %}"
        " | {{ patient.birth_date|day }} | FC {{ patient.who_fc|roman }} | {{ nothing|num }}"
    )
    assert render(body, CONTEXT) == "bosentan, x | 17.05.1960 | FC III | —"


def test_filters_directly() -> None:
    assert format_number(Decimal("2.5")) == "3"  # half up, not banker's
    assert format_number(Decimal("0.125"), 2) == "0.13"
    assert format_number(None) == "—"
    assert format_day(dt.datetime(2024, 1, 2, 13, 0)) == "02.01.2024"
    assert roman(4) == "IV" and roman(None) == "—"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{{ ''.__class__.__mro__ }}", "__class__"),
        ("{{ patient.__class__.__init__.__globals__ }}", "unsafe"),
        ("{{ medications.__len__() }}", "__len__"),
        ("{% set xs = [1, 2] %}{{ xs.append(3) }}", "append"),
        ("{% set d = {'a': 1} %}{{ d.update({'b': 2}) }}", "update"),
        ("{% set d = {'a': 1} %}{{ d.pop('a') }}", "pop"),
        ("{{ '{0.__class__}'.format(1) }}", "__class__"),
    ],
)
def test_sandbox_escapes_fail_with_a_clear_message(body: str, why: str) -> None:
    with pytest.raises(TemplateProblem) as info:
        render(body, CONTEXT)
    message = str(info.value)
    assert message.startswith("Line 1: the template tried something reports may not do")
    assert why in message


def test_private_attributes_of_objects_are_refused() -> None:
    class Thing:
        _private = "secret"
        public = "fine"

    assert render("{{ t.public }}", {"t": Thing()}) == "fine"
    with pytest.raises(TemplateProblem, match=r"may not do.*_private"):
        render("{{ t._private }}", {"t": Thing()})


def test_the_context_cannot_be_changed_from_a_template() -> None:
    with pytest.raises(TemplateProblem, match="no such field"):
        render("{{ patient.update({'name': 'x'}) }}", CONTEXT)
    assert CONTEXT["patient"]["name"] == "Zoë <Müller> & Co"


def test_nothing_but_the_context_is_reachable() -> None:
    for name in ("config", "request", "lipsum", "cycler", "joiner", "namespace", "session"):
        with pytest.raises(TemplateProblem, match=f"'{name}' is undefined"):
            render(f"{{{{ {name} }}}}", CONTEXT)


def test_unknown_placeholder_names_the_line() -> None:
    with pytest.raises(TemplateProblem) as info:
        render("<p>ok</p>\n<p>{{ patient.nmae }}</p>", CONTEXT)
    assert info.value.line == 2
    assert "nmae" in str(info.value) and "no such field" in str(info.value)


def test_syntax_error_is_found_before_saving() -> None:
    with pytest.raises(TemplateProblem, match=r"Line 2: the template is not well formed"):
        check_template("<p>\n{% if x %}\n")
    check_template(OBESE)


def test_output_is_limited() -> None:
    body = (
        "{% for i in range(10000) %}{% for j in range(10000) %}xxxxxxxxxx{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateProblem, match=f"longer than {MAX_OUTPUT:,}"):
        render(body, CONTEXT)
