from __future__ import annotations

import datetime as dt

import pytest

from phms_client.clinical.demographics import (
    DemographicsEntry,
    age_on,
    check_demographics,
    describe_format,
    format_day,
    parse_day,
    ph_group_label,
)
from phms_client.clinical.patient_id import PatientIdFormat

TODAY = dt.date(2026, 11, 24)
FMT = PatientIdFormat()


@pytest.mark.parametrize(
    "text",
    ["17.05.1960", "17/05/1960", "17-05-1960", "1960-05-17", "17 May 1960", "17 may 1960",
     "17051960", " 17.5.1960 "],
)  # fmt: skip
def test_parse_day_accepts_day_first_forms(text: str) -> None:
    assert parse_day(text) == dt.date(1960, 5, 17)


@pytest.mark.parametrize("text", ["", "31.02.1960", "1960", "17.05", "yesterday", "170560"])
def test_parse_day_rejects(text: str) -> None:
    assert parse_day(text) is None


def test_format_day_and_age() -> None:
    assert format_day(dt.date(1901, 2, 3)) == "03.02.1901"
    assert format_day(None) == ""
    assert parse_day(format_day(dt.date(1999, 12, 31))) == dt.date(1999, 12, 31)
    assert age_on(dt.date(1960, 11, 25), TODAY) == 65
    assert age_on(dt.date(1960, 11, 24), TODAY) == 66
    assert ph_group_label(4).startswith("Group 4 — ")
    assert ph_group_label(None) == "Not diagnosed"


def entry(**changes: object) -> DemographicsEntry:
    values: dict[str, object] = {
        "patient_code": "12345678",
        "family_name": "  Núñez  ",
        "given_name": "José  María",
        "sex": "male",
        "birth_date": "3.2.1951",
        "phone": " ",
        "ph_group": 1,
        "ph_subtype": "idiopathic",
    }
    values.update(changes)
    return DemographicsEntry(**values)  # type: ignore[arg-type]


def test_valid_entry_is_normalised() -> None:
    checked = check_demographics(entry(), FMT, TODAY)
    assert checked.ok
    assert dict(checked.values) == {
        "patient_code": "1234567-8",
        "family_name": "Núñez",
        "given_name": "José María",
        "sex": "male",
        "birth_date": dt.date(1951, 2, 3),
        "phone": None,
        "email": None,
        "address": None,
        "ph_group": 1,
        "ph_subtype": "idiopathic",
        "status": "active",
        "deceased_date": None,
    }


def test_other_id_formats() -> None:
    fmt = PatientIdFormat("AA-NNNN")
    assert check_demographics(entry(patient_code="ab1234"), fmt, TODAY).values["patient_code"] == (
        "AB-1234"
    )
    checked = check_demographics(entry(patient_code="1234"), fmt, TODAY)
    assert checked.errors["patient_code"] == "“1234” is not a valid patient ID (format AA-NNNN)."
    assert describe_format(fmt).startswith("Format AA-NNNN: N is a digit, A is a capital letter")
    assert describe_format(FMT).startswith("Format NNNNNNN-N: N is a digit, e.g. ")


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"patient_code": ""}, "patient_code", "Enter the patient ID"),
        ({"family_name": " "}, "family_name", "Enter the family name."),
        ({"sex": ""}, "sex", "Choose the sex"),
        ({"birth_date": ""}, "birth_date", "Enter the date of birth"),
        ({"birth_date": "25.11.2026"}, "birth_date", "cannot be in the future"),
        ({"birth_date": "31.12.1879"}, "birth_date", "01.01.1880 or later"),
        ({"status": "deceased", "deceased_date": "1.1.1950"}, "deceased_date", "before the date"),
        ({"deceased_date": "1.1.2020"}, "deceased_date", "only be entered when"),
        ({"status": "deceased", "deceased_date": "x"}, "deceased_date", "“x” is not a date"),
        ({"email": "a@b"}, "email", "email address"),
        ({"phone": "+++"}, "phone", "phone number"),
        ({"ph_group": 6}, "ph_group", "1 to 5"),
        ({"ph_group": None}, "ph_subtype", "PH group first"),
        ({"status": "gone"}, "status", "Choose the status."),
    ],
)
def test_each_rule_has_its_message(changes: dict[str, object], field: str, fragment: str) -> None:
    checked = check_demographics(entry(**changes), FMT, TODAY)
    assert list(checked.errors) == [field]
    assert fragment in checked.errors[field]


def test_deceased_today_and_born_today_are_fine() -> None:
    checked = check_demographics(
        entry(birth_date="24.11.2026", status="deceased", deceased_date="24.11.2026"), FMT, TODAY
    )
    assert checked.ok and checked.values["deceased_date"] == TODAY
