"""The database's clinical rules in plain words, and the form field each one concerns.

Every rule of migration 0003 that can refuse a save (``docs/clinical-records.md``)
raises ``check_violation`` with a constraint name. This module gives each name a
sentence staff can act on and registers them with
:func:`phms_client.db.errors.classify`, so a refusal reads as words, never as
a rule name. :func:`rejected_field` tells a form which field to mark.

The range messages are the same sentences the forms show
(:mod:`phms_client.clinical.ranges`): the form and the database say the same
thing at the same limit.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from phms_client.clinical.consistency import MESSAGES as PRESSURE_MESSAGES
from phms_client.clinical.ranges import FIELD_RANGES
from phms_client.db.errors import refused_constraint, register_constraint_messages
from phms_client.services import input_rules

__all__ = ["CONSTRAINT_FIELDS", "GENERAL", "rejected_field"]

#: Field name for rules that concern the whole entry, not one field.
GENERAL: Final = ""

RECORD_TABLES: Final = ("assessment", "vasodilator_challenge", "six_minute_walk")
ITEM_TABLES: Final = ("medication", "allergy", "comorbidity")
ALL_TABLES: Final = (*RECORD_TABLES, "vasodilator_step", *ITEM_TABLES)

_WHAT: Final = {
    "assessment": "assessment",
    "vasodilator_challenge": "vasodilator challenge",
    "six_minute_walk": "6-minute walk",
    "vasodilator_step": "vasodilator step",
    "medication": "medication",
    "allergy": "allergy",
    "comorbidity": "secondary disease",
}


def _build() -> dict[str, tuple[str, str]]:
    rules: dict[str, tuple[str, str]] = {}
    for table, columns in FIELD_RANGES.items():
        for column, limits in columns.items():
            rules[f"ck_{table}_{column}_range"] = (column, limits.message + ".")
    for table in ("assessment", "vasodilator_step"):
        rules[f"ck_{table}_valid_pressure_order"] = (
            "mpap_mmhg",
            "The pressures are in the wrong order: the diastolic PA pressure cannot be above "
            "the mean, nor the mean above the systolic.",
        )
        rules[f"ck_{table}_valid_pawp_mpap"] = ("pawp_mmhg", PRESSURE_MESSAGES["pawp_mpap"])
        rules[f"ck_{table}_valid_mpap_positive"] = (
            "mpap_mmhg",
            PRESSURE_MESSAGES["mpap_positive"],
        )
    for table in RECORD_TABLES:
        rules[f"ck_{table}_study_date_before_death"] = (
            "study_date",
            "The study date is after the patient's date of death.",
        )
        rules[f"ck_{table}_study_date_not_future"] = (
            "study_date",
            "The study date cannot be in the future.",
        )
        rules[f"ck_{table}_study_date_after_birth"] = (
            "study_date",
            "The study date is before the patient's date of birth.",
        )
        rules[f"ck_{table}_patient_fixed"] = (
            GENERAL,
            "A record cannot be moved to another patient. Delete it as entered in error "
            "and enter it again for the right patient.",
        )
    for table in ALL_TABLES:
        what = _WHAT[table]
        rules[f"ck_{table}_deleted_is_final"] = (
            GENERAL,
            f"This {what} was deleted as entered in error and cannot be changed or "
            "restored; enter it again instead.",
        )
        rules[f"ck_{table}_error_reason_required"] = (
            GENERAL,
            "Deleting an entry as entered in error needs a reason.",
        )
        rules[f"ck_{table}_error_reason_only_when_in_error"] = (
            GENERAL,
            "A reason for deleting can only be given when the entry is deleted.",
        )
        rules[f"ck_{table}_error_stamps_consistent"] = (
            GENERAL,
            "Who deleted an entry and when is recorded by the database, not by PHMS.",
        )
    for table in ITEM_TABLES:
        what = _WHAT[table]
        rules[f"ck_{table}_name_present"] = ("name", f"Enter the name of the {what}.")
        rules[f"ck_{table}_stopped_after_started"] = (
            "stopped_on",
            f"The {what} cannot be stopped before the date it was started.",
        )
        rules[f"ck_{table}_stop_reason_required"] = (
            "stop_reason",
            "Stopping needs a reason, for example “stopped” or “cured”.",
        )
        rules[f"ck_{table}_stop_reason_only_when_stopped"] = (
            "stop_reason",
            "A reason for stopping can only be given with the date it was stopped.",
        )
        rules[f"ck_{table}_stop_is_final"] = (
            GENERAL,
            f"This {what} was stopped; a stop cannot be taken back. Add it again from the "
            "new start date, so the history shows both periods.",
        )
        rules[f"ck_{table}_patient_fixed"] = (
            GENERAL,
            "An entry cannot be moved to another patient. Delete it as entered in error "
            "and add it for the right patient.",
        )
    rules.update(
        {
            "ck_assessment_kind_known": (GENERAL, "The kind must be assessment or followup."),
            "ck_assessment_symptom_progression_known": (
                "symptom_progression",
                "Progression of symptoms is none, slow or rapid.",
            ),
            "ck_assessment_syncope_known": ("syncope", "Syncope is none, occasional or repeated."),
            "ck_assessment_pericardial_effusion_known": (
                "pericardial_effusion",
                "A pericardial effusion is none, minimal, or moderate or large.",
            ),
            "ck_medication_therapy_class_known": (
                "name",
                "The therapy class is not one PHMS knows.",
            ),
            "ck_medication_listed": (
                "name",
                "This medicine is not in the list of PAH medicines set in Preferences. Pick it "
                "from the list, or confirm it as free text (it then has no therapy class).",
            ),
            "ck_medication_class_matches": (
                "name",
                "The therapy class given does not belong to this medicine.",
            ),
            "ck_patient_deceased_after_records": (
                "deceased_date",
                "The patient has clinical records dated after this date of death; check "
                "the date of death.",
            ),
            "ck_assessment_followup_needs_assessment": (
                "study_date",
                "A followup needs an earlier assessment of the same patient, and there is "
                "none before this study date. Enter the assessment first, or enter this "
                "visit as an assessment.",
            ),
            "ck_vasodilator_challenge_needs_assessment": (
                "study_date",
                "A vasodilator challenge needs an assessment of the same patient on or "
                "before its study date, and there is none. Enter the assessment first.",
            ),
            "ck_assessment_baseline_in_use": (
                GENERAL,
                "A followup or a vasodilator challenge relies on this assessment, so it "
                "cannot be deleted, turned into a followup or moved later. Delete or change "
                "that record first.",
            ),
            "ck_vasodilator_step_agent_configured": (
                "agent",
                "This vasodilator agent is not in the list set in Preferences.",
            ),
            "ck_vasodilator_step_dose_unit_matches_agent": (
                "agent",
                "The dose unit does not match the agent's unit set in Preferences.",
            ),
            "ck_vasodilator_step_step_no_valid": (GENERAL, "Too many steps in one challenge."),
            "uq_vasodilator_step_live_step_no": (GENERAL, "Two steps have the same number."),
            "ck_vasodilator_step_baseline_has_no_agent": (
                "agent",
                "The baseline (step 0) has no agent; every later step needs one.",
            ),
            "ck_vasodilator_step_agent_dose_unit_together": (
                "dose",
                "Every step after the baseline needs an agent and a dose.",
            ),
            "ck_vasodilator_step_dose_positive": ("dose", "A dose must be more than 0."),
            "ck_vasodilator_step_challenge_fixed": (
                GENERAL,
                "A step cannot be moved to another challenge.",
            ),
            "ck_vasodilator_step_challenge_live": (
                GENERAL,
                "This vasodilator challenge was deleted as entered in error; its steps "
                "cannot change.",
            ),
        }
    )
    for table in ALL_TABLES:
        rules.update(input_rules.constraint_fields(table))
    return rules


#: constraint name -> (field name, or GENERAL; message in plain words).
CONSTRAINT_FIELDS: Final = MappingProxyType(_build())
register_constraint_messages({name: text for name, (_, text) in CONSTRAINT_FIELDS.items()})


def rejected_field(exc: BaseException) -> tuple[str, str] | None:
    """For a save the database refused: ``(field name or GENERAL, plain message)``."""
    if isinstance(exc, input_rules.InvalidInput):
        return (exc.field, exc.message)
    name = refused_constraint(exc)
    return CONSTRAINT_FIELDS.get(name) if name else None
