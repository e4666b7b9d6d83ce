"""Clinical records: the rules, views and grants the models cannot express.

Used by migration 0003. As with ``ddl.py``, once a migration has used a
builder, change its output only together with a new migration.

Rules raise ``check_violation`` with a readable message and a constraint name
(``ck_<table>_<rule>``) the client can show, exactly like a CHECK constraint.
Checks that look at other rows (followup and challenge prerequisites, the
baseline still in use) first lock the patient's row (``FOR NO KEY UPDATE``):
clinical writes for one patient are serialised, so two sessions cannot each
pass a check the other one breaks. Demographic edits and foreign-key checks
(``FOR KEY SHARE``) are not blocked by that lock.

Date windows and tie-breaks of the views are documented in
``phms_client.clinical.matching`` (14 days for the risk's walk, 180 days for
the walk's height and weight); the risk grades in ``phms_client.clinical.risk``.
"""

from __future__ import annotations

import textwrap

from phms_schema.base import SCHEMA
from phms_schema.ddl import CLINICIAN

#: Every clinical table (all audited, none deletable by staff).
TABLES = (
    "assessment",
    "vasodilator_challenge",
    "vasodilator_step",
    "six_minute_walk",
    "medication",
    "allergy",
    "comorbidity",
)
RECORD_TABLES = ("assessment", "vasodilator_challenge", "six_minute_walk")
ITEM_TABLES = ("medication", "allergy", "comorbidity")
VIEWS = ("vasoreactivity", "six_minute_walk_predicted", "assessment_risk")

WALK_WINDOW_DAYS = 14
BODY_WINDOW_DAYS = 180


def _raise(rule: str, message: str, *args: str) -> str:
    """RAISE a check_violation named ``ck_<this table>_<rule>`` (or ``rule`` if it
    starts with ``ck_``); ``%s`` in the message are filled from ``args``."""
    own = rule.startswith("ck_")
    constraint = f"'{rule}'" if own else f"'ck_' || TG_TABLE_NAME || '_{rule}'"
    quoted = message.replace("'", "''")
    lines = textwrap.wrap(quoted, 64, drop_whitespace=False, break_on_hyphens=False)
    assert "".join(lines) == quoted
    pieces = " ||\n        ".join(f"'{line}'" for line in lines)
    values = "".join(f", {a}" for a in args)
    return (
        f"RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = {constraint},\n"
        f"      MESSAGE = format({pieces}{values})"
    )


