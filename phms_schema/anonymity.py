"""k-anonymity of a registry extract, and the generalisation that reaches it.

Pure functions (no database, no Qt): the site's export measures itself with
them before writing, and a registry receiving extracts can check a batch with
the same code.

A row's *quasi-identifiers* are the fields that, combined, could pick a
patient out to somebody who knows them from elsewhere: birth year, sex, PH
group and subtype, year of diagnosis and the first characters of a postcode
(the last two only when the extract carries them). The extract is
*k-anonymous* when every combination that occurs is shared by at least k rows.

Generalisation is global: one rung of :data:`LADDER` applies to every row, so
a band means the same in every row of the extract. The ladder coarsens what
matters least for research first and never removes a row: when even the last
rung leaves a group smaller than k, :func:`anonymise` refuses and says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_MIN_K",
    "FIELDS",
    "LADDER",
    "Generalisation",
    "NotAnonymous",
    "Outcome",
    "QuasiIdentifiers",
    "anonymise",
    "band",
    "describe_key",
    "generalise",
    "k_anonymity",
    "present_fields",
    "rare_groups",
    "smallest_group",
]

DEFAULT_MIN_K: Final = 5
#: The quasi-identifiers, as named in summaries.
FIELDS: Final = ("birth_year", "sex", "ph_group", "ph_subtype", "diagnosis_year", "postcode")


@dataclass(frozen=True)
class QuasiIdentifiers:
    birth_year: int
    sex: str
    ph_group: int | None
    ph_subtype: str | None
    #: ``None`` when the extract does not carry it (or the patient has none).
    diagnosis_year: int | None = None
    #: Only the first characters are ever used; ``None`` when absent.
    postcode: str | None = None


@dataclass(frozen=True)
class Generalisation:
    """One rung: how coarse each quasi-identifier is written."""

    #: Width of the birth-year band in years (1 = the exact year).
    birth_band: int = 1
    keep_subtype: bool = True
    diagnosis_band: int = 1
    #: Characters of the postcode kept (0 = none).
    postcode_chars: int = 3

    def describe(self, present: frozenset[str] = frozenset(FIELDS)) -> list[str]:
        """What this rung changes in fields that are ``present``, in words."""
        out = []
        if self.birth_band > 1:
            out.append(f"birth year in {self.birth_band}-year bands")
        if not self.keep_subtype and "ph_subtype" in present:
            out.append("PH group without subtype")
        if self.diagnosis_band > 1 and "diagnosis_year" in present:
            out.append(f"year of diagnosis in {self.diagnosis_band}-year bands")
        if self.postcode_chars < 3 and "postcode" in present:
            out.append(
                f"postcode cut to {self.postcode_chars} characters"
                if self.postcode_chars
                else "postcode left out"
            )
        return out


#: From exact to the coarsest the registry still finds useful. Each rung keeps
#: everything the previous one generalised.
LADDER: Final[tuple[Generalisation, ...]] = (
    Generalisation(),
    Generalisation(postcode_chars=2),
    Generalisation(birth_band=5, postcode_chars=2),
    Generalisation(birth_band=5, keep_subtype=False, postcode_chars=2),
    Generalisation(birth_band=5, keep_subtype=False, diagnosis_band=5, postcode_chars=2),
    Generalisation(birth_band=5, keep_subtype=False, diagnosis_band=5, postcode_chars=0),
    Generalisation(birth_band=10, keep_subtype=False, diagnosis_band=5, postcode_chars=0),
    Generalisation(birth_band=10, keep_subtype=False, diagnosis_band=10, postcode_chars=0),
)

#: A generalised row: the values written (bands as "1955-1959").
Key = tuple[object, ...]


def band(year: int, width: int) -> str | int:
    """``year`` itself for width 1, else the aligned band, e.g. 1957, 5 -> "1955-1959"."""
    if width <= 1:
        return year
    start = year - year % width
    return f"{start}-{start + width - 1}"


def generalise(row: QuasiIdentifiers, level: Generalisation) -> Key:
    """The quasi-identifiers of ``row`` as written at ``level``."""
    postcode = None
    if row.postcode and level.postcode_chars:
        postcode = row.postcode.replace(" ", "").upper()[: level.postcode_chars]
    return (
        band(row.birth_year, level.birth_band),
        row.sex,
        row.ph_group,
        row.ph_subtype if level.keep_subtype else None,
        None if row.diagnosis_year is None else band(row.diagnosis_year, level.diagnosis_band),
        postcode,
    )


def smallest_group(keys: Iterable[Key]) -> int:
    """k of rows already written: the size of the smallest group of equal keys (0 for none).

    The one count behind every k in PHMS: the export's ladder, the upload's pre-check
    and the registry's own judgement (``phms_schema.registry_anonymity``).
    """
    return min(Counter(keys).values(), default=0)


def rare_groups(keys: Iterable[Key], min_k: int) -> list[tuple[Key, int]]:
    """The groups of fewer than ``min_k`` rows, smallest first, then in key order."""
    counts = Counter(keys)
    small = [(key, n) for key, n in counts.items() if n < min_k]
    return sorted(small, key=lambda kn: (kn[1], repr(kn[0])))


def k_anonymity(rows: Sequence[QuasiIdentifiers], level: Generalisation = LADDER[0]) -> int:
    """The size of the smallest group of equal quasi-identifiers (0 for no rows)."""
    return smallest_group(generalise(r, level) for r in rows)


def describe_key(key: Key) -> str:
    """A written key in words, e.g. "born 1960-1964, female, PH group 1, diagnosed 2019"."""
    birth, sex, group, subtype, diagnosis, postcode = key
    words = [f"born {birth}", str(sex), "no PH group" if group is None else f"PH group {group}"]
    if subtype is not None:
        words.append(f"subtype {subtype}")
    if diagnosis is not None:
        words.append(f"diagnosed {diagnosis}")
    if postcode is not None:
        words.append(f"postcode {postcode}…")
    return ", ".join(words)


@dataclass(frozen=True)
class Outcome:
    level: Generalisation
    #: k achieved at ``level`` (0 when there were no rows).
    k: int
    #: k of the rows as they were, before any generalisation.
    k_exact: int
    min_k: int
    #: Number of rows in a group smaller than ``min_k`` before generalisation.
    unique_before: int
    #: The quasi-identifiers some row carries (see :data:`FIELDS`).
    present: frozenset[str] = frozenset()

    @property
    def generalised(self) -> list[str]:
        return self.level.describe(self.present)

    def summary(self) -> str:
        steps = self.generalised
        what = "; generalised: " + ", ".join(steps) if steps else "; nothing generalised"
        return (
            f"k-anonymity {self.k} (at least {self.min_k} asked; {self.k_exact} before "
            f"generalising, {self.unique_before} patients in smaller groups){what}"
        )


class NotAnonymous(ValueError):
    """Even the coarsest rung leaves a group smaller than asked: nothing is written.

    Besides the message: ``patients`` (how many rows), ``min_k``, ``level`` (the
    coarsest rung tried; ``None`` when there were fewer rows than ``min_k``) and
    ``rare`` (the groups still too small at that rung, as :func:`rare_groups`) and
    ``present`` (the quasi-identifiers the rows carry).
    """

    def __init__(
        self,
        message: str,
        *,
        patients: int,
        min_k: int,
        level: Generalisation | None = None,
        rare: Sequence[tuple[Key, int]] = (),
        present: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(message)
        self.patients, self.min_k, self.level, self.rare = patients, min_k, level, list(rare)
        self.present = present


def present_fields(rows: Sequence[QuasiIdentifiers]) -> frozenset[str]:
    """The quasi-identifiers at least one row has a value for."""
    return frozenset(f for f in FIELDS if any(getattr(r, f) is not None for r in rows))


def _small(rows: Sequence[QuasiIdentifiers], level: Generalisation, min_k: int) -> int:
    counts = Counter(generalise(r, level) for r in rows)
    return sum(n for n in counts.values() if n < min_k)


def anonymise(
    rows: Sequence[QuasiIdentifiers],
    min_k: int = DEFAULT_MIN_K,
    *,
    ladder: Sequence[Generalisation] = LADDER,
) -> Outcome:
    """The first rung of ``ladder`` at which every row is in a group of ``min_k`` or more.

    No rows is trivially fine (k = 0, nothing to protect). Raises
    :class:`NotAnonymous` with the reason when no rung is enough.
    """
    if min_k < 1:
        raise ValueError("k must be at least 1")
    k_exact = k_anonymity(rows)
    unique_before = _small(rows, LADDER[0], min_k)
    present = present_fields(rows)
    if not rows:
        return Outcome(LADDER[0], 0, 0, min_k, 0, present)
    if len(rows) < min_k:
        count = "1 patient" if len(rows) == 1 else f"{len(rows)} patients"
        raise NotAnonymous(
            f"Only {count} to export: no grouping can put each of them among "
            f"at least {min_k}. Export a larger cohort or ask for a smaller k (--min-k).",
            patients=len(rows),
            min_k=min_k,
        )
    for level in ladder:
        k = k_anonymity(rows, level)
        if k >= min_k:
            return Outcome(level, k, k_exact, min_k, unique_before, present)
    last = ladder[-1]
    left = _small(rows, last, min_k)
    raise NotAnonymous(
        f"Even with {', '.join(last.describe(present))}, {left} of {len(rows)} patients are in "
        f"groups smaller than {min_k} (smallest: {k_anonymity(rows, last)}); nothing was "
        f"written. Export a larger cohort or ask for a smaller k (--min-k).",
        patients=len(rows),
        min_k=min_k,
        level=last,
        rare=rare_groups((generalise(r, last) for r in rows), min_k),
        present=present,
    )
