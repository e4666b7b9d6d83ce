"""Input limits checked by the client before sending (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from phms_client.db.errors import ErrorKind, InvalidInput, classify, refused_constraint
from phms_client.services import input_rules
from phms_client.services.preferences import SettingValueError, check_text_list
from phms_schema import ddl_limits, limits


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Nowak", None),
        ("Žukauskaitė", None),
        ("عمر", None),
        ("  ", None),  # blank: "missing" is the form's message
        ("\u200f", "The family name must contain at least one letter."),
        ("\u200b\u200f", "The family name must contain at least one letter."),
        ("12", "The family name must contain at least one letter."),
        ("N" * 101, "The family name is too long (at most 100 characters)."),
        ("No\x00wak", "NUL character"),
        ("No\nwak", "control characters"),
        ("No\twak", "control characters"),
        ("No\x85wak", "control characters"),
    ],
)
def test_name_problems(text: str, problem: str | None) -> None:
    found = input_rules.text_problem("patient", "family_name", text)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_multi_line_texts_keep_line_breaks_and_tabs() -> None:
    assert input_rules.text_problem("patient", "address", "1 Road\n\tLondon") is None
    assert "line breaks" in (input_rules.text_problem("patient", "address", "a\x1bb") or "")
    assert input_rules.clean_text("a\r\nb\rc") == "a\nb\nc"


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"email": "a@b"}, "ck_patient_email_shape"),
        ({"phone": "call me"}, "ck_patient_phone_shape"),
        ({"family_name": "x" * 101}, "ck_patient_family_name_length"),
        ({"given_name": "\u200f"}, "ck_patient_given_name_has_letter"),
        ({"address": "\x07"}, "ck_patient_address_characters"),
    ],
)
def test_check_row_names_the_rule(values: dict[str, object], constraint: str) -> None:
    with pytest.raises(InvalidInput) as info:
        input_rules.check_row("patient", values)
    assert info.value.constraint == constraint
    assert refused_constraint(info.value) == constraint
    error = classify(info.value)
    assert error.kind is ErrorKind.INVALID_VALUE and error.title == "Value not accepted"
    assert input_rules.CONSTRAINT_MESSAGES[constraint] in error.message


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("medication", {"started_on": dt.date(1, 1, 1)}),
        ("medication", {"stopped_on": dt.date(9999, 12, 31)}),
        ("appointment", {"starts_at": dt.datetime(9999, 12, 31, tzinfo=dt.UTC)}),
        ("assessment", {"study_date": dt.date(1899, 12, 31)}),
        ("assessment", {"height_cm": Decimal("1e30")}),
        ("assessment", {"height_cm": Decimal("NaN")}),
        ("assessment", {"height_cm": Decimal("-Infinity")}),
        ("six_minute_walk", {"distance_m": Decimal("1e-1000")}),
        ("vasodilator_step", {"dose": Decimal("0.0001")}),
    ],
)
def test_dates_and_numbers_out_of_bounds(table: str, values: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        input_rules.check_row(table, values)


def test_plausible_values_pass() -> None:
    input_rules.check_row(
        "assessment", {"height_cm": Decimal("172.5"), "study_date": dt.date.today()}
    )
    input_rules.check_row("appointment", {"starts_at": dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC)})


def test_search_is_capped() -> None:
    assert input_rules.cap_search("x" * 1_000_000) == "x" * limits.MAX_SEARCH


def test_a_nul_refused_by_psycopg_reads_clearly() -> None:
    error = classify(psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    assert error.kind is ErrorKind.INVALID_VALUE
    assert "NUL character" in error.message


def test_every_constraint_of_0011_has_a_sentence() -> None:
    names = {n for t in ddl_limits.checked_tables() for n in ddl_limits.constraint_names(t)}
    assert names <= set(input_rules.CONSTRAINT_MESSAGES)
    assert all(len(n) <= 63 for n in names)  # PostgreSQL's identifier limit


def test_list_settings_refuse_long_or_control_entries() -> None:
    check = check_text_list("appointment_kinds", "Appointment kinds")
    assert check(["followup", "consultation"]) == ["followup", "consultation"]
    with pytest.raises(SettingValueError, match="too long"):
        check(["x" * 101])
    with pytest.raises(SettingValueError, match="control characters"):
        check(["follow\x1bup"])


def test_a_value_too_big_for_an_index_reads_clearly() -> None:
    exc = psycopg.errors.ProgramLimitExceeded("index row size 3000 exceeds btree maximum")
    error = classify(exc)
    assert error.kind is ErrorKind.INVALID_VALUE
    assert "too long for the database" in error.message
