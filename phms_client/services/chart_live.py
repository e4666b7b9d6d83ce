"""Which patients a batch of change notifications concerns (no Qt).

A notification names a table and a row id, not the patient. An open chart
asks, once per burst of notifications, whose rows they were, and reloads only
when its own patient is among them: every chart load is an audited chart access
(``audit.chart_access``), so charts must not reload for other patients' records.
One statement, whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = ["CLINICAL_TABLES", "affected_patients", "clinical_changes"]

#: Tables whose rows belong to a patient's chart, and how to reach the patient.
_PATIENT_OF: Mapping[str, str] = {
    "assessment": "SELECT patient_id FROM phms.assessment WHERE id = ANY(:assessment)",
    "vasodilator_challenge": (
        "SELECT patient_id FROM phms.vasodilator_challenge WHERE id = ANY(:vasodilator_challenge)"
    ),
    "vasodilator_step": (
        "SELECT c.patient_id FROM phms.vasodilator_step s"
        " JOIN phms.vasodilator_challenge c ON c.id = s.challenge_id"
        " WHERE s.id = ANY(:vasodilator_step)"
    ),
    "six_minute_walk": (
        "SELECT patient_id FROM phms.six_minute_walk WHERE id = ANY(:six_minute_walk)"
    ),
    "medication": "SELECT patient_id FROM phms.medication WHERE id = ANY(:medication)",
    "allergy": "SELECT patient_id FROM phms.allergy WHERE id = ANY(:allergy)",
    "comorbidity": "SELECT patient_id FROM phms.comorbidity WHERE id = ANY(:comorbidity)",
}
CLINICAL_TABLES: frozenset[str] = frozenset(_PATIENT_OF)


def clinical_changes(payloads: Iterable[Mapping[str, object]]) -> dict[str, set[int]]:
    """The clinical rows named by notification payloads, by table (others ignored)."""
    rows: dict[str, set[int]] = {}
    for payload in payloads:
        table, key = payload.get("table"), payload.get("key")
        if table in CLINICAL_TABLES and isinstance(key, str) and key.isdigit():
            rows.setdefault(str(table), set()).add(int(key))
    return rows


def affected_patients(session: Session, changes: Mapping[str, Iterable[int]]) -> set[int]:
    """The patients whose chart rows are among ``changes`` (table -> row ids)."""
    wanted = {t: sorted(ids) for t, ids in changes.items() if t in CLINICAL_TABLES and ids}
    if not wanted:
        return set()
    sql = " UNION ".join(_PATIENT_OF[t] for t in sorted(wanted))
    return {int(pid) for pid in session.execute(sa.text(sql), wanted).scalars()}
