"""The upload's pre-check: k as the registry will judge it, batch by batch, before sending.

The registry judges k over everything it holds from the hospital *after* each
batch (``phms_schema.registry_anonymity``). This module runs that same
computation here, on the registry's cohort as the registry lists it (or, without
the registry, on what it last acknowledged) and on the batches about to be sent,
so that a batch it would refuse is refused here instead, with what is too rare
and what to do; nothing is sent then.

Cutting the batches. The whole cohort is written at one rung, so after the
*whole* upload the registry holds exactly today's export, which the ladder made
k-anonymous. Between batches it holds a mix: a patient who changes group (a new
rung, a corrected diagnosis) or is removed leaves their old group smaller until
the rest of it arrives. So batches never cut a *linked* set: patients are linked
when they share a group before or after (in the registry's cohort or in today's
export), and a linked set always travels whole, even if larger than
``batch_size``. After each such set every group is either as the registry held it
or as it will hold it at the end. If even so some state in between would fall
short (the registry's cohort was not k-anonymous for its threshold before, e.g.
after the threshold was raised), everything goes in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from phms_client.services.registry_upload import Item, Plan
from phms_schema.anonymity import Key, NotAnonymous
from phms_schema.registry_anonymity import (
    QUASI_IDENTIFIERS,
    Held,
    Judgement,
    after_batch,
    judge,
)

__all__ = [
    "Check",
    "NotSent",
    "Situation",
    "check",
    "describe",
    "linked_chunks",
    "not_anonymous",
    "offline_cohort",
    "simulate",
]


class NotSent(Exception):
    """The pre-check refuses the upload; ``str()`` says what is too rare and what to do."""


@dataclass(frozen=True)
class Situation:
    """What the advice depends on."""

    #: The k the ladder was asked for.
    min_k: int
    #: The registry's threshold (``None`` when it was not asked).
    threshold: int | None
    ph_only: bool
    dates_shifted: bool


@dataclass(frozen=True)
class Check:
    chunks: tuple[tuple[Item, ...], ...]
    #: The threshold checked against: the registry's, else the asked k.
    threshold: int
    #: The registry's cohort after the whole upload.
    final: Judgement
    #: True when linked groups forced everything into one batch.
    merged: bool
    #: Keys the registry holds from the hospital that this database neither sends nor removes.
    foreign: int


def _advice(s: Situation, *, foreign: int = 0) -> str:
    steps = []
    if s.threshold is not None and s.min_k < s.threshold:
        steps.append(
            f"remove min_k = {s.min_k} from the configuration (it is below the registry's "
            f"threshold {s.threshold}), so that the upload generalises to k≥{s.threshold}"
        )
    if s.threshold is not None and s.min_k > s.threshold:
        steps.append(
            f"ask for less with min_k = {s.threshold} (the registry's threshold; "
            f"this upload asks for {s.min_k})"
        )
    if not s.dates_shifted:
        steps.append(
            "generalise further with shift_dates = true (the year of diagnosis then no "
            "longer counts)"
        )
    if s.ph_only:
        steps.append('choose all patients (patients = "all"): a larger cohort, larger groups')
    if foreign:
        steps.append(
            f"ask the registry about the {foreign} patient(s) it holds from this hospital "
            "that this database does not send"
        )
    steps.append("or wait until more patients share these values (the daily run tries again)")
    return "What to do: " + "; ".join(steps) + "."


def not_anonymous(exc: NotAnonymous, s: Situation) -> NotSent:
    """The ladder's refusal, in the upload's words."""
    if exc.level is None:
        what = (
            f"only {exc.patients} patient(s) to send: no grouping puts each of them among "
            f"at least {exc.min_k}"
        )
        rare = ""
    else:
        short = sum(n for _key, n in exc.rare)
        what = (
            f"even with {', '.join(exc.level.describe(exc.present)) or 'nothing generalised'}, "
            f"{short} of {exc.patients} patients share {QUASI_IDENTIFIERS} with fewer than "
            f"{exc.min_k} (k={exc.min_k} asked)"
        )
        rare = " Too rare: " + Judgement(0, exc.min_k, exc.patients, tuple(exc.rare)).too_rare()
        rare += "."
    return NotSent(f"Nothing was sent: {what}.{rare} {_advice(s)}")


def linked_chunks(plan: Plan, held: Mapping[str, Held], batch_size: int) -> list[list[Item]]:
    """The plan's patients and removals in batches of about ``batch_size`` that never cut
    a set of patients linked by a group they share, before (``held``) or after."""
    if batch_size < 1:
        raise ValueError("A batch holds at least one patient")
    items: dict[str, Item] = {k: ("removed", k) for k in plan.removed}
    items.update({d["patient_key"]: ("patient", d) for d in plan.changed})
    parent = {k: k for k in items}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    first_in: dict[Key, str] = {}
    for k in sorted(items):
        groups = [held[k].key()] if k in held else []
        if items[k][0] == "patient":
            groups.append(plan.written[k].key())
        for group in groups:
            other = first_in.setdefault(group, k)
            parent[root(k)] = root(other)

    def order(k: str) -> tuple[int, str, str]:
        if items[k][0] == "patient":
            return (0, repr(plan.written[k].key()), k)
        return (1, "", k)

    sets: dict[str, list[str]] = {}
    for k in sorted(items, key=order):
        sets.setdefault(root(k), []).append(k)
    chunks: list[list[Item]] = []
    current: list[Item] = []
    for members in sorted(sets.values(), key=lambda m: order(m[0])):
        if current and len(current) + len(members) > batch_size:
            chunks.append(current)
            current = []
        current += [items[k] for k in members]
    if current:
        chunks.append(current)
    return chunks


def simulate(
    plan: Plan, held: Mapping[str, Held], chunks: Sequence[Sequence[Item]], threshold: int
) -> list[Judgement]:
    """The registry's judgement after each chunk in turn, starting from ``held``."""
    state = dict(held)
    out = []
    for chunk in chunks:
        sent = {d["patient_key"]: plan.written[d["patient_key"]] for kind, d in chunk
                if kind == "patient"}  # fmt: skip
        state = after_batch(state, sent, [k for kind, k in chunk if kind == "removed"])
        out.append(judge(state.values(), threshold))
    return out


