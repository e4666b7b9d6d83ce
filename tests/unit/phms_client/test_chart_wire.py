"""The chart's compact rows: masks, day numbers, exact moments, columns standing for others."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from phms_client.services.chart_wire import (
    Column,
    RowSpec,
    parse,
    read_day,
    read_moment,
    stamp_columns,
)

SPEC = RowSpec(
    (
        Column("id", "a.id"),
        Column("study_date", "a.study_date", "date"),
        Column("who_fc", "a.who_fc"),
        Column("mean_grade", "r.mean_grade", "trimmed"),
        *stamp_columns("a"),
    )
)


def test_days_and_moments_are_exact() -> None:
    assert read_day(0) == dt.date(1970, 1, 1)
    assert read_day(20393) == dt.date(2025, 11, 1)
    assert read_day(10957) == dt.date(2000, 1, 1) and read_day(-1) == dt.date(1969, 12, 31)
    moment = read_moment(Decimal("1761998400.000001"))
    assert moment == dt.datetime(2025, 11, 1, 12, 0, 0, 1, tzinfo=dt.UTC)
    assert read_moment(1761998400) == dt.datetime(2025, 11, 1, 12, tzinfo=dt.UTC)
    # A float would be off by a microsecond here; the wire's Decimal is not.
    late = read_moment(Decimal("4102444799.999999"))
    assert late.microsecond == 999999 and late.second == 59


def test_a_row_is_a_mask_and_the_values_it_names() -> None:
    # id, study_date, mean_grade, version, created_at, created_by: updated_* left out.
    mask = 0b1011 | 0b1110000
    [raw] = parse(f'[[{mask},7,20393,2,1,1761998400.5,"dr_a"]]')
    row = SPEC.decode(raw)
    assert row == {
        "id": 7,
        "study_date": dt.date(2025, 11, 1),
        "who_fc": None,
        "mean_grade": 2,
        "version": 1,
        "created_at": dt.datetime(2025, 11, 1, 12, 0, 0, 500000, tzinfo=dt.UTC),
        "created_by": "dr_a",
        "updated_at": dt.datetime(2025, 11, 1, 12, 0, 0, 500000, tzinfo=dt.UTC),
        "updated_by": "dr_a",
    }
    changed = SPEC.decode([0b111111111, 7, 20393, 3, Decimal("2.5"), 2, 1, "dr_a", 2, "dr_b"])
    assert changed["who_fc"] == 3 and changed["mean_grade"] == Decimal("2.5")
    assert changed["updated_at"] == read_moment(2) and changed["updated_by"] == "dr_b"
    assert SPEC.decode_all(None) == []


def test_the_sql_writes_each_column_once() -> None:
    sql = SPEC.sql()
    assert sql.count("a.who_fc") == 1 and sql.count("a.study_date") == 1
    assert "NULLIF(a.updated_at, a.created_at)" in sql and "trim_scale(r.mean_grade)" in sql
    assert SPEC.array_sql("FROM phms.assessment a").endswith("::text")


def test_specs_are_checked() -> None:
    with pytest.raises(ValueError, match="at most 63"):
        RowSpec(tuple(Column(f"c{i}", f"t.c{i}") for i in range(64)))
    with pytest.raises(ValueError, match="repeat"):
        RowSpec((Column("id", "a.id"), Column("id", "b.id")))
