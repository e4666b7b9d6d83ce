"""The registry export measures its own k-anonymity and generalises until it holds.

The quasi-identifiers of an exported patient are what the extract shows about
them that somebody could know from elsewhere: birth year, sex, PH group and
subtype, and, when dates are exported exact, the year of diagnosis (the year of
the first assessment). With the per-patient date shift (the default) every
date moves by up to half a year, so that year is not counted; the schema keeps
no postcode, so none is exported or counted.

The year of diagnosis cannot be banded without hiding the record dates, so
with exact dates the ladder generalises everything else and refuses when
that is not enough.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from phms_schema.anonymity import (
    LADDER,
    Generalisation,
    NotAnonymous,
    Outcome,
    QuasiIdentifiers,
    anonymise,
    band,
)

if TYPE_CHECKING:
    from phms_client.services.registry_export import RegistryPatient

__all__ = ["NotAnonymous", "Outcome", "ladder", "protect", "quasi_identifiers"]


def _diagnosis_year(patient: RegistryPatient) -> int | None:
    days = [r.date for r in patient.records if r.record_type == "assessment"]
    return min(days).year if days else None


def quasi_identifiers(patient: RegistryPatient, *, exact_dates: bool) -> QuasiIdentifiers:
    return QuasiIdentifiers(
        birth_year=int(patient.birth_year),
        sex=patient.sex,
        ph_group=patient.ph_group,
        ph_subtype=patient.ph_subtype,
        diagnosis_year=_diagnosis_year(patient) if exact_dates else None,
    )


def ladder(exact_dates: bool, birth_band_at_least: int = 1) -> tuple[Generalisation, ...]:
    """The rungs this extract may use: from the first whose birth-year band is at least
    ``birth_band_at_least`` (a site's floor); with exact dates the diagnosis year stays
    exact (it is in the record dates)."""
    out: list[Generalisation] = []
    for level in LADDER:
        if level.birth_band < birth_band_at_least:
            continue
        fixed = dataclasses.replace(level, diagnosis_band=1) if exact_dates else level
        if fixed not in out:
            out.append(fixed)
    return tuple(out)


def protect(
    patients: Sequence[RegistryPatient],
    *,
    min_k: int,
    exact_dates: bool,
    birth_band_at_least: int = 1,
) -> tuple[list[RegistryPatient], Outcome]:
    """The patients as written at the first rung reaching ``min_k``; raises NotAnonymous."""
    rows = [quasi_identifiers(p, exact_dates=exact_dates) for p in patients]
    outcome = anonymise(rows, min_k, ladder=ladder(exact_dates, birth_band_at_least))
    level = outcome.level
    out = [
        dataclasses.replace(
            p,
            birth_year=band(int(p.birth_year), level.birth_band),
            ph_subtype=p.ph_subtype if level.keep_subtype else None,
        )
        for p in patients
    ]
    return out, outcome