def check(
    plan: Plan,
    held: Mapping[str, Held],
    *,
    situation: Situation,
    batch_size: int,
) -> Check:
    """The batches to send, each checked as the registry will; :class:`NotSent` if any
    state of the registry's cohort, after a batch, would have a group under its k."""
    threshold = situation.threshold or situation.min_k
    sent_or_removed = set(plan.written) | set(plan.removed)
    foreign = sum(1 for k in held if k not in sent_or_removed)
    chunks = linked_chunks(plan, held, batch_size)
    if not chunks:
        return Check((), threshold, judge(held.values(), threshold), False, foreign)
    verdicts = simulate(plan, held, chunks, threshold)
    merged = False
    if not all(v.ok for v in verdicts) and len(chunks) > 1:
        chunks = [[item for chunk in chunks for item in chunk]]
        verdicts = simulate(plan, held, chunks, threshold)
        merged = True
    final = verdicts[-1]
    if not final.ok:
        raise NotSent(
            f"Nothing was sent: the registry needs every patient of this hospital among at "
            f"least {threshold} sharing {QUASI_IDENTIFIERS}; after this upload "
            f"{final.patients_short} of its {final.patients} would not be (k={final.k}). "
            f"Too rare: {final.too_rare()}. {_advice(situation, foreign=foreign)}"
        )
    return Check(tuple(tuple(c) for c in chunks), threshold, final, merged, foreign)


def describe(result: Check, plan: Plan) -> list[str]:
    """The pre-check in lines of plain text (estimate and upload print them)."""
    generalised = plan.anonymity.generalised
    lines = [
        f"Anonymity: k={plan.anonymity.k} over the whole cohort (at least "
        f"{plan.anonymity.min_k} asked; k={plan.anonymity.k_exact} before generalising); "
        + ("generalised: " + ", ".join(generalised) if generalised else "nothing generalised")
        + ".",
        f"After the upload the registry holds {result.final.patients} patient(s) of this "
        f"hospital: k={result.final.k} (it needs k≥{result.threshold}).",
    ]
    if result.merged:
        lines.append(
            "Linked groups change: everything goes in one batch, so that the registry never "
            "holds a group smaller than its threshold in between."
        )
    if result.foreign:
        lines.append(
            f"The registry also holds {result.foreign} patient(s) of this hospital that this "
            "database does not send (counted in k)."
        )
    return lines


def offline_cohort(plan: Plan) -> dict[str, Held]:
    """Without the registry: what it holds as far as this database knows (the patients
    acknowledged with exactly today's document; the others' old values are unknown)."""
    return {k: plan.written[k] for k in plan.unchanged}
