"""Risk at diagnosis, haemodynamics that add up, medicines as PAH therapy (migration 0012).

As with ``ddl.py``, once a migration has used a builder, change its output only
together with a new migration.

- ``phms.risk3_grade_*``: the ESC/ERS 2022 three-strata grades, one per variable
  (the band edges are documented in ``phms_client.clinical.risk_diagnosis``).
- ``phms.assessment_risk_at_diagnosis``: per live assessment, every grade, the
  number graded, the mean and the stratum (≥ 3 variables), and ``at_diagnosis``:
  true for the patient's first assessment — the earliest live row of kind
  'assessment' by study date, then by id. Only that row's three strata are shown;
  every later visit shows the four strata of ``phms.assessment_risk``.
- ``phms.pah_therapy_class(name)``: the class of a medicine of the default list
  (= ``phms_client.clinical.therapy.KNOWN_MEDICINES``); ``phms.medication_rules``
  refuses a class on a medicine that is not on the site's list
  (``ck_medication_listed``) or a class that is not the medicine's
  (``ck_medication_class_matches``).
- ``phms.record_before_death`` / ``phms.death_after_records``: every record is on
  or before the date of death (``ck_<table>_study_date_before_death``,
  ``ck_patient_deceased_after_records``).
"""

from __future__ import annotations

from phms_schema.base import SCHEMA
from phms_schema.ddl import CLINICIAN
from phms_schema.ddl_clinical import RECORD_TABLES, WALK_WINDOW_DAYS, _raise

PROGRESSIONS = ("none", "slow", "rapid")
SYNCOPES = ("none", "occasional", "repeated")
#: 'present': recorded as yes before the size was asked (0012 migrates true to it).
EFFUSIONS = ("none", "minimal", "moderate or large", "present")
THERAPY_CLASSES = ("era", "pde5i", "sgc", "prostacyclin", "activin", "ccb", "other")
KNOWN_MEDICINES = {
    "bosentan": "era",
    "ambrisentan": "era",
    "macitentan": "era",
    "sildenafil": "pde5i",
    "tadalafil": "pde5i",
    "riociguat": "sgc",
    "epoprostenol": "prostacyclin",
    "treprostinil": "prostacyclin",
    "iloprost": "prostacyclin",
    "beraprost": "prostacyclin",
    "selexipag": "prostacyclin",
    "sotatercept": "activin",
    "nifedipine": "ccb",
    "diltiazem": "ccb",
    "amlodipine": "ccb",
}

_BODY_OK = "height_cm > 0 AND weight_kg > 0"
_BSA = "sqrt(height_cm * weight_kg / 3600)"
#: Stroke volume index, mL/m²: CI × 1000 / catheter heart rate.
SVI_SQL = (
    f"CASE WHEN {_BODY_OK} AND rhc_heart_rate_bpm > 0"
    f" THEN co_l_min / {_BSA} * 1000 / rhc_heart_rate_bpm ELSE NULL END"
)
#: TAPSE (mm) / sPAP on echo (mmHg), mm/mmHg (e.g. 18 / 50 = 0.36).
TAPSE_SPAP_SQL = "tapse_mm / NULLIF(echo_spap_mmhg, 0)"
#: Consistency rules (PH_DOMAIN.md); an entry deleted as entered in error is exempt.
PAWP_MPAP_SQL = (
    "entered_in_error OR pawp_mmhg IS NULL OR mpap_mmhg IS NULL OR pawp_mmhg <= mpap_mmhg"
)
MPAP_POSITIVE_SQL = "entered_in_error OR mpap_mmhg IS NULL OR mpap_mmhg > 0"
CONSISTENCY = {"valid_pawp_mpap": PAWP_MPAP_SQL, "valid_mpap_positive": MPAP_POSITIVE_SQL}
CONSISTENCY_TABLES = ("assessment", "vasodilator_step")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


ENUM_CHECKS = {
    "assessment": {
        "symptom_progression_known": f"symptom_progression IN {_in(PROGRESSIONS)}",
        "syncope_known": f"syncope IN {_in(SYNCOPES)}",
        "pericardial_effusion_known": f"pericardial_effusion IN {_in(EFFUSIONS)}",
    },
    "medication": {"therapy_class_known": f"therapy_class IN {_in(THERAPY_CLASSES)}"},
}

