"""Medicines as PAH therapy: each list medicine's class, and the regimen on a date.

Classes (ESC/ERS 2022): endothelin receptor antagonist, PDE5 inhibitor, sGC
stimulator, prostacyclin-pathway agent (prostacyclin analogues and the IP-receptor
agonist selexipag), activin-signalling inhibitor (sotatercept), calcium-channel
blocker, other. The class of a medicine on the site's pick list is fixed here by its
generic name (pharmacology does not vary by site); a name the site added to the
list that is not known here is 'other'. The database holds the same table
(``phms.pah_therapy_class(name)``, migration 0012) and refuses a class that does
not belong to the name; a test compares the two.

A medicine typed freely (not on the list) has no class: it is shown "not in list"
and is not counted as PAH therapy.

**The regimen** on a date counts the distinct PAH-targeted classes among the
medicines current that day (started on or before it, not stopped on or before it):
ERA, PDE5i, sGC stimulator, prostacyclin pathway, activin-signalling inhibitor.
0 → none, 1 → monotherapy, 2 → double, 3 → triple combination (4 → quadruple).
Two medicines of one class count once. A calcium-channel blocker counts as therapy
only on its own: high-dose CCB monotherapy is the guideline's treatment of
vasoreactive PAH; beside targeted therapy it is not a PAH class of the combination
(it is listed, as "with calcium-channel blocker"). 'other' and unlisted medicines
are never counted.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CLASSES",
    "CLASS_LABELS",
    "KNOWN_MEDICINES",
    "TARGETED",
    "Regimen",
    "TherapyChange",
    "Treatment",
    "changes",
    "class_of_listed",
    "list_entry",
    "regimen_on",
    "suggestion",
]

ERA, PDE5I, SGC, PROSTACYCLIN, ACTIVIN, CCB, OTHER = (
    "era",
    "pde5i",
    "sgc",
    "prostacyclin",
    "activin",
    "ccb",
    "other",
)
CLASSES: Final = (ERA, PDE5I, SGC, PROSTACYCLIN, ACTIVIN, CCB, OTHER)
CLASS_LABELS: Final = MappingProxyType(
    {
        ERA: "endothelin receptor antagonist",
        PDE5I: "PDE5 inhibitor",
        SGC: "sGC stimulator",
        PROSTACYCLIN: "prostacyclin-pathway agent",
        ACTIVIN: "activin-signalling inhibitor",
        CCB: "calcium-channel blocker",
        OTHER: "other",
    }
)
SHORT: Final = MappingProxyType(
    {
        ERA: "ERA",
        PDE5I: "PDE5i",
        SGC: "sGC",
        PROSTACYCLIN: "prostacyclin pathway",
        ACTIVIN: "activin inhibitor",
        CCB: "CCB",
        OTHER: "other",
    }
)
#: Classes that make up a combination (the calcium-channel blocker only on its own).
TARGETED: Final = (ERA, PDE5I, SGC, PROSTACYCLIN, ACTIVIN)

#: Generic name (lower case) -> class: the default pick list of PH_DOMAIN.md.
KNOWN_MEDICINES: Final = MappingProxyType(
    {
        "bosentan": ERA,
        "ambrisentan": ERA,
        "macitentan": ERA,
        "sildenafil": PDE5I,
        "tadalafil": PDE5I,
        "riociguat": SGC,
        "epoprostenol": PROSTACYCLIN,
        "treprostinil": PROSTACYCLIN,
        "iloprost": PROSTACYCLIN,
        "beraprost": PROSTACYCLIN,
        "selexipag": PROSTACYCLIN,
        "sotatercept": ACTIVIN,
        "nifedipine": CCB,
        "diltiazem": CCB,
        "amlodipine": CCB,
    }
)
LEVELS: Final = {0: "none", 1: "monotherapy", 2: "double combination", 3: "triple combination"}


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def class_of_listed(name: str) -> str:
    """The class of a medicine picked from the list ('other' when not known here)."""
    return KNOWN_MEDICINES.get(_key(name), OTHER)


def list_entry(typed: str, listed: Sequence[str]) -> str | None:
    """The list entry ``typed`` stands for (same letters, any case and spacing), or None."""
    key = _key(typed)
    return next((entry for entry in listed if _key(entry) == key), None)


def suggestion(typed: str, listed: Sequence[str]) -> str | None:
    """The list entry a mistyped name most likely means ("Bosen" → "bosentan"), or None."""
    key = _key(typed)
    if not key:
        return None
    starts = [entry for entry in listed if _key(entry).startswith(key)]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(key, [_key(e) for e in listed], n=1, cutoff=0.75)
    return next((e for e in listed if close and _key(e) == close[0]), None)


@dataclass(frozen=True)
class Treatment:
    """One medicine entry: its class (None = typed freely, not on the list) and period."""

    name: str
    therapy_class: str | None
    started_on: dt.date
    stopped_on: dt.date | None = None

    def current_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.stopped_on is None or self.stopped_on > day)


@dataclass(frozen=True)
class Regimen:
    """The PAH therapy on one day."""

    day: dt.date
    #: Distinct targeted classes, in CLASSES order (or ('ccb',) for CCB monotherapy).
    classes: tuple[str, ...]
    with_ccb: bool
    medicines: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def level(self) -> str:
        return LEVELS.get(self.n_classes, "quadruple combination")

    @property
    def text(self) -> str:
        """e.g. "double combination (ERA + PDE5i)", "monotherapy (CCB)", "none"."""
        if not self.classes:
            return "none"
        text = f"{self.level} ({' + '.join(SHORT[c] for c in self.classes)})"
        return text + (" with calcium-channel blocker" if self.with_ccb else "")


def regimen_on(treatments: Iterable[Treatment], day: dt.date) -> Regimen:
    current = sorted(
        (t for t in treatments if t.current_on(day)), key=lambda t: (t.name.casefold(), t.name)
    )
    present = {t.therapy_class for t in current}
    targeted = tuple(c for c in TARGETED if c in present)
    ccb = CCB in present
    medicines = tuple(t.name for t in current if t.therapy_class in (*TARGETED, CCB))
    if not targeted and ccb:
        return Regimen(day, (CCB,), False, medicines)
    return Regimen(day, targeted, ccb and bool(targeted), medicines)


@dataclass(frozen=True)
class TherapyChange:
    """The regimen from ``day`` on, differing from the one the day before."""

    day: dt.date
    before: Regimen
    after: Regimen

    @property
    def direction(self) -> str:
        """'escalation' (more classes), 'de-escalation' (fewer) or 'switch'."""
        if self.after.n_classes > self.before.n_classes:
            return "escalation"
        if self.after.n_classes < self.before.n_classes:
            return "de-escalation"
        return "switch"

    @property
    def text(self) -> str:
        return f"{self.direction}: {self.before.text} → {self.after.text}"


def changes(treatments: Sequence[Treatment]) -> list[TherapyChange]:
    """Every day the PAH regimen changed (its classes, or CCB beside them), oldest first."""
    days = sorted(
        {t.started_on for t in treatments}
        | {t.stopped_on for t in treatments if t.stopped_on is not None}
    )
    out: list[TherapyChange] = []
    for day in days:
        before = regimen_on(treatments, day - dt.timedelta(days=1))
        after = regimen_on(treatments, day)
        if (before.classes, before.with_ccb) != (after.classes, after.with_ccb):
            out.append(TherapyChange(day, before, after))
    return out
