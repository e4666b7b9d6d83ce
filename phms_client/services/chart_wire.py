"""The chart's compact wire format: the columns each kind of row carries, the SQL that
writes a row as a compact JSON array, and how the client reads it back.

A clinic's link is slow (a few Mbit/s), so what a chart statement sends matters as
much as how many round trips it takes. Rows as JSON objects repeat every key in every
row, send every null, and write dates and moments as long strings: the 500-record
chart came to 600 kB. Here each kind of row has a fixed column list, kept on the
client (the SQL is built from it, so no name travels), and each row is a JSON array:

- first a bit mask of the columns that have a value (bit *i* = column *i*), then only
  those values, in column order: no key is repeated and no null is sent;
- dates as days since 1970-01-01; moments (``timestamptz``) as seconds since
  1970-01-01 UTC, with the microseconds when there are any; numbers as JSON numbers,
  read back as exact ``Decimal``s (``parse_float=Decimal``), never as binary floats;
- a column may stand for another when equal (``same_as``): ``updated_at`` /
  ``updated_by`` are left out of a row never changed since it was entered.

A decoded row is a dict with every column of its kind (None where the mask says no
value), so the record builders of :mod:`~phms_client.services.chart_assembly` read it
as they read a result row.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Final, Literal

Encoding = Literal["value", "date", "moment", "trimmed"]

#: Day 0 and moment 0 of the wire.
EPOCH_DAY: Final = dt.date(1970, 1, 1)
EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: A mask is a bigint: at most 63 columns a row.
MAX_COLUMNS: Final = 63


@dataclass(frozen=True)
class Column:
    """One column of a kind of row: its name in the decoded row and its SQL."""

    name: str
    sql: str
    encoding: Encoding = "value"
    #: Absent means "the same as this column" (the SQL sends NULLIF(sql, that)).
    same_as: str | None = None

    def encoded(self, by_name: dict[str, Column]) -> str:
        sql = self.sql
        if self.same_as is not None:
            sql = f"NULLIF({sql}, {by_name[self.same_as].sql})"
        if self.encoding == "date":
            return f"{sql}-DATE '1970-01-01'"
        if self.encoding == "moment":
            return f"trim_scale(extract(epoch FROM {sql}))"
        if self.encoding == "trimmed":  # a quotient: 2.0000000000000000 is 2
            return f"trim_scale({sql})"
        return sql


@dataclass(frozen=True)
class RowSpec:
    """The columns of one kind of row, in wire order."""

    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        if len(self.columns) > MAX_COLUMNS:
            raise ValueError(f"a row has at most {MAX_COLUMNS} columns")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names repeat")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def sql(self) -> str:
        """The row as a JSON array: the mask of present columns, then their values.

        Each column is written once (the statement's text travels too, up to the
        server, on a slow link): the values go into an array, and its non-null
        elements make the mask and the row."""
        by_name = {c.name: c for c in self.columns}
        values = ", ".join(f"to_jsonb({c.encoded(by_name)})" for c in self.columns)
        return (
            "(SELECT array_to_json(ARRAY[to_jsonb(bit_or(1::bigint << (i::int - 1)))]"
            f" || array_agg(e ORDER BY i)) FROM unnest(ARRAY[{values}])"
            " WITH ORDINALITY u(e, i) WHERE e IS NOT NULL)"
        )

    def array_sql(self, source: str) -> str:
        """Every row of ``source`` (``FROM … WHERE …``) as one JSON array, as text."""
        return f"(SELECT array_to_json(array_agg({self.sql()})) {source})::text"

    def decode(self, raw: Sequence[Any]) -> dict[str, Any]:
        mask = raw[0]
        values = iter(raw[1:])
        row: dict[str, Any] = {}
        for i, column in enumerate(self.columns):
            row[column.name] = _READ[column.encoding](next(values)) if mask >> i & 1 else None
        for column in self.columns:
            if column.same_as is not None and row[column.name] is None:
                row[column.name] = row[column.same_as]
        return row

    def decode_all(self, text: str | None) -> list[dict[str, Any]]:
        return [self.decode(raw) for raw in parse(text)]


def parse(text: str | None) -> list[Any]:
    """A JSON array from the wire (none: empty); numbers with a fraction as ``Decimal``."""
    return [] if text is None else list(json.loads(text, parse_float=Decimal))


def read_day(value: int) -> dt.date:
    return EPOCH_DAY + dt.timedelta(days=value)


def read_moment(value: int | Decimal) -> dt.datetime:
    """Exact to the microsecond (a float would not be, 10 digits before the point)."""
    whole = int(value)
    micro = int((Decimal(value) - whole) * 1_000_000)
    return EPOCH + dt.timedelta(seconds=whole, microseconds=micro)


_READ: Final[dict[str, Callable[[Any], Any]]] = {
    "value": lambda v: v,
    "date": read_day,
    "moment": read_moment,
    "trimmed": lambda v: v,
}


# ---------------------------------------------------------------- building specs


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _encoding(hint: Any) -> Encoding:
    options = typing.get_args(hint) or (hint,)
    if dt.datetime in options:
        return "moment"
    if dt.date in options:
        return "date"
    return "value"


def columns_of(
    cls: Any, alias: str, *, skip: Iterable[str] = (), trimmed: Iterable[str] = ()
) -> tuple[Column, ...]:
    """A column per field of dataclass ``cls`` (same name in table ``alias``)."""
    hints, skip_, trimmed_ = _hints(cls), set(skip), set(trimmed)
    return tuple(
        Column(
            f.name,
            f"{alias}.{f.name}",
            "trimmed" if f.name in trimmed_ else _encoding(hints[f.name]),
        )
        for f in fields(cls)
        if f.name not in skip_
    )


def stamp_columns(alias: str) -> tuple[Column, ...]:
    """``Stamp``: ``updated_*`` travel only when the row was changed by someone later."""
    return (
        Column("version", f"{alias}.version"),
        Column("created_at", f"{alias}.created_at", "moment"),
        Column("created_by", f"{alias}.created_by"),
        Column("updated_at", f"{alias}.updated_at", "moment", same_as="created_at"),
        Column("updated_by", f"{alias}.updated_by", same_as="created_by"),
    )


__all__ = [
    "Column",
    "RowSpec",
    "columns_of",
    "parse",
    "read_day",
    "read_moment",
    "stamp_columns",
]