_GRADES = {
    "risk3_grade_rhf(signs boolean)": "CASE WHEN signs THEN 3 WHEN NOT signs THEN 1 END",
    "risk3_grade_progression(progression text)": (
        "CASE progression WHEN 'none' THEN 1 WHEN 'slow' THEN 2 WHEN 'rapid' THEN 3 END"
    ),
    "risk3_grade_syncope(syncope text)": (
        "CASE syncope WHEN 'none' THEN 1 WHEN 'occasional' THEN 2 WHEN 'repeated' THEN 3 END"
    ),
    "risk3_grade_who_fc(who_fc integer)": (
        "CASE WHEN who_fc IN (1, 2) THEN 1 WHEN who_fc = 3 THEN 2 WHEN who_fc = 4 THEN 3 END"
    ),
    "risk3_grade_6mwd(distance_m numeric)": (
        "CASE WHEN distance_m > 440 THEN 1 WHEN distance_m >= 165 THEN 2"
        " WHEN distance_m IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_bnp(bnp numeric)": (
        "CASE WHEN bnp < 50 THEN 1 WHEN bnp <= 800 THEN 2 WHEN bnp IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_nt_probnp(nt_probnp numeric)": (
        "CASE WHEN nt_probnp < 300 THEN 1 WHEN nt_probnp <= 1100 THEN 2"
        " WHEN nt_probnp IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_ra_area(area numeric)": (
        "CASE WHEN area < 18 THEN 1 WHEN area <= 26 THEN 2 WHEN area IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_tapse_spap(tapse numeric, spap numeric)": (
        "CASE WHEN tapse IS NULL OR spap IS NULL THEN NULL WHEN tapse > 0.32 * spap THEN 1"
        " WHEN tapse >= 0.19 * spap THEN 2 ELSE 3 END"
    ),
    "risk3_grade_effusion(effusion text)": (
        "CASE effusion WHEN 'none' THEN 1 WHEN 'minimal' THEN 2 WHEN 'moderate or large' THEN 3 END"
    ),
    "risk3_grade_peak_vo2(vo2 numeric)": (
        "CASE WHEN vo2 > 15 THEN 1 WHEN vo2 >= 11 THEN 2 WHEN vo2 IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_ve_vco2(slope numeric)": (
        "CASE WHEN slope < 36 THEN 1 WHEN slope <= 44 THEN 2 WHEN slope IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_rap(rap numeric)": (
        "CASE WHEN rap < 8 THEN 1 WHEN rap <= 14 THEN 2 WHEN rap IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_cardiac_index(ci numeric)": (
        "CASE WHEN ci >= 2.5 THEN 1 WHEN ci >= 2.0 THEN 2 WHEN ci IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_svi(svi numeric)": (
        "CASE WHEN svi > 38 THEN 1 WHEN svi >= 31 THEN 2 WHEN svi IS NOT NULL THEN 3 END"
    ),
    "risk3_grade_svo2(svo2 numeric)": (
        "CASE WHEN svo2 > 65 THEN 1 WHEN svo2 >= 60 THEN 2 WHEN svo2 IS NOT NULL THEN 3 END"
    ),
}


def _signature(declaration: str) -> str:
    """``f(a numeric, b text)`` -> ``f(numeric, text)``."""
    name, params = declaration[:-1].split("(")
    return f"{name}({', '.join(p.split()[1] for p in params.split(', '))})"


GRADE_SIGNATURES = tuple(_signature(sig) for sig in _GRADES)
#: View column -> grade expression (``a`` = the assessment, ``w`` = the walk).
GRADE_COLUMNS = {
    "rhf_grade": "risk3_grade_rhf(a.rhf_signs)",
    "progression_grade": "risk3_grade_progression(a.symptom_progression)",
    "syncope_grade": "risk3_grade_syncope(a.syncope)",
    "fc_grade": "risk3_grade_who_fc(a.who_fc)",
    "walk_grade": "risk3_grade_6mwd(w.distance_m)",
    "peptide_grade": (
        f"coalesce({SCHEMA}.risk3_grade_nt_probnp(a.nt_probnp_pg_ml),"
        f" {SCHEMA}.risk3_grade_bnp(a.bnp_pg_ml))"
    ),
    "ra_area_grade": "risk3_grade_ra_area(a.ra_area_cm2)",
    "tapse_spap_grade": "risk3_grade_tapse_spap(a.tapse_mm, a.echo_spap_mmhg)",
    "effusion_grade": "risk3_grade_effusion(a.pericardial_effusion)",
    "peak_vo2_grade": "risk3_grade_peak_vo2(a.peak_vo2_ml_min_kg)",
    "ve_vco2_grade": "risk3_grade_ve_vco2(a.ve_vco2_slope)",
    "rap_grade": "risk3_grade_rap(a.rap_mmhg)",
    "ci_grade": "risk3_grade_cardiac_index(a.cardiac_index_l_min_m2)",
    "svi_grade": "risk3_grade_svi(a.svi_ml_m2)",
    "svo2_grade": "risk3_grade_svo2(a.svo2_pct)",
}


def _qualified(expression: str) -> str:
    return expression if expression.startswith("coalesce") else f"{SCHEMA}.{expression}"


def create_grade_functions() -> list[str]:
    return [
        f"CREATE FUNCTION {SCHEMA}.{sig} RETURNS integer\n"
        f"  LANGUAGE sql IMMUTABLE PARALLEL SAFE\n  RETURN {body}"
        for sig, body in _GRADES.items()
    ]


def create_view() -> str:
    grades = ",\n              ".join(
        f"{_qualified(expr)} AS {name}" for name, expr in GRADE_COLUMNS.items()
    )
    n = " + ".join(f"(g.{name} IS NOT NULL)::integer" for name in GRADE_COLUMNS)
    total = " + ".join(f"coalesce(g.{name}, 0)" for name in GRADE_COLUMNS)
    stratum = "(2 * n.grade_sum + n.n_variables) / (2 * n.n_variables)"
    return f"""CREATE VIEW {SCHEMA}.assessment_risk_at_diagnosis AS
SELECT a.id AS assessment_id, a.patient_id, a.study_date, a.kind,
       (a.kind = 'assessment' AND NOT EXISTS (
          SELECT FROM {SCHEMA}.assessment e
           WHERE e.patient_id = a.patient_id AND e.kind = 'assessment'
             AND NOT e.entered_in_error
             AND (e.study_date, e.id) < (a.study_date, a.id))) AS at_diagnosis,
       w.id AS walk_id, w.study_date AS walk_date, w.distance_m AS six_mwd_m,
       CASE WHEN a.nt_probnp_pg_ml IS NOT NULL THEN 'NT-proBNP'
            WHEN a.bnp_pg_ml IS NOT NULL THEN 'BNP' END AS peptide,
       coalesce(a.nt_probnp_pg_ml, a.bnp_pg_ml) AS peptide_value,
       a.cardiac_index_l_min_m2, a.svi_ml_m2, a.tapse_spap_ratio,
       g.*,
       n.n_variables,
       CASE WHEN n.n_variables >= 3 THEN n.grade_sum::numeric / n.n_variables END AS mean_grade,
       CASE WHEN n.n_variables >= 3 THEN {stratum} END AS risk_stratum,
       CASE WHEN n.n_variables >= 3
            THEN (ARRAY['low', 'intermediate', 'high'])[{stratum}] END AS risk_label
  FROM {SCHEMA}.assessment a
  LEFT JOIN LATERAL (
       SELECT x.id, x.study_date, x.distance_m
         FROM {SCHEMA}.six_minute_walk x
        WHERE x.patient_id = a.patient_id AND NOT x.entered_in_error
          AND abs(x.study_date - a.study_date) <= {WALK_WINDOW_DAYS}
        ORDER BY abs(x.study_date - a.study_date), x.study_date, x.id DESC
        LIMIT 1) w ON true
 CROSS JOIN LATERAL (
       SELECT {grades}) g
 CROSS JOIN LATERAL (
       SELECT {n} AS n_variables,
              {total} AS grade_sum) n
 WHERE NOT a.entered_in_error"""


def _known_medicines_case(name: str) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in KNOWN_MEDICINES.items())
    return f"CASE {name} {whens} END"


def create_functions() -> list[str]:
    key = "lower(regexp_replace(btrim(name), '\\s+', ' ', 'g'))"
    return [
        *create_grade_functions(),
        f"""CREATE FUNCTION {SCHEMA}.pah_therapy_class(name text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN {_known_medicines_case(key)}""",
        f"""CREATE FUNCTION {SCHEMA}.medication_rules() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  entry text;
BEGIN
  IF NEW.entered_in_error THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.name IS NOT DISTINCT FROM OLD.name
     AND NEW.therapy_class IS NOT DISTINCT FROM OLD.therapy_class THEN
    RETURN NEW;
  END IF;
  SELECT e INTO entry
    FROM {SCHEMA}.setting s
   CROSS JOIN LATERAL jsonb_array_elements_text(
           CASE jsonb_typeof(s.value) WHEN 'array' THEN s.value ELSE '[]' END) e
   WHERE s.key = 'pah_medicines'
     AND lower(regexp_replace(btrim(e), '\\s+', ' ', 'g'))
         = lower(regexp_replace(btrim(NEW.name), '\\s+', ' ', 'g'))
   LIMIT 1;
  IF entry IS NULL THEN
    IF NEW.therapy_class IS NOT NULL THEN
      {
            _raise(
                "ck_medication_listed",
                '"%s" is not in the list of PAH medicines set in Preferences; save it as free '
                "text (no therapy class) or pick it from the list",
                "NEW.name",
            )
        };
    END IF;
    RETURN NEW;  -- typed freely: no class
  END IF;
  -- On the list: stored as that entry, with its class, whatever the client sent.
  IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
    NEW.name := entry;
  END IF;
  IF NEW.therapy_class IS NULL THEN
    NEW.therapy_class := coalesce({SCHEMA}.pah_therapy_class(entry), 'other');
  ELSIF NEW.therapy_class <> coalesce({SCHEMA}.pah_therapy_class(entry), 'other') THEN
    {
            _raise(
                "ck_medication_class_matches",
                "%s is not a medicine of class %s",
                "NEW.name",
                "NEW.therapy_class",
            )
        };
  END IF;
  RETURN NEW;
END $$""",
        f"""CREATE FUNCTION {SCHEMA}.record_before_death() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  died date;
BEGIN
  IF NEW.entered_in_error THEN
    RETURN NEW;
  END IF;
  SELECT deceased_date INTO died FROM {SCHEMA}.patient WHERE id = NEW.patient_id;
  IF NEW.study_date > died THEN
    {
            _raise(
                "study_date_before_death",
                "The study date %s is after the patient's date of death (%s)",
                "NEW.study_date",
                "died",
            )
        };
  END IF;
  RETURN NEW;
END $$""",
        f"""CREATE FUNCTION {SCHEMA}.death_after_records() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT FROM {SCHEMA}.assessment r WHERE r.patient_id = NEW.id
               AND NOT r.entered_in_error AND r.study_date > NEW.deceased_date)
     OR EXISTS (SELECT FROM {SCHEMA}.vasodilator_challenge r WHERE r.patient_id = NEW.id
               AND NOT r.entered_in_error AND r.study_date > NEW.deceased_date)
     OR EXISTS (SELECT FROM {SCHEMA}.six_minute_walk r WHERE r.patient_id = NEW.id
               AND NOT r.entered_in_error AND r.study_date > NEW.deceased_date) THEN
    {
            _raise(
                "ck_patient_deceased_after_records",
                "The patient has a clinical record dated after %s; check the date of death",
                "NEW.deceased_date",
            )
        };
  END IF;
  RETURN NEW;
END $$""",
    ]


def create_triggers() -> list[str]:
    stmts = [
        f"""CREATE TRIGGER record_before_death BEFORE INSERT OR UPDATE ON {SCHEMA}.{t}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.record_before_death()"""
        for t in RECORD_TABLES
    ]
    stmts += [
        f"""CREATE TRIGGER medication_rules BEFORE INSERT OR UPDATE ON {SCHEMA}.medication
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.medication_rules()""",
        f"""CREATE TRIGGER death_after_records BEFORE INSERT OR UPDATE OF deceased_date
  ON {SCHEMA}.patient FOR EACH ROW WHEN (NEW.deceased_date IS NOT NULL)
  EXECUTE FUNCTION {SCHEMA}.death_after_records()""",
    ]
    return stmts


def grants() -> list[str]:
    functions = ", ".join(f"{SCHEMA}.{f}" for f in (*GRADE_SIGNATURES, "pah_therapy_class(text)"))
    return [
        f"GRANT SELECT ON {SCHEMA}.assessment_risk_at_diagnosis TO {CLINICIAN}",
        f"GRANT EXECUTE ON FUNCTION {functions} TO {CLINICIAN}",
    ]


def drop_triggers() -> list[str]:
    stmts = [f"DROP TRIGGER record_before_death ON {SCHEMA}.{t}" for t in RECORD_TABLES]
    return [
        *stmts,
        f"DROP TRIGGER medication_rules ON {SCHEMA}.medication",
        f"DROP TRIGGER death_after_records ON {SCHEMA}.patient",
    ]


def drop_functions() -> list[str]:
    names = (
        *GRADE_SIGNATURES,
        "pah_therapy_class(text)",
        "medication_rules()",
        "record_before_death()",
        "death_after_records()",
    )
    return [f"DROP FUNCTION {SCHEMA}.{n}" for n in names]