_RULES = {
    # Del = entered in error: stamped here, final once set.
    "entry_rules()": f"""RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.entered_in_error THEN
    {
        _raise(
            "deleted_is_final",
            "This entry was deleted as entered in error on %s by %s and cannot be changed "
            "or restored; enter it again instead",
            "to_char(OLD.error_at, 'YYYY-MM-DD')",
            "OLD.error_by",
        )
    };
  END IF;
  IF NEW.entered_in_error THEN
    NEW.error_at := now();
    NEW.error_by := session_user;
  ELSE
    NEW.error_at := NULL;
    NEW.error_by := NULL;
  END IF;
  RETURN NEW;
END $$""",
    # Assessment, followup, challenge, walk: dates, owner, prerequisites.
    "record_rules()": f"""RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  born date;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.patient_id <> OLD.patient_id THEN
    {
        _raise(
            "patient_fixed",
            "A record cannot be moved to another patient; delete it as entered in error "
            "and enter it again for the right patient",
        )
    };
  END IF;
  IF NEW.entered_in_error THEN
    RETURN NEW;
  END IF;
  SELECT birth_date INTO born FROM {SCHEMA}.patient WHERE id = NEW.patient_id FOR NO KEY UPDATE;
  IF NEW.study_date > current_date THEN
    {_raise("study_date_not_future", "The study date %s is in the future", "NEW.study_date")};
  END IF;
  IF NEW.study_date < born THEN
    {
        _raise(
            "study_date_after_birth",
            "The study date %s is before the patient's birth (%s)",
            "NEW.study_date",
            "born",
        )
    };
  END IF;
  IF TG_TABLE_NAME = 'assessment' AND to_jsonb(NEW) ->> 'kind' = 'followup'
     AND NOT EXISTS (SELECT FROM {SCHEMA}.assessment a
                      WHERE a.patient_id = NEW.patient_id AND a.kind = 'assessment'
                        AND NOT a.entered_in_error AND a.study_date < NEW.study_date) THEN
    {
        _raise(
            "ck_assessment_followup_needs_assessment",
            "A followup needs an earlier assessment of the same patient; there is none before %s",
            "NEW.study_date",
        )
    };
  END IF;
  IF TG_TABLE_NAME = 'vasodilator_challenge'
     AND NOT EXISTS (SELECT FROM {SCHEMA}.assessment a
                      WHERE a.patient_id = NEW.patient_id AND a.kind = 'assessment'
                        AND NOT a.entered_in_error AND a.study_date <= NEW.study_date) THEN
    {
        _raise(
            "ck_vasodilator_challenge_needs_assessment",
            "A vasodilator challenge needs an assessment of the same patient on or before %s",
            "NEW.study_date",
        )
    };
  END IF;
  RETURN NEW;
END $$""",
    # An assessment that followups or challenges rely on cannot silently go away.
    "baseline_in_use()": f"""RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  v_date date;
  v_what text;
BEGIN
  PERFORM FROM {SCHEMA}.patient WHERE id = NEW.patient_id FOR NO KEY UPDATE;
  SELECT d.study_date, d.what INTO v_date, v_what
    FROM (SELECT f.study_date, 'followup' AS what, false AS same_day_ok
            FROM {SCHEMA}.assessment f
           WHERE f.patient_id = NEW.patient_id AND f.kind = 'followup' AND NOT f.entered_in_error
          UNION ALL
          SELECT c.study_date, 'vasodilator challenge', true
            FROM {SCHEMA}.vasodilator_challenge c
           WHERE c.patient_id = NEW.patient_id AND NOT c.entered_in_error) d
   WHERE NOT EXISTS (SELECT FROM {SCHEMA}.assessment a
                      WHERE a.patient_id = NEW.patient_id AND a.kind = 'assessment'
                        AND NOT a.entered_in_error
                        AND (a.study_date < d.study_date
                             OR (d.same_day_ok AND a.study_date = d.study_date)))
   ORDER BY d.study_date
   LIMIT 1;
  IF FOUND THEN
    {
        _raise(
            "ck_assessment_baseline_in_use",
            "The %s of %s relies on this assessment; delete or change that first",
            "v_what",
            "v_date",
        )
    };
  END IF;
  RETURN NULL;
END $$""",
    # Medication, allergy, secondary disease: Stop is kept; no restart by un-stopping.
    "item_rules()": f"""RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF NEW.patient_id <> OLD.patient_id THEN
    {
        _raise(
            "patient_fixed",
            "An entry cannot be moved to another patient; delete it as entered in error "
            "and add it for the right patient",
        )
    };
  END IF;
  IF OLD.stopped_on IS NOT NULL AND NEW.stopped_on IS NULL AND NOT NEW.entered_in_error THEN
    {
        _raise(
            "stop_is_final",
            '"%s" was stopped on %s; a stop cannot be taken back: add it again from the new '
            "start date",
            "OLD.name",
            "OLD.stopped_on",
        )
    };
  END IF;
  RETURN NEW;
END $$""",
    # Vasodilator steps: agent and unit from the site's list; only on a live challenge.
    "step_rules()": f"""RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  configured_unit text;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.challenge_id <> OLD.challenge_id THEN
    {_raise("challenge_fixed", "A step cannot be moved to another challenge")};
  END IF;
  -- Wait for a session deleting the challenge as entered in error (it updates the
  -- row), and keep it from doing so until this one ends: otherwise a step could be
  -- written to a challenge deleted meanwhile, and the value tally would count it
  -- (0009; the challenge's own writer already holds a stronger lock on it).
  PERFORM FROM {SCHEMA}.vasodilator_challenge c WHERE c.id = NEW.challenge_id FOR SHARE;
  IF NEW.entered_in_error THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT FROM {SCHEMA}.vasodilator_challenge c
              WHERE c.id = NEW.challenge_id AND c.entered_in_error) THEN
    {
        _raise(
            "challenge_live",
            "This vasodilator challenge was deleted as entered in error; its steps cannot change",
        )
    };
  END IF;
  IF NEW.agent IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.agent IS DISTINCT FROM OLD.agent
                                OR NEW.dose_unit IS DISTINCT FROM OLD.dose_unit) THEN
    SELECT e ->> 'unit' INTO configured_unit
      FROM {SCHEMA}.setting s
     CROSS JOIN LATERAL jsonb_array_elements(
             CASE jsonb_typeof(s.value) WHEN 'array' THEN s.value ELSE '[]' END) e
     WHERE s.key = 'vasodilator_agents' AND e ->> 'name' = NEW.agent
     LIMIT 1;
    IF NOT FOUND THEN
      {
        _raise(
            "agent_configured",
            'Vasodilator agent "%s" is not in the list set in Preferences',
            "NEW.agent",
        )
    };
    END IF;
    IF NEW.dose_unit IS NOT NULL AND configured_unit IS DISTINCT FROM NEW.dose_unit THEN
      {
        _raise(
            "dose_unit_matches_agent",
            "The dose of %s is given in %s, not %s",
            "NEW.agent",
            "configured_unit",
            "NEW.dose_unit",
        )
    };
    END IF;
  END IF;
  RETURN NEW;
END $$""",
}

