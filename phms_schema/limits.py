"""Input limits: one table read by the migration (CHECK constraints) and the client.

Every text column of schema ``phms`` has a maximum length here (a test lists the
columns from ``information_schema`` and fails on one that is missing). What a
column may contain:

- ``SINGLE``: one line, no control characters at all (no tab, no newline);
- ``MULTI``: several lines: newline and tab allowed, no other control character;
- ``STAMP``: written by the database itself (``session_user``, names of our own
  tables and fields): a length limit only.

Control characters are the Unicode category Cc: U+0001–U+001F, U+007F and
U+0080–U+009F (U+0000 cannot be stored in PostgreSQL text at all; the client
refuses it before sending). A carriage return is a control character: the client
turns Windows line ends (CR LF) into LF before saving.

Names (family and given name, the names of medications, allergies and diseases)
must also contain a letter: a name made only of invisible characters (a
right-to-left mark, a zero-width space), spaces, punctuation or digits is refused.

Dates have bounds (``DATE_MIN`` .. the ``*_AHEAD`` windows from today), numbers
at most ``MAX_DECIMALS`` decimal places (``1e-1000`` is not a measurement), and the
patient search reads at most ``MAX_SEARCH`` characters.

Once migration 0011 has used these values, change them only together with a new
migration (see ``phms_schema.ddl_limits``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Lines = Literal["single", "multi", "stamp"]
SINGLE: Final[Lines] = "single"
MULTI: Final[Lines] = "multi"
STAMP: Final[Lines] = "stamp"

#: Longest role name PostgreSQL keeps (NAMEDATALEN - 1 bytes; characters are at most that).
ROLE_NAME: Final = 63


@dataclass(frozen=True)
class TextLimit:
    label: str
    max_length: int
    lines: Lines = SINGLE
    #: The value must contain a letter (names).
    needs_letter: bool = False
    #: The migration that added the column's checks (0011 for every column it knew).
    since: str = "0011"


def _t(
    label: str, n: int, lines: Lines = SINGLE, *, letter: bool = False, since: str = "0011"
) -> TextLimit:
    return TextLimit(label, n, lines, letter, since)


_STAMPS: Final = {
    "created_by": _t("Created by", ROLE_NAME, STAMP),
    "updated_by": _t("Updated by", ROLE_NAME, STAMP),
}
_ERROR: Final = {
    "error_reason": _t("The reason for deleting", 500, MULTI),
    "error_by": _t("Deleted by", ROLE_NAME, STAMP),
}


def _item(what: str) -> dict[str, TextLimit]:
    return {
        "name": _t(f"The name of the {what}", 200, letter=True),
        "details": _t("Details", 1000, MULTI),
        "stop_reason": _t("The reason for stopping", 500, MULTI),
        **_ERROR,
        **_STAMPS,
    }


#: table -> column -> limit, for every stored (not generated) text column of ``phms``.
TEXT_LIMITS: Final[MappingProxyType[str, MappingProxyType[str, TextLimit]]] = MappingProxyType(
    {
        table: MappingProxyType(columns)
        for table, columns in {
            "patient": {
                "patient_code": _t("The patient ID", 40),
                "family_name": _t("The family name", 100, letter=True),
                "given_name": _t("The given name", 100, letter=True),
                "sex": _t("The sex", 20),
                "phone": _t("The phone number", 40),
                "email": _t("The email address", 254),
                "address": _t("The address", 500, MULTI),
                "ph_subtype": _t("The PH subtype", 200),
                "status": _t("The status", 20),
                **_STAMPS,
            },
            "appointment": {
                "kind": _t("The kind of appointment", 100),
                "status": _t("The status", 20),
                "note": _t("The note", 2000, MULTI),
                **_STAMPS,
            },
            "assessment": {
                "kind": _t("The kind", 20),
                **_ERROR,
                **_STAMPS,
                # 0012: risk at diagnosis (each also limited to its list of values).
                "symptom_progression": _t("The progression of symptoms", 20, since="0012"),
                "syncope": _t("Syncope", 20, since="0012"),
                "pericardial_effusion": _t("The pericardial effusion", 30, since="0012"),
            },
            "vasodilator_challenge": {**_ERROR, **_STAMPS},
            "vasodilator_step": {
                "agent": _t("The vasodilator agent", 100),
                "dose_unit": _t("The dose unit", 40),
                **_ERROR,
                **_STAMPS,
            },
            "six_minute_walk": {**_ERROR, **_STAMPS},
            "medication": {
                **_item("medication"),
                "therapy_class": _t("The therapy class", 30, since="0012"),
            },
            "allergy": _item("allergy"),
            "comorbidity": _item("secondary disease"),
            "report_template": {
                "name": _t("The template name", 200),
                "kind": _t("The kind", 20),
                "description": _t("The description", 1000, MULTI),
                # Its length has been checked since 0005 (ck_report_template_body_size).
                "body": _t("The template text", 200_000, MULTI),
                **_STAMPS,
            },
            "problem_report": {
                "description": _t("The description", 5000, MULTI),
                "client_version": _t("The client version", 100),
                "server_version": _t("The server version", 300),
                "schema_revision": _t("The schema revision", 40),
                "platform": _t("The platform", 300),
                # A log: whatever the client wrote (0002 checks its length, log_tail_size).
                "log_tail": _t("The log", 100_000, STAMP),
                "reported_by": _t("Reported by", ROLE_NAME, STAMP),
            },
            # 0013: the registry upload's state, written by phms-admin only (its own
            # length checks, EXISTING_LENGTH_CHECKS).
            "registry_upload_patient": {
                "hospital_id": _t("The hospital ID", 64, STAMP, since="0013"),
                "patient_key": _t("The patient key", 64, STAMP, since="0013"),
                "content_sha256": _t("The content hash", 64, STAMP, since="0013"),
            },
            "registry_upload_batch": {
                "hospital_id": _t("The hospital ID", 64, STAMP, since="0013"),
                "registry_url": _t("The registry address", 500, STAMP, since="0013"),
                "content_sha256": _t("The content hash", 64, STAMP, since="0013"),
                "state": _t("The state", 20, STAMP, since="0013"),
                "answer": _t("The registry's answer", 2000, STAMP, since="0013"),
            },
            "registry_upload_run": {
                "run_by": _t("Run by", ROLE_NAME, STAMP, since="0013"),
                "message": _t("The message", 2000, STAMP, since="0013"),
            },
            # 0018: client releases, written by phms-admin (notes also refuse control
            # characters, ck_client_release_notes_characters) and the notes seen.
            "client_release": {
                "version": _t("The version", 40, STAMP, since="0018"),
                "platform": _t("The platform", 40, STAMP, since="0018"),
                "filename": _t("The file name", 200, STAMP, since="0018"),
                "sha256": _t("The checksum", 64, STAMP, since="0018"),
                "manifest": _t("The signed manifest", 2000, STAMP, since="0018"),
                "notes": _t("The release notes", 20_000, STAMP, since="0018"),
                "storage": _t("The storage", 20, STAMP, since="0018"),
                "published_by": _t("Published by", ROLE_NAME, STAMP, since="0018"),
            },
            "release_notes_seen": {
                "login": _t("The login", ROLE_NAME, STAMP, since="0018"),
                "version": _t("The version", 40, STAMP, since="0018"),
            },
            "setting": {
                "key": _t("The setting name", 100),
                "value_type": _t("The value type", 20),
                "description": _t("The description", 1000, MULTI),
                **_STAMPS,
            },
            "site_secret": {"name": _t("The secret's name", 100, STAMP)},
            "staff_account": {"name": _t("The login name", ROLE_NAME, STAMP)},
            "value_tally": {
                "source_table": _t("The table", ROLE_NAME, STAMP),
                "field": _t("The field", ROLE_NAME, STAMP),
            },
            "search_word": {"word": _t("A word of a name", 100, STAMP, since="0019")},
        }.items()
    }
)

#: Length checks that existed before 0011 (name -> (table, column)); 0011 adds no second one.
EXISTING_LENGTH_CHECKS: Final = MappingProxyType(
    {
        "ck_report_template_body_size": ("report_template", "body"),
        "ck_problem_report_log_tail_size": ("problem_report", "log_tail"),
        "ck_registry_upload_patient_hospital_id_length": ("registry_upload_patient", "hospital_id"),
        "ck_registry_upload_patient_patient_key_hex": ("registry_upload_patient", "patient_key"),
        "ck_registry_upload_patient_content_sha256_hex": (
            "registry_upload_patient",
            "content_sha256",
        ),
        "ck_registry_upload_batch_hospital_id_length": ("registry_upload_batch", "hospital_id"),
        "ck_registry_upload_batch_registry_url_length": ("registry_upload_batch", "registry_url"),
        "ck_registry_upload_batch_content_sha256_hex": ("registry_upload_batch", "content_sha256"),
        "ck_registry_upload_batch_state_known": ("registry_upload_batch", "state"),
        "ck_registry_upload_batch_answer_length": ("registry_upload_batch", "answer"),
        "ck_registry_upload_run_run_by_length": ("registry_upload_run", "run_by"),
        "ck_registry_upload_run_message_length": ("registry_upload_run", "message"),
    }
)

#: The longest JSON text of one site setting.
MAX_SETTING_JSON: Final = 100_000
#: The patient search looks at this many characters of what was typed, no more.
MAX_SEARCH: Final = 100
#: Decimal places a measured number may have (exact numeric columns).
MAX_DECIMALS: Final = 3

#: Earliest date of a record, a chart entry or an appointment.
DATE_MIN: Final = dt.date(1900, 1, 1)
#: A chart entry (medication, allergy, disease) may start or stop this far ahead.
ITEM_DAYS_AHEAD: Final = 366
#: An appointment may be booked this far ahead.
APPOINTMENT_DAYS_AHEAD: Final = 5 * 366
#: Latest date any of them may have in the database, whatever today is (a CHECK
#: cannot depend on the clock; the triggers apply the windows above).
DATE_MAX: Final = dt.date(2199, 12, 31)

#: Dates checked by CHECK constraints: table -> date columns (``ck_<t>_<c>_bounds``).
DATE_COLUMNS: Final = MappingProxyType(
    {
        "assessment": ("study_date",),
        "vasodilator_challenge": ("study_date",),
        "six_minute_walk": ("study_date",),
        "medication": ("started_on", "stopped_on"),
        "allergy": ("started_on", "stopped_on"),
        "comorbidity": ("started_on", "stopped_on"),
        "appointment": ("starts_at",),
    }
)

#: Exact numbers typed by people that 0011 limited to MAX_DECIMALS places.
_DECIMAL_COLUMNS_0011: Final = MappingProxyType(
    {
        "assessment": (
            "height_cm",
            "weight_kg",
            "heart_rate_bpm",
            "spo2_pct",
            "bnp_pg_ml",
            "nt_probnp_pg_ml",
            "creatinine_umol_l",
            "tapse_mm",
            "ra_area_cm2",
            "rap_mmhg",
            "spap_mmhg",
            "dpap_mmhg",
            "mpap_mmhg",
            "pawp_mmhg",
            "co_l_min",
            "svo2_pct",
            "rhc_heart_rate_bpm",
        ),
        "six_minute_walk": (
            "oxygen_l_min",
            "distance_m",
            "spo2_before_pct",
            "spo2_after_pct",
            "heart_rate_before_bpm",
            "heart_rate_after_bpm",
            "borg_before",
            "borg_after",
        ),
        "vasodilator_step": (
            "dose",
            "mpap_mmhg",
            "pawp_mmhg",
            "co_l_min",
            "spap_mmhg",
            "dpap_mmhg",
            "heart_rate_bpm",
            "svo2_pct",
        ),
    }
)

#: The columns each migration limited to MAX_DECIMALS places: revision -> table -> columns
#: (0012: risk at diagnosis).
DECIMAL_COLUMNS_SINCE: Final = MappingProxyType(
    {
        "0011": _DECIMAL_COLUMNS_0011,
        "0012": MappingProxyType(
            {"assessment": ("echo_spap_mmhg", "peak_vo2_ml_min_kg", "ve_vco2_slope")}
        ),
    }
)


def _all_decimal_columns() -> MappingProxyType[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for by_table in DECIMAL_COLUMNS_SINCE.values():
        for table, columns in by_table.items():
            merged[table] = merged.get(table, ()) + columns
    return MappingProxyType(merged)


#: Exact numbers typed by people: table -> columns limited to MAX_DECIMALS places
#: (in the order the migrations added them).
DECIMAL_COLUMNS: Final = _all_decimal_columns()

#: A vasodilator dose may be at most this many times the agent's highest dose step.
DOSE_HEADROOM: Final = 2
#: Static bounds of any dose (whatever the agent): refuses 1e30, NaN and Infinity.
DOSE_MAX: Final = 100_000


def text_limit(table: str, column: str) -> TextLimit:
    return TEXT_LIMITS[table][column]
