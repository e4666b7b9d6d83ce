"""What the registry export writes is k-anonymous whenever it writes anything (property)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phms_client.services.registry_export import RegistryPatient, RegistryRecord
from phms_client.services.registry_privacy import NotAnonymous, protect


def patient(n: int, year: int, sex: str, group: int | None, subtype: str | None,
            first_seen: dt.date | None) -> RegistryPatient:  # fmt: skip
    records = ()
    if first_seen is not None:
        records = (RegistryRecord("assessment", 1, first_seen, MappingProxyType({})),)
    return RegistryPatient(f"{n:064x}", year, sex, group, subtype, "active", None, records)


patients = st.lists(
    st.tuples(
        st.integers(1930, 2005),
        st.sampled_from(["female", "male"]),
        st.one_of(st.none(), st.integers(1, 5)),
        st.one_of(st.none(), st.sampled_from(["idiopathic", "heritable"])),
        st.one_of(st.none(), st.dates(dt.date(2005, 1, 1), dt.date(2026, 1, 1))),
    ),
    max_size=40,
)


def written(p: RegistryPatient, exact_dates: bool) -> tuple[object, ...]:
    first = min((r.date.year for r in p.records if r.record_type == "assessment"), default=None)
    return (p.birth_year, p.sex, p.ph_group, p.ph_subtype, first if exact_dates else None)


@settings(max_examples=200, deadline=None)
@given(rows=patients, min_k=st.integers(1, 6), exact_dates=st.booleans())
def test_every_written_patient_is_among_k(
    rows: list[tuple[int, str, int | None, str | None, dt.date | None]],
    min_k: int,
    exact_dates: bool,
) -> None:
    cohort = [patient(n, *row) for n, row in enumerate(rows)]
    try:
        out, outcome = protect(cohort, min_k=min_k, exact_dates=exact_dates)
    except NotAnonymous as refused:
        assert str(refused)  # a reason, never an empty refusal
        return
    assert len(out) == len(cohort)  # nobody dropped
    assert [p.patient_key for p in out] == [p.patient_key for p in cohort]
    assert [p.records for p in out] == [p.records for p in cohort]  # the data untouched
    groups = Counter(written(p, exact_dates) for p in out)
    assert all(n >= min_k for n in groups.values())
    if cohort:
        assert outcome.k == min(groups.values())


def test_banded_years_and_dropped_subtypes_are_what_is_written() -> None:
    cohort = [
        patient(i, 1950 + i, "female", 1, f"s{i % 2}", dt.date(2020, 1, 1)) for i in range(10)
    ]
    out, outcome = protect(cohort, min_k=5, exact_dates=False)
    assert {p.birth_year for p in out} == {"1950-1954", "1955-1959"}
    assert {p.ph_subtype for p in out} == {None}
    assert outcome.generalised == ["birth year in 5-year bands", "PH group without subtype"]


def test_exact_dates_never_band_the_year_of_diagnosis() -> None:
    # Same person-level values, diagnosed in five different years: with exact dates the
    # record dates show the year, so only a refusal is honest.
    cohort = [patient(i, 1950, "female", 1, None, dt.date(2010 + i, 3, 1)) for i in range(5)]
    with pytest.raises(NotAnonymous, match="5 of 5 patients"):
        protect(cohort, min_k=5, exact_dates=True)
    out, outcome = protect(cohort, min_k=5, exact_dates=False)
    assert outcome.k == 5 and outcome.generalised == [] and out == cohort