# COMPERA 2.0 grades (see phms_client.clinical.risk for the band edges).
_GRADES = {
    "risk_grade_who_fc(who_fc integer)": """RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN who_fc IN (1, 2) THEN 1 WHEN who_fc = 3 THEN 3 WHEN who_fc = 4 THEN 4 END""",
    "risk_grade_6mwd(distance_m numeric)": """RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN distance_m > 440 THEN 1 WHEN distance_m >= 320 THEN 2
              WHEN distance_m >= 165 THEN 3 WHEN distance_m IS NOT NULL THEN 4 END""",
    "risk_grade_bnp(bnp numeric)": """RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN bnp < 50 THEN 1 WHEN bnp < 200 THEN 2
              WHEN bnp <= 800 THEN 3 WHEN bnp IS NOT NULL THEN 4 END""",
    "risk_grade_nt_probnp(nt_probnp numeric)": """RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN nt_probnp < 300 THEN 1 WHEN nt_probnp < 650 THEN 2
              WHEN nt_probnp <= 1100 THEN 3 WHEN nt_probnp IS NOT NULL THEN 4 END""",
}
_GRADE_SIGNATURES = (
    "risk_grade_who_fc(integer)",
    "risk_grade_6mwd(numeric)",
    "risk_grade_bnp(numeric)",
    "risk_grade_nt_probnp(numeric)",
)


def create_functions() -> list[str]:
    return [f"CREATE FUNCTION {SCHEMA}.{sig} {body}" for sig, body in {**_RULES, **_GRADES}.items()]


def replace_step_rules() -> str:
    """The current ``step_rules`` over an older one (migration 0009)."""
    return f"CREATE OR REPLACE FUNCTION {SCHEMA}.step_rules() {_RULES['step_rules()']}"


