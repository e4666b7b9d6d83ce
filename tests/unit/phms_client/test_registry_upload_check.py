"""The upload's pre-check: the registry's k, computed here, batch by batch (no database).

Cohorts are built to be re-identifiable (one patient per birth year, a lone
outlier), generalised by the export's own ladder, planned against what the
registry acknowledged and checked as the registry will judge them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phms_client.services import registry_upload_check as pre
from phms_client.services.registry_export import RegistryExport, RegistryPatient, RegistryRecord
from phms_client.services.registry_privacy import NotAnonymous, protect, quasi_identifiers
from phms_client.services.registry_upload import documents, patient_hash, plan_against
from phms_schema.anonymity import generalise
from phms_schema.registry_anonymity import Held, after_batch, judge

FIRST_SEEN = dt.date(2024, 3, 1)


def patient(n: int, year: int, sex: str = "female", group: int | None = 1,
            subtype: str | None = None, first_seen: dt.date | None = FIRST_SEEN
            ) -> RegistryPatient:  # fmt: skip
    records = ()
    if first_seen is not None:
        records = (RegistryRecord("assessment", 1, first_seen, MappingProxyType({"who_fc": 3})),)
    return RegistryPatient(f"{n:064x}", year, sex, group, subtype, "active", None, records)


def export_of(
    cohort: list[RegistryPatient], min_k: int, *, exact_dates: bool = True, at_least: int = 1
) -> RegistryExport:
    out, outcome = protect(
        cohort, min_k=min_k, exact_dates=exact_dates, birth_band_at_least=at_least
    )
    return RegistryExport("RBH", dt.date(2025, 1, 2), True, not exact_dates, tuple(out), outcome)


def acknowledged(export: RegistryExport) -> dict[str, str]:
    """The hashes the registry acknowledged once all of ``export`` was sent."""
    return {d["patient_key"]: patient_hash(d) for d in documents(export)}


def situation(min_k: int, threshold: int | None = None, **kw: bool) -> pre.Situation:
    return pre.Situation(min_k, threshold, kw.get("ph_only", True), kw.get("dates_shifted", False))


def test_groups_stay_whole_and_removals_come_last() -> None:
    # Groups of 3, 1 and 1 (k=1 asked) and two removals, at most two per batch: the group
    # of three travels whole (one batch of three), then the two singles, then the removals.
    cohort = [patient(i, 1950) for i in range(3)] + [patient(3, 1960), patient(4, 1961)]
    export = export_of(cohort, 1)
    plan = plan_against(export, {"a" * 64: "0" * 64, "b" * 64: "0" * 64})
    chunks = pre.linked_chunks(plan, {}, 2)
    assert [len(c) for c in chunks] == [3, 2, 2]
    assert [kind for kind, _ in chunks[-1]] == ["removed", "removed"]
    assert len(pre.linked_chunks(plan, {}, 500)) == 1


def test_a_patient_changing_group_travels_with_both_groups() -> None:
    # The registry holds two groups of two (1950 and 1960). Patient 1's birth date is
    # corrected to 1960: sent alone, the 1950 group would shrink to one. Their old group
    # and their new one are linked, so the batch holds both; a third group is not.
    held = {f"{i:064x}": Held(y, 1, "female", 1, None, 2024) for i, y in
            enumerate([1950, 1950, 1960, 1960])}  # fmt: skip
    held[f"{9:064x}"] = Held(1970, 1, "female", 1, None, 2024)
    held[f"{8:064x}"] = Held(1970, 1, "female", 1, None, 2024)
    cohort = [patient(0, 1950), patient(1, 1960), patient(2, 1960), patient(3, 1960),
              patient(4, 1950), patient(8, 1970, first_seen=dt.date(2023, 1, 1)),
              patient(9, 1970, first_seen=dt.date(2023, 1, 1))]  # fmt: skip
    export = export_of(cohort, 2)
    known = {k: "0" * 64 for k in held}  # everything differs from what was acknowledged
    plan = plan_against(export, known)
    chunks = pre.linked_chunks(plan, held, 1)
    keys = [sorted(int(d["patient_key"], 16) for _k, d in c) for c in chunks]
    assert [0, 1, 2, 3, 4] in keys  # linked through the old 1950 and the new 1960 group
    assert [8, 9] in keys
    result = pre.check(plan, held, situation=situation(2, 2), batch_size=1)
    assert result.final.ok and not result.merged
    assert all(v.ok for v in pre.simulate(plan, held, result.chunks, 2))


def test_a_registry_cohort_short_in_between_gets_one_batch() -> None:
    # The registry holds a lone patient (sent before its threshold was raised). Today the
    # cohort is k=2 at 5-year bands; sent group by group, the lone old row would still
    # stand alone after the first batch. Everything goes in one batch.
    lone = f"{7:064x}"
    held = {lone: Held(1972, 1, "male", 4, None, None)}
    cohort = [patient(7, 1972, "male", 4), patient(6, 1974, "male", 4),
              patient(1, 1950), patient(2, 1951)]  # fmt: skip
    export = export_of(cohort, 2, exact_dates=False)
    plan = plan_against(export, {lone: "0" * 64})
    result = pre.check(plan, held, situation=situation(2, 2), batch_size=2)
    assert result.merged and len(result.chunks) == 1
    assert result.final.k == 2


def test_refused_locally_when_the_registry_would_refuse() -> None:
    # min_k 2 in the configuration, the registry needs 3: the ladder stops at k=2, and
    # the check, judging as the registry will, refuses and says what to do.
    cohort = [patient(i, 1950 + i // 2) for i in range(6)]
    export = export_of(cohort, 2)
    plan = plan_against(export, {})
    with pytest.raises(pre.NotSent) as refused:
        pre.check(plan, {}, situation=situation(2, 3), batch_size=500)
    message = str(refused.value)
    assert message.startswith("Nothing was sent")
    assert "among at least 3" in message and "6 of its 6 would not be (k=2)" in message
    assert "Too rare: born 1950, female, PH group 1, diagnosed 2024 (2 patients)" in message
    assert "remove min_k = 2" in message and 'patients = "all"' in message
    assert "shift_dates = true" in message and "wait until more patients" in message


def test_the_ladder_refusal_names_what_is_too_rare() -> None:
    cohort = [patient(i, 1950, first_seen=dt.date(2024, 1, 1)) for i in range(4)]
    cohort.append(patient(9, 1990, "male", 4, first_seen=dt.date(2019, 5, 1)))
    with pytest.raises(NotAnonymous) as exc:
        export_of(cohort, 2)
    sent = pre.not_anonymous(exc.value, situation(2, 2, ph_only=False))
    message = str(sent)
    assert "even with birth year in 10-year bands, 1 of 5 patients share" in message
    assert "Too rare: born 1990-1999, male, PH group 4, diagnosed 2019 (1 patient)" in message
    assert 'patients = "all"' not in message  # already all
    assert "shift_dates = true" in message
    with pytest.raises(NotAnonymous) as few:
        export_of(cohort[:1], 2)
    assert "only 1 patient(s) to send" in str(pre.not_anonymous(few.value, situation(2, 2)))


def test_an_incremental_batch_is_judged_with_the_cohort() -> None:
    # Ten patients, one per year: 5-year bands make k=5. One patient gets a new record;
    # the batch holds that one patient, yet the registry (and so the check) judges the
    # whole cohort: k=5, not 1.
    cohort = [patient(i, 1950 + i) for i in range(10)]
    export = export_of(cohort, 5)
    first = plan_against(export, {})
    held = {k: first.written[k] for k in first.written}
    cohort[3] = patient(3, 1953, first_seen=dt.date(2024, 1, 5))
    changed = export_of(cohort, 5)
    plan = plan_against(changed, acknowledged(export))
    assert [d["patient_key"] for d in plan.changed] == [f"{3:064x}"]
    assert plan.changed[0]["birth_year"] == "1950-1954"  # the cohort's rung, not the batch's
    result = pre.check(plan, held, situation=situation(5, 5), batch_size=500)
    assert [len(c) for c in result.chunks] == [1]
    assert result.final.k == 5


def test_the_floor_starts_the_ladder_at_that_band() -> None:
    cohort = [patient(i, 1950) for i in range(3)]
    assert {p.birth_year for p in export_of(cohort, 1).patients} == {1950}
    assert {p.birth_year for p in export_of(cohort, 1, at_least=10).patients} == {"1950-1959"}


rows = st.lists(
    st.tuples(
        st.integers(1930, 2005),
        st.sampled_from(["female", "male"]),
        st.one_of(st.none(), st.integers(1, 5)),
        st.one_of(st.none(), st.sampled_from(["idiopathic", "heritable"])),
        st.one_of(st.none(), st.dates(dt.date(2005, 1, 1), dt.date(2026, 1, 1))),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(cohort=rows, min_k=st.integers(1, 5), exact_dates=st.booleans())
def test_the_registry_k_equals_the_ladder_k(
    cohort: list[tuple[int, str, int | None, str | None, dt.date | None]],
    min_k: int,
    exact_dates: bool,
) -> None:
    patients = [patient(n, *row) for n, row in enumerate(cohort)]
    try:
        export = export_of(patients, min_k, exact_dates=exact_dates)
    except NotAnonymous:
        return
    plan = plan_against(export, {})
    # The registry's computation on the documents as sent, over the cohort it then holds ...
    registry = judge(after_batch({}, dict(plan.written), ()).values(), min_k)
    assert registry.k == plan.anonymity.k and registry.ok
    # ... in groups exactly the ladder's, key for key.
    level = export.anonymity.level
    ladder = Counter(
        generalise(quasi_identifiers(p, exact_dates=exact_dates), level) for p in patients
    )
    assert Counter(h.key() for h in plan.written.values()) == ladder
