"""The plausible-range table: messages, edges, and agreement with the models."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from phms_client.clinical import ranges
from phms_schema import Base
from phms_schema.ddl_clinical import TABLES


def test_message_reads_well() -> None:
    assert ranges.HEIGHT.message == "Height must be between 30 and 250 cm"
    assert ranges.RAP.message == "Right atrial pressure must be between −5 and 40 mmHg"
    assert ranges.CARDIAC_OUTPUT.message == "Cardiac output must be between 0.5 and 20 L/min"
    assert ranges.BORG.message == "Borg score must be between 0 and 10"


def test_problem_at_the_edges() -> None:
    assert ranges.problem("assessment", "height_cm", 30) is None
    assert ranges.problem("assessment", "height_cm", 250) is None
    assert ranges.problem("assessment", "height_cm", 29.9) == ranges.HEIGHT.message
    assert ranges.problem("assessment", "height_cm", Decimal("250.01")) == ranges.HEIGHT.message
    assert ranges.problem("assessment", "height_cm", None) is None
    assert ranges.problem("assessment", "height_cm", float("nan")) == ranges.HEIGHT.message
    assert ranges.problem("assessment", "kind", 3) is None  # not a ranged field


def test_ph_domain_limits() -> None:
    expected = {
        "height_cm": (30, 250),
        "weight_kg": (1, 400),
        "heart_rate_bpm": (20, 250),
        "spo2_pct": (40, 100),
        "rap_mmhg": (-5, 40),
        "mpap_mmhg": (0, 150),
        "pawp_mmhg": (0, 60),
        "co_l_min": (Decimal("0.5"), 20),
        "svo2_pct": (10, 100),
        "bnp_pg_ml": (0, 50000),
        "nt_probnp_pg_ml": (0, 100000),
    }
    table = ranges.FIELD_RANGES["assessment"]
    for column, (low, high) in expected.items():
        assert (table[column].minimum, table[column].maximum) == (low, high), column
    walk = ranges.FIELD_RANGES["six_minute_walk"]
    assert (walk["distance_m"].minimum, walk["distance_m"].maximum) == (0, 1000)
    assert (walk["borg_after"].minimum, walk["borg_after"].maximum) == (0, 10)


_BETWEEN = re.compile(r"^(\w+) BETWEEN (-?[\d.]+) AND (-?[\d.]+)$")


def _model_ranges() -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    found = {}
    for name in TABLES:
        table = Base.metadata.tables[f"phms.{name}"]
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint) and str(constraint.name).endswith(
                "_range"
            ):
                match = _BETWEEN.match(str(constraint.sqltext))
                assert match, constraint.sqltext
                found[(table.name, match[1])] = (Decimal(match[2]), Decimal(match[3]))
    return found


def test_models_carry_exactly_the_form_ranges() -> None:
    form = {
        (table, column): (r.minimum, r.maximum)
        for table, columns in ranges.FIELD_RANGES.items()
        for column, r in columns.items()
    }
    assert _model_ranges() == form


@pytest.mark.parametrize("table", sorted(ranges.FIELD_RANGES))
def test_every_ranged_column_exists(table: str) -> None:
    columns = Base.metadata.tables[f"phms.{table}"].c
    assert set(ranges.FIELD_RANGES[table]) <= set(columns.keys())
