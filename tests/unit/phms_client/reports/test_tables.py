"""Statistical results as CSV and XLSX, read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from openpyxl import load_workbook

from phms_client.reports.tables import Table, to_csv, to_xlsx

TABLES = (
    Table("By PH group", ("PH group", "Patients", "%"), (("Group 1 — PAH", 3, Decimal("75")),)),
    Table(
        "6MWD by year",
        ("year", "mean_m", "first"),
        ((2024, Decimal("412.5"), dt.date(2024, 1, 3)), (2025, None, None)),
    ),
)


def test_csv() -> None:
    data = to_csv(TABLES)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets then read UTF-8 accents
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["By PH group"],
        ["PH group", "Patients", "%"],
        ["Group 1 — PAH", "3", "75"],
        [],
        ["6MWD by year"],
        ["year", "mean_m", "first"],
        ["2024", "412.5", "2024-01-03"],
        ["2025", "", ""],
    ]


def test_xlsx_has_one_sheet_per_table_with_real_numbers() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(TABLES)))
    assert book.sheetnames == ["By PH group", "6MWD by year"]
    sheet = book["6MWD by year"]
    assert sheet["A1"].value == "6MWD by year"
    assert [c.value for c in sheet[2]] == ["year", "mean_m", "first"]
    assert sheet["B3"].value == 412.5 and isinstance(sheet["B3"].value, float)
    assert sheet["C3"].value == dt.datetime(2024, 1, 3)
    assert book["By PH group"]["A3"].value == "Group 1 — PAH"
