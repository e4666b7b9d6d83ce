"""Tabular results (statistical reports) and their CSV and XLSX files (no Qt)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Table", "to_csv", "to_xlsx"]

Cell = str | int | Decimal | float | dt.date | None


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def to_csv(tables: Sequence[Table]) -> bytes:
    """All tables in one CSV (UTF-8 with BOM so spreadsheet programs get the accents):
    a title line, the header, the rows, and an empty line between tables."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for i, table in enumerate(tables):
        if i:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.headers)
        writer.writerows([_text(v) for v in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join("_" if c in "[]:*?/\\" else c for c in title)[:28] or "Sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[:25]} {n}"
    used.add(name.lower())
    return name


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One worksheet per table (openpyxl); numbers stay numbers, dates stay dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    default = book.active
    used: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, used))
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append(list(table.headers))
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_xlsx_value(v) for v in row])
        for column, header in enumerate(table.headers, start=1):
            width = max([len(header)] + [len(_text(r[column - 1])) for r in table.rows])
            sheet.column_dimensions[sheet.cell(2, column).column_letter].width = min(60, width + 2)
    if default is not None and tables:
        book.remove(default)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: Cell) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value
