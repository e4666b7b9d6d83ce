"""k-anonymity and the generalisation ladder, on cohorts built to be re-identifiable."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phms_schema.anonymity import (
    LADDER,
    NotAnonymous,
    QuasiIdentifiers,
    anonymise,
    band,
    describe_key,
    generalise,
    k_anonymity,
    rare_groups,
    smallest_group,
)


def q(year: int, sex: str = "female", group: int | None = 1, subtype: str | None = None,
      diagnosis: int | None = None, postcode: str | None = None) -> QuasiIdentifiers:  # fmt: skip
    return QuasiIdentifiers(year, sex, group, subtype, diagnosis, postcode)


def test_band() -> None:
    assert band(1957, 1) == 1957
    assert band(1957, 5) == "1955-1959"
    assert band(1960, 5) == "1960-1964"
    assert band(1969, 10) == "1960-1969"


def test_k_counts_the_smallest_group() -> None:
    rows = [q(1950), q(1950), q(1950), q(1951)]
    assert k_anonymity(rows) == 1
    assert k_anonymity(rows, LADDER[2]) == 4  # both in 1950-1954
    assert k_anonymity([]) == 0


def test_everyone_unique_by_birth_year_is_banded() -> None:
    # Ten women in PH group 1, born one per year 1950-1959: each unique by year.
    rows = [q(1950 + i) for i in range(10)]
    assert k_anonymity(rows) == 1
    outcome = anonymise(rows, 5)
    assert outcome.k == 5 and outcome.k_exact == 1 and outcome.unique_before == 10
    assert outcome.generalised == ["birth year in 5-year bands"]
    assert "k-anonymity 5" in outcome.summary() and "5-year bands" in outcome.summary()


def test_subtype_is_dropped_when_bands_are_not_enough() -> None:
    # Five people in one band, but each with a different subtype.
    rows = [q(1950 + i, subtype=f"s{i}") for i in range(5)]
    outcome = anonymise(rows, 5)
    assert outcome.generalised == ["birth year in 5-year bands", "PH group without subtype"]
    assert k_anonymity(rows, outcome.level) == 5


def test_ten_year_bands_as_the_last_step() -> None:
    rows = [q(1950 + 2 * i, diagnosis=2012 + i) for i in range(5)]  # across bands
    outcome = anonymise(rows, 5)
    assert "birth year in 10-year bands" in outcome.generalised
    assert "year of diagnosis in 10-year bands" in outcome.generalised
    assert outcome.k == 5


def test_postcode_is_cut_then_dropped() -> None:
    rows = [q(1950, postcode=f"AB{i} 1XY") for i in range(5)]
    outcome = anonymise(rows, 5)
    assert outcome.generalised == ["postcode cut to 2 characters"]
    assert {generalise(r, outcome.level)[5] for r in rows} == {"AB"}


def test_nothing_generalised_when_already_anonymous() -> None:
    rows = [q(1950)] * 6
    outcome = anonymise(rows, 5)
    assert outcome.level == LADDER[0] and outcome.generalised == [] and outcome.k == 6
    assert "nothing generalised" in outcome.summary()


def test_absent_fields_are_not_said_to_be_generalised() -> None:
    rows = [q(1950 + i) for i in range(5)]
    assert "postcode" not in " ".join(anonymise(rows, 5).generalised)


def test_a_lone_outlier_refuses_with_the_reason() -> None:
    # Nine similar patients and one man in group 4: no rung hides him, and he is not dropped.
    rows = [q(1950 + i % 5) for i in range(9)] + [q(1990, sex="male", group=4)]
    with pytest.raises(NotAnonymous) as refused:
        anonymise(rows, 5)
    message = str(refused.value)
    assert "1 of 10 patients" in message and "smaller than 5" in message
    assert "10-year bands" in message and "--min-k" in message
    # What the upload needs to say more: the rung tried and the groups still too small.
    assert refused.value.level == LADDER[-1] and refused.value.patients == 10
    assert refused.value.rare == [(("1990-1999", "male", 4, None, None, None), 1)]
    assert describe_key(refused.value.rare[0][0]) == "born 1990-1999, male, PH group 4"


def test_smallest_group_and_rare_groups_count_written_keys() -> None:
    keys = [("1950-1954", "female", 1), ("1950-1954", "female", 1), ("1960", "male", None)]
    assert smallest_group(keys) == 1 and smallest_group([]) == 0
    assert rare_groups(keys, 2) == [(("1960", "male", None), 1)]
    assert rare_groups(keys, 3) == [(("1960", "male", None), 1), (keys[0], 2)]
    full = (1962, "other", None, "heritable", 2019, "AB")
    assert describe_key(full) == (
        "born 1962, other, no PH group, subtype heritable, diagnosed 2019, postcode AB…"
    )


def test_too_few_patients_refuses() -> None:
    with pytest.raises(NotAnonymous, match="Only 3 patients"):
        anonymise([q(1950)] * 3, 5)


def test_no_rows_and_k_one() -> None:
    assert anonymise([], 5).k == 0
    rows = [q(1950 + i) for i in range(3)]
    assert anonymise(rows, 1).generalised == []
    with pytest.raises(ValueError, match="at least 1"):
        anonymise(rows, 0)


rows_strategy = st.lists(
    st.builds(
        QuasiIdentifiers,
        birth_year=st.integers(1920, 2010),
        sex=st.sampled_from(["female", "male", "other", "unknown"]),
        ph_group=st.one_of(st.none(), st.integers(1, 5)),
        ph_subtype=st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
        diagnosis_year=st.one_of(st.none(), st.integers(1990, 2026)),
        postcode=st.one_of(st.none(), st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}")),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(rows=rows_strategy, min_k=st.integers(1, 8))
def test_when_it_succeeds_every_row_is_in_a_group_of_k(
    rows: list[QuasiIdentifiers], min_k: int
) -> None:
    try:
        outcome = anonymise(rows, min_k)
    except NotAnonymous:
        # Refused only when even the coarsest rung leaves a small group.
        assert len(rows) < min_k or k_anonymity(rows, LADDER[-1]) < min_k
        return
    groups = Counter(generalise(r, outcome.level) for r in rows)
    assert all(n >= min_k for n in groups.values())
    assert outcome.k == min(groups.values(), default=0)
    # The first rung that is enough: the one before it was not.
    index = LADDER.index(outcome.level)
    if index and rows:
        assert k_anonymity(rows, LADDER[index - 1]) < min_k
