"""k over a hospital's cohort as the registry holds it: one computation for both sides.

The registry judges re-identification over **everything it holds from one
hospital after applying a batch**, not over the batch alone: an incremental
batch of one changed patient is small, but that patient lands among all the
hospital's others, and a patient who leaves a group (removed, or now written
differently) leaves the others of that group fewer. The sender runs the very same
computation before sending (``phms_client.services.registry_upload_check``), on
the cohort the registry says it holds and on its own batches, so that a batch
the registry would refuse is never sent.

A patient's quasi-identifiers as held (:class:`Held`): the birth year as written
(the first year and the width of its band), sex, PH group, the PH subtype as
written (``None`` when the sender withheld it), and the year of diagnosis (the
year of the first assessment record) only when the batch's dates are exact
(shifted dates blur it by up to half a year). Their key is the one
``phms_schema.anonymity.generalise`` gives at the rung they were written at, so
a cohort written at one rung has exactly the k that the sender's ladder
computed for it, and k itself is :func:`phms_schema.anonymity.smallest_group`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from phms_schema.anonymity import (
    Generalisation,
    Key,
    QuasiIdentifiers,
    describe_key,
    generalise,
    rare_groups,
    smallest_group,
)
from phms_schema.registry_format import (
    BIRTH_YEAR_BANDS,
    LEGACY_BATCH_FORMAT,
    SEXES,
    declared_generalisation,
    parse_birth_year,
)

__all__ = [
    "QUASI_IDENTIFIERS",
    "Held",
    "Judgement",
    "after_batch",
    "diagnosis_year",
    "held_in_batch",
    "held_of",
    "judge",
]

#: In words, for messages.
QUASI_IDENTIFIERS: Final = (
    "birth year, sex, PH group and subtype (and the year of diagnosis when dates are exact)"
)


@dataclass(frozen=True)
class Held:
    """One patient's quasi-identifiers as written to (and stored by) the registry."""

    #: First year of the band (the year itself for a band of 1).
    birth_year: int
    birth_year_band: int
    sex: str
    ph_group: int | None
    ph_subtype: str | None
    #: Year of the first assessment; ``None`` with shifted dates or no assessment.
    diagnosis_year: int | None

    def key(self) -> Key:
        row = QuasiIdentifiers(
            self.birth_year, self.sex, self.ph_group, self.ph_subtype, self.diagnosis_year
        )
        return generalise(row, Generalisation(birth_band=self.birth_year_band))

    def as_json(self) -> dict[str, Any]:
        return {
            "birth_year": self.birth_year,
            "birth_year_band": self.birth_year_band,
            "sex": self.sex,
            "ph_group": self.ph_group,
            "ph_subtype": self.ph_subtype,
            "diagnosis_year": self.diagnosis_year,
        }

    @classmethod
    def from_json(cls, value: Any) -> Held:
        """The inverse of :meth:`as_json`; ValueError when ``value`` is not one."""
        if not isinstance(value, Mapping):
            raise ValueError("expected an object")
        band, year = value.get("birth_year_band"), value.get("birth_year")
        group, subtype, diag = (
            value.get("ph_group"),
            value.get("ph_subtype"),
            value.get("diagnosis_year"),
        )
        if not isinstance(year, int) or band not in BIRTH_YEAR_BANDS:
            raise ValueError("not the quasi-identifiers of a patient")
        if (
            isinstance(year, bool)
            or year % band
            or value.get("sex") not in SEXES
            or not (group is None or _whole(group))
            or not (diag is None or _whole(diag))
            or not (subtype is None or isinstance(subtype, str))
        ):
            raise ValueError("not the quasi-identifiers of a patient")
        return cls(year, band, value["sex"], group, subtype, diag)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def diagnosis_year(records: Iterable[Mapping[str, Any]], *, dates_shifted: bool) -> int | None:
    """The year of a patient's first assessment record, counted only with exact dates."""
    if dates_shifted:
        return None
    days = [dt.date.fromisoformat(r["date"]) for r in records if r.get("type") == "assessment"]
    return min(days).year if days else None


def held_of(
    patient: Mapping[str, Any], *, birth_year_band: int, dates_shifted: bool, legacy: bool = False
) -> Held:
    """The quasi-identifiers of one patient document written at ``birth_year_band``
    (``legacy``: the previous format, the birth year as the first year of its band)."""
    year = patient["birth_year"]
    return Held(
        int(year) if legacy else parse_birth_year(year, birth_year_band),
        birth_year_band,
        patient["sex"],
        patient["ph_group"],
        patient["ph_subtype"],
        diagnosis_year(patient["records"], dates_shifted=dates_shifted),
    )


def held_in_batch(body: Mapping[str, Any]) -> dict[str, Held]:
    """Patient key -> quasi-identifiers of every patient of a *validated* batch, of
    either accepted version."""
    band, _kept = declared_generalisation(body)
    legacy = body["format"] == LEGACY_BATCH_FORMAT
    shifted = bool(body["dates_shifted"])
    return {
        p["patient_key"]: held_of(p, birth_year_band=band, dates_shifted=shifted, legacy=legacy)
        for p in body["patients"]
    }


def after_batch(
    cohort: Mapping[str, Held], sent: Mapping[str, Held], removed: Iterable[str]
) -> dict[str, Held]:
    """What the registry holds after applying a batch: removed keys gone, sent ones replaced."""
    out = dict(cohort)
    for key in removed:
        out.pop(key, None)
    out.update(sent)
    return out


@dataclass(frozen=True)
class Judgement:
    """k of a cohort against a threshold, and the groups that fall short."""

    k: int
    min_k: int
    patients: int
    #: Groups smaller than ``min_k``: (key, patients), smallest first.
    rare: tuple[tuple[Key, int], ...]

    @property
    def ok(self) -> bool:
        return not self.rare

    @property
    def patients_short(self) -> int:
        return sum(n for _key, n in self.rare)

    def too_rare(self, limit: int = 5) -> str:
        """The smallest groups in words, at most ``limit`` of them."""
        shown = [f"{describe_key(key)} ({n} patient{'s' if n != 1 else ''})" for key, n in
                 self.rare[:limit]]  # fmt: skip
        more = len(self.rare) - len(shown)
        return "; ".join(shown) + (f"; and {more} other group(s)" if more > 0 else "")


def judge(cohort: Iterable[Held], min_k: int) -> Judgement:
    """k of ``cohort`` (0 when empty: nothing to protect) against ``min_k``."""
    keys: Sequence[Key] = [h.key() for h in cohort]
    return Judgement(smallest_group(keys), min_k, len(keys), tuple(rare_groups(keys, min_k)))
