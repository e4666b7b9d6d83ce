"""What ``staging create --de-identify`` does with every text, JSON and binary column.

One table decides it, column by column, and a test fails on any such column of the
schemas ``phms``, ``audit`` and ``public`` that is missing here: a new column is
never copied to a vendor by default, somebody has to decide.

- ``FAMILY_NAME`` / ``GIVEN_NAME``: a made-up name; the same real name (compared
  without case and outer spaces) gets the same made-up name everywhere in the copy,
  and no made-up name is any real patient's family or given name.
- ``PATIENT_ID``: a made-up ID of the site's format (or, for an old ID that does not
  match it, of the ID's own shape), unique, and never any real patient's ID.
- ``PHONE`` / ``EMAIL`` / ``ADDRESS``: made up, consistently per real value.
- ``FREE_TEXT``: replaced by :data:`REMOVED` (empty and missing values stay so).
- ``SECRET``: a new random key (the registry key must not leave the clinic).
- ``AUDIT_VALUES``: the old/new row values of the audit trail: every key above of
  the audited table is replaced by :data:`REMOVED`; numbers, dates, and the
  clinical values stay.
- ``FILTERS``: every string of an audit review's filters (a typed name or ID) is
  replaced by :data:`REMOVED`.
- ``GENERATED``: computed by the database from the new values (the search key), or
  refilled from them (the search's dictionary of name words, :data:`REFILLED`).
- ``KEEP``: clinical values and lists, site configuration, staff login names (the
  logins of the server the copy lives on), and what the programs write themselves.

Tables in :data:`EMPTIED` are emptied: the registry upload's record of what was sent
(keyed with the real patient IDs, and copies of the uploads).
"""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType
from typing import Final

from phms_schema import ddl_search


class Action(Enum):
    KEEP = "keep"
    FAMILY_NAME = "family name"
    GIVEN_NAME = "given name"
    PATIENT_ID = "patient ID"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    FREE_TEXT = "free text"
    SECRET = "secret"
    AUDIT_VALUES = "audit values"
    FILTERS = "filters"
    GENERATED = "generated"


K, F = Action.KEEP, Action.FREE_TEXT
REMOVED: Final = "[removed]"

_STAMPS = {"created_by": K, "updated_by": K}
_ERROR = {"error_reason": F, "error_by": K}
_ITEM = {"name": K, "details": F, "stop_reason": F, **_ERROR, **_STAMPS}

#: "schema.table" -> column -> action, for every text, JSON and binary column.
PLAN: Final = MappingProxyType(
    {
        "phms.patient": {
            "patient_code": Action.PATIENT_ID,
            "family_name": Action.FAMILY_NAME,
            "given_name": Action.GIVEN_NAME,
            "phone": Action.PHONE,
            "email": Action.EMAIL,
            "address": Action.ADDRESS,
            "search_name": Action.GENERATED,
            "sex": K,
            "ph_subtype": K,
            "status": K,
            **_STAMPS,
        },
        "phms.appointment": {"note": F, "kind": K, "status": K, **_STAMPS},
        "phms.assessment": {
            "kind": K,
            "pericardial_effusion": K,
            "ph_class": K,
            "symptom_progression": K,
            "syncope": K,
            **_ERROR,
            **_STAMPS,
        },
        "phms.six_minute_walk": {**_ERROR, **_STAMPS},
        "phms.vasodilator_challenge": {**_ERROR, **_STAMPS},
        "phms.vasodilator_step": {"agent": K, "dose_unit": K, **_ERROR, **_STAMPS},
        "phms.medication": {**_ITEM, "therapy_class": K},
        "phms.allergy": dict(_ITEM),
        "phms.comorbidity": dict(_ITEM),
        "phms.problem_report": {
            "description": F,
            "log_tail": F,
            "reported_by": K,
            "client_version": K,
            "server_version": K,
            "schema_revision": K,
            "platform": K,
        },
        "phms.report_template": {
            "name": K,
            "kind": K,
            "description": K,
            "body": K,
            **_STAMPS,
        },
        "phms.setting": {"key": K, "value": K, "value_type": K, "description": K, **_STAMPS},
        "phms.site_secret": {"name": K, "value": Action.SECRET},
        "phms.staff_account": {"name": K},
        "phms.value_tally": {"source_table": K, "field": K},
        "phms.search_word": {"word": Action.GENERATED},
        "phms.registry_upload_run": {"run_by": K, "message": K},
        "phms.registry_upload_batch": {
            "hospital_id": K,
            "registry_url": K,
            "content_sha256": K,
            "payload": K,
            "state": K,
            "answer": K,
        },
        "phms.registry_upload_patient": {"hospital_id": K, "patient_key": K, "content_sha256": K},
        # Client releases IT published (program bundles, their notes): no patient data.
        "phms.client_release": {
            "version": K,
            "platform": K,
            "filename": K,
            "sha256": K,
            "manifest": K,
            "signature": K,
            "notes": K,
            "storage": K,
            "published_by": K,
        },
        "phms.client_release_chunk": {"data": K},
        "phms.release_notes_seen": {"login": K, "version": K},
        "audit.event": {
            "table_name": K,
            "row_key": K,
            "operation": K,
            "old_values": Action.AUDIT_VALUES,
            "new_values": Action.AUDIT_VALUES,
            "session_user_name": K,
            "application_name": K,
        },
        "audit.chart_access": {"session_user_name": K, "application_name": K},
        "audit.review_log": {
            "session_user_name": K,
            "view": K,
            "filters": Action.FILTERS,
            "application_name": K,
        },
        "public.alembic_version": {"version_num": K},
    }
)

#: Emptied in the copy (their other columns are listed above as KEEP: nothing is left).
EMPTIED: Final = ("phms.registry_upload_patient", "phms.registry_upload_batch")

#: Emptied, then filled again from the made-up names (the triggers that keep them are
#: off while the copy is de-identified).
REFILLED: Final = MappingProxyType({ddl_search.TABLE: ddl_search.REFILL})

#: Actions whose columns hold something else in the copy.
CHANGED: Final = frozenset(
    {
        Action.FAMILY_NAME,
        Action.GIVEN_NAME,
        Action.PATIENT_ID,
        Action.PHONE,
        Action.EMAIL,
        Action.ADDRESS,
        Action.FREE_TEXT,
        Action.SECRET,
        Action.AUDIT_VALUES,
        Action.FILTERS,
        Action.GENERATED,
    }
)


def columns(table: str, *actions: Action) -> list[str]:
    return [c for c, a in PLAN.get(table, {}).items() if a in actions]


def audit_keys() -> dict[str, list[str]]:
    """Audited table (as the audit trail names it) -> the keys to remove from its values."""
    out: dict[str, list[str]] = {}
    for table, cols in PLAN.items():
        schema, name = table.split(".", 1)
        if schema != "phms":
            continue
        keys = sorted(c for c, a in cols.items() if a in CHANGED)
        if keys:
            out[name] = keys
    return out