def create_triggers() -> list[str]:
    stmts = [
        f"""CREATE TRIGGER entry_rules BEFORE INSERT OR UPDATE ON {SCHEMA}.{t}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.entry_rules()"""
        for t in TABLES
    ]
    stmts += [
        f"""CREATE TRIGGER record_rules BEFORE INSERT OR UPDATE ON {SCHEMA}.{t}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.record_rules()"""
        for t in RECORD_TABLES
    ]
    stmts += [
        f"""CREATE TRIGGER item_rules BEFORE UPDATE ON {SCHEMA}.{t}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.item_rules()"""
        for t in ITEM_TABLES
    ]
    stmts += [
        f"""CREATE TRIGGER step_rules BEFORE INSERT OR UPDATE ON {SCHEMA}.vasodilator_step
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.step_rules()""",
        f"""CREATE TRIGGER baseline_in_use AFTER UPDATE ON {SCHEMA}.assessment
  FOR EACH ROW
  WHEN (OLD.kind = 'assessment' AND NOT OLD.entered_in_error
        AND (NEW.entered_in_error OR NEW.kind <> 'assessment'
             OR NEW.study_date > OLD.study_date))
  EXECUTE FUNCTION {SCHEMA}.baseline_in_use()""",
    ]
    return stmts


def create_views() -> list[str]:
    return [
        # Positive if any step meets all criteria; see phms_client.clinical.vasoreactivity.
        f"""CREATE VIEW {SCHEMA}.vasoreactivity AS
SELECT c.id AS challenge_id, c.patient_id, c.study_date,
       b.mpap_mmhg AS baseline_mpap_mmhg, b.co_l_min AS baseline_co_l_min,
       s.positive_step_no,
       CASE WHEN s.positive_step_no IS NOT NULL THEN 'positive'
            WHEN b.id IS NULL OR s.n_steps = 0 OR s.n_undecided > 0 THEN 'insufficient data'
            ELSE 'negative' END AS result
  FROM {SCHEMA}.vasodilator_challenge c
  LEFT JOIN {SCHEMA}.vasodilator_step b
         ON b.challenge_id = c.id AND b.step_no = 0 AND NOT b.entered_in_error
 CROSS JOIN LATERAL (
        SELECT min(st.step_no) FILTER (WHERE p.pressure_met AND st.co_l_min >= b.co_l_min)
                 AS positive_step_no,
               count(*) AS n_steps,
               count(*) FILTER (WHERE p.pressure_met
                                  AND (st.co_l_min IS NULL OR b.co_l_min IS NULL))
                 AS n_undecided
          FROM {SCHEMA}.vasodilator_step st
         CROSS JOIN LATERAL (
               SELECT b.mpap_mmhg - st.mpap_mmhg >= 10 AND st.mpap_mmhg <= 40 AS pressure_met) p
         WHERE st.challenge_id = c.id AND st.step_no > 0 AND NOT st.entered_in_error) s
 WHERE NOT c.entered_in_error""",
        # Enright & Sherrill 1998; body measures from the nearest assessment.
        f"""CREATE VIEW {SCHEMA}.six_minute_walk_predicted AS
SELECT w.id AS walk_id, w.patient_id, w.study_date, w.distance_m, w.oxygen_l_min,
       p.sex, ag.age_years,
       body.id AS body_assessment_id, body.height_cm, body.weight_kg,
       pred.predicted_m,
       CASE WHEN pred.predicted_m > 0 THEN 100 * w.distance_m / pred.predicted_m END
         AS percent_predicted
  FROM {SCHEMA}.six_minute_walk w
  JOIN {SCHEMA}.patient p ON p.id = w.patient_id
 CROSS JOIN LATERAL (
       SELECT extract(year FROM age(w.study_date, p.birth_date))::integer AS age_years) ag
  LEFT JOIN LATERAL (
       SELECT a.id, a.height_cm, a.weight_kg
         FROM {SCHEMA}.assessment a
        WHERE a.patient_id = w.patient_id AND NOT a.entered_in_error
          AND a.height_cm IS NOT NULL AND a.weight_kg IS NOT NULL
          AND abs(a.study_date - w.study_date) <= {BODY_WINDOW_DAYS}
        ORDER BY abs(a.study_date - w.study_date), a.study_date, a.id DESC
        LIMIT 1) body ON true
 CROSS JOIN LATERAL (
       SELECT CASE p.sex
                WHEN 'male' THEN 7.57 * body.height_cm - 5.02 * ag.age_years
                                 - 1.76 * body.weight_kg - 309
                WHEN 'female' THEN 2.11 * body.height_cm - 2.29 * body.weight_kg
                                   - 5.78 * ag.age_years + 667
              END AS predicted_m) pred
 WHERE NOT w.entered_in_error""",
        # COMPERA 2.0 four strata per assessment (followups and first assessments).
        f"""CREATE VIEW {SCHEMA}.assessment_risk AS
SELECT a.id AS assessment_id, a.patient_id, a.study_date, a.kind,
       a.who_fc, g.fc_grade,
       w.id AS walk_id, w.study_date AS walk_date, w.distance_m AS six_mwd_m, g.walk_grade,
       CASE WHEN a.nt_probnp_pg_ml IS NOT NULL THEN 'NT-proBNP'
            WHEN a.bnp_pg_ml IS NOT NULL THEN 'BNP' END AS peptide,
       coalesce(a.nt_probnp_pg_ml, a.bnp_pg_ml) AS peptide_value,
       g.peptide_grade,
       n.n_variables,
       CASE WHEN n.n_variables >= 2 THEN n.grade_sum::numeric / n.n_variables END AS mean_grade,
       CASE WHEN n.n_variables >= 2
            THEN (2 * n.grade_sum + n.n_variables) / (2 * n.n_variables) END AS risk_stratum,
       CASE WHEN n.n_variables >= 2
            THEN (ARRAY['low', 'intermediate-low', 'intermediate-high', 'high'])
                 [(2 * n.grade_sum + n.n_variables) / (2 * n.n_variables)] END AS risk_label
  FROM {SCHEMA}.assessment a
  LEFT JOIN LATERAL (
       SELECT x.id, x.study_date, x.distance_m
         FROM {SCHEMA}.six_minute_walk x
        WHERE x.patient_id = a.patient_id AND NOT x.entered_in_error
          AND abs(x.study_date - a.study_date) <= {WALK_WINDOW_DAYS}
        ORDER BY abs(x.study_date - a.study_date), x.study_date, x.id DESC
        LIMIT 1) w ON true
 CROSS JOIN LATERAL (
       SELECT {SCHEMA}.risk_grade_who_fc(a.who_fc) AS fc_grade,
              {SCHEMA}.risk_grade_6mwd(w.distance_m) AS walk_grade,
              coalesce({SCHEMA}.risk_grade_nt_probnp(a.nt_probnp_pg_ml),
                       {SCHEMA}.risk_grade_bnp(a.bnp_pg_ml)) AS peptide_grade) g
 CROSS JOIN LATERAL (
       SELECT (g.fc_grade IS NOT NULL)::integer + (g.walk_grade IS NOT NULL)::integer
                + (g.peptide_grade IS NOT NULL)::integer AS n_variables,
              coalesce(g.fc_grade, 0) + coalesce(g.walk_grade, 0)
                + coalesce(g.peptide_grade, 0) AS grade_sum) n
 WHERE NOT a.entered_in_error""",
    ]


def grants() -> list[str]:
    tables = ", ".join(f"{SCHEMA}.{t}" for t in TABLES)
    views = ", ".join(f"{SCHEMA}.{v}" for v in VIEWS)
    functions = ", ".join(f"{SCHEMA}.{f}" for f in _GRADE_SIGNATURES)
    # No DELETE for anyone: Del is 'entered in error'. Admin inherits clinician.
    return [
        f"GRANT SELECT, INSERT, UPDATE ON {tables} TO {CLINICIAN}",
        f"GRANT SELECT ON {views} TO {CLINICIAN}",
        f"GRANT EXECUTE ON FUNCTION {functions} TO {CLINICIAN}",
    ]


def drop_views() -> list[str]:
    return [f"DROP VIEW {SCHEMA}.{v}" for v in reversed(VIEWS)]


def drop_functions() -> list[str]:
    """After the tables (their triggers use the rule functions)."""
    return [f"DROP FUNCTION {SCHEMA}.{sig}" for sig in (*_RULES, *_GRADE_SIGNATURES)]
