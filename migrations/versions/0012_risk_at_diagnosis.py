"""Risk at diagnosis (ESC/ERS 2022 three strata), haemodynamics that add up, PAH therapy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Assessment:
- new columns (all nullable, so no existing row changes): signs of right heart
  failure, progression of symptoms, syncope, sPAP on echo, peak VO2 and VE/VCO2
  slope (optional CPET); generated: stroke volume index (CI × 1000 / catheter HR)
  and TAPSE/sPAP;
- ``pericardial_effusion`` becomes none / minimal / moderate or large. Old rows:
  false → 'none', true → 'present' (present, size not recorded: kept, shown, and
  not graded, because the size decides the grade); NULL stays NULL.

Consistency (PH_DOMAIN.md) on ``assessment`` and ``vasodilator_step``: PAWP ≤ mPAP
(``valid_pawp_mpap``) and mPAP > 0 (``valid_mpap_positive``). An existing row
that breaks a rule is kept as it is, never changed or dropped: the constraint is
added NOT VALID (new and changed rows must keep it; a row deleted as entered in
error is exempt) and validated at once when no row breaks it, which is the case in
every clinic without such typing errors. Correcting such a row means fixing the
value or deleting the record as entered in error.

Medication: ``therapy_class`` (NULL = typed freely, not on the list). Existing
rows whose name is on the site's ``pah_medicines`` list (any case or spacing) get
the class of that entry; names are not rewritten. Rows deleted as entered in
error are not touched (they are final).

Records after death are refused from now on (triggers); existing rows stay.

Clinic letter: where a template still holds 0005's risk section or medicines
heading word for word (the shipped letter, or a site's copy that kept them), they
are replaced by the two risk scales with the PAH therapy at each point and the
current PAH therapy. Other templates are left alone; ``risk.risk_label`` is empty
at diagnosis from now on (``docs/reports.md``). The cohort statistics
(``phms.cohort_statistics``, edited in its own text) count the four strata at
follow-up only and the three strata at diagnosis apart; the cohort report's risk
table is split the same way where it is still 0005's.

Downgrade drops the new columns, view, functions and triggers and turns the
effusion back into yes/no (every size → true).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema import ddl_diagnosis as dx
from phms_schema import ddl_limits
from phms_schema.roles import OWNER

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Literal snapshot (the model's copy is phms_schema.assessment.RANGES).
NEW_RANGES = {
    "echo_spap_mmhg": ("5", "250"),
    "peak_vo2_ml_min_kg": ("1", "80"),
    "ve_vco2_slope": ("10", "100"),
}
NEW_NUMBERS = ("echo_spap_mmhg", "peak_vo2_ml_min_kg", "ve_vco2_slope")


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _assessment() -> None:
    # One ALTER: one rewrite of the table for the type change and the generated columns.
    op.execute(
        "ALTER TABLE phms.assessment"
        " ALTER COLUMN pericardial_effusion TYPE text USING"
        "   CASE pericardial_effusion WHEN true THEN 'present' WHEN false THEN 'none' END,"
        " ADD COLUMN echo_spap_mmhg numeric,"
        " ADD COLUMN rhf_signs boolean,"
        " ADD COLUMN symptom_progression text,"
        " ADD COLUMN syncope text,"
        " ADD COLUMN peak_vo2_ml_min_kg numeric,"
        " ADD COLUMN ve_vco2_slope numeric,"
        f" ADD COLUMN svi_ml_m2 numeric GENERATED ALWAYS AS ({dx.SVI_SQL}) STORED,"
        f" ADD COLUMN tapse_spap_ratio numeric GENERATED ALWAYS AS ({dx.TAPSE_SPAP_SQL}) STORED"
    )
    checks = {
        **{f"{c}_range": f"{c} BETWEEN {lo} AND {hi}" for c, (lo, hi) in NEW_RANGES.items()},
        **dx.ENUM_CHECKS["assessment"],
    }
    for name, sql in checks.items():
        op.execute(f"ALTER TABLE phms.assessment ADD CONSTRAINT ck_assessment_{name} CHECK ({sql})")


def _consistency() -> None:
    """NOT VALID first (keeps every old row), then validated where nothing breaks it."""
    for table in dx.CONSISTENCY_TABLES:
        for name, sql in dx.CONSISTENCY.items():
            constraint = f"ck_{table}_{name}"
            op.execute(
                f"ALTER TABLE phms.{table} ADD CONSTRAINT {constraint} CHECK ({sql}) NOT VALID"
            )
            op.execute(
                f"""DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM phms.{table} WHERE NOT ({sql})) THEN
    ALTER TABLE phms.{table} VALIDATE CONSTRAINT {constraint};
  ELSE
    RAISE NOTICE '{table}: rows breaking {constraint} are kept; new and changed rows keep it';
  END IF;
END $$"""
            )


def _medication() -> None:
    op.add_column("medication", sa.Column("therapy_class", sa.Text()), schema="phms")
    for name, sql in dx.ENUM_CHECKS["medication"].items():
        op.execute(f"ALTER TABLE phms.medication ADD CONSTRAINT ck_medication_{name} CHECK ({sql})")
    op.execute(
        """UPDATE phms.medication m
   SET therapy_class = coalesce(phms.pah_therapy_class(m.name), 'other')
 WHERE NOT m.entered_in_error
   AND EXISTS (
       SELECT FROM phms.setting s
        CROSS JOIN LATERAL jsonb_array_elements_text(
                CASE jsonb_typeof(s.value) WHEN 'array' THEN s.value ELSE '[]' END) e
        WHERE s.key = 'pah_medicines'
          AND lower(regexp_replace(btrim(e), '\\s+', ' ', 'g'))
              = lower(regexp_replace(btrim(m.name), '\\s+', ' ', 'g')))"""
    )


#: 0005's clinic letter sections (literal) and what replaces them.
OLD_RISK = """<h3>Risk (COMPERA 2.0, four strata)</h3>
{% if risk %}<p>Latest: <b>{{ risk.risk_label }}</b> ({{ risk.study_date|day }}"""
NEW_RISK = """<h3>Risk</h3>
{% if risk %}<p>Latest: <b>{{ risk.label }}</b>, {{ risk.scale }} ({{ risk.study_date|day }}"""
OLD_COURSE = """<tr><th>Date</th><th>Risk stratum</th></tr>
{% for r in risk_course %}<tr><td>{{ r.study_date|day }}</td><td>{{ r.risk_label }}</td></tr>"""
NEW_COURSE = """<tr><th>Date</th><th>Scale</th><th>Risk stratum</th><th>PAH therapy</th></tr>
{% for r in risk_course %}<tr><td>{{ r.study_date|day }}</td><td>{{ r.scale }}</td>
<td>{{ r.label }}</td><td>{{ r.therapy }}</td></tr>"""
OLD_MEDICINES = """<h3>Current medicines</h3>
"""
NEW_MEDICINES = """<h3>Current medicines</h3>
<p><b>PAH therapy:</b> {{ pah_therapy.text }} (as of {{ as_of|day }}).</p>
"""
LETTER_EDITS = ((OLD_RISK, NEW_RISK), (OLD_COURSE, NEW_COURSE), (OLD_MEDICINES, NEW_MEDICINES))
#: The shipped letter's heading called it a "clinic summary"; it is the Clinic letter.
#: Edited on its own, so a site that changed the heading keeps its own.
HEADING_EDITS = ((" — clinic summary</h2>", " — Clinic letter</h2>"),)


#: ``phms.cohort_statistics`` (0005): the four strata count follow-up visits only, and
#: the three strata at diagnosis are counted apart. Edited in the function's own text.
OLD_COHORT_RISK = """    FROM phms.assessment_risk r
   WHERE r.risk_stratum IS NOT NULL"""
NEW_COHORT_RISK = """    FROM phms.assessment_risk r
    JOIN phms.assessment_risk_at_diagnosis d
      ON d.assessment_id = r.assessment_id AND NOT d.at_diagnosis
   WHERE r.risk_stratum IS NOT NULL"""
OLD_COHORT_SELECT = """)
SELECT jsonb_build_object("""
NEW_COHORT_SELECT = """), dx AS (
  SELECT d.patient_id, d.risk_stratum
    FROM phms.assessment_risk_at_diagnosis d
   WHERE d.at_diagnosis AND d.risk_stratum IS NOT NULL
     AND d.study_date >= coalesce(p_from, '-infinity'::date)
     AND d.study_date <= coalesce(p_to, 'infinity'::date)
)
SELECT jsonb_build_object("""
OLD_COHORT_KEY = """  'walks_by_year', coalesce(("""
NEW_COHORT_KEY = """  'risk_at_diagnosis', coalesce((
    SELECT jsonb_agg(jsonb_build_object('value', v, 'n', n) ORDER BY v)
      FROM (SELECT risk_stratum AS v, count(*) AS n FROM dx GROUP BY 1) x), '[]'::jsonb),
  'walks_by_year', coalesce(("""
COHORT_EDITS = (
    (OLD_COHORT_RISK, NEW_COHORT_RISK),
    (OLD_COHORT_SELECT, NEW_COHORT_SELECT),
    (OLD_COHORT_KEY, NEW_COHORT_KEY),
)
#: The cohort report's risk table (0005) and the two that replace it.
OLD_COHORT_TABLE = """<h3>Risk strata (latest in the period)</h3>"""
NEW_COHORT_TABLE = """\
<h3>Risk at diagnosis (ESC/ERS 2022, 3 strata; first assessment in the period)</h3>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Risk</th><th>Patients</th><th>%</th></tr>
{% for row in cohort.risk_at_diagnosis %}<tr><td>{{ row.label }}</td><td>{{ row.n }}</td>
<td>{{ row.percent|num }}</td></tr>
{% endfor %}</table>

<h3>Risk at follow-up (COMPERA 2.0, 4 strata; latest in the period)</h3>"""


def _edit_cohort_function(edits: tuple[tuple[str, str], ...]) -> None:
    """Apply the edits to the function's own definition when it holds all of them."""
    bind = op.get_bind()
    definition = bind.execute(
        sa.text("SELECT pg_get_functiondef('phms.cohort_statistics(date, date)'::regprocedure)")
    ).scalar_one()
    if all(old in definition for old, _ in edits):
        for old, new in edits:
            definition = definition.replace(old, new)
        bind.exec_driver_sql(definition)


def _edit_templates(kind: str, edits: tuple[tuple[str, str], ...]) -> None:
    params = {f"o{n}": old for n, (old, _) in enumerate(edits)}
    params |= {f"n{n}": new for n, (_, new) in enumerate(edits)}
    body = "body"
    for n in range(len(edits)):
        body = f"replace({body}, :o{n}, :n{n})"
    holds = " AND ".join(f"strpos(body, :o{n}) > 0" for n in range(len(edits)))
    update = f"UPDATE phms.report_template SET body = {body} WHERE kind = :kind AND {holds}"
    op.get_bind().execute(sa.text(update), {**params, "kind": kind})


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    _assessment()
    _consistency()
    _run(dx.create_functions())
    _medication()
    _run(dx.create_triggers())
    op.execute(dx.create_view())
    _run(dx.grants())
    # Length and character limits of the new text columns, as 0011 gave every other.
    for table in ddl_limits.checked_tables("0012"):
        op.execute(ddl_limits.add_checks(table, "0012"))
    _edit_templates("individual", LETTER_EDITS)
    _edit_templates("individual", HEADING_EDITS)
    _edit_templates("statistical", ((OLD_COHORT_TABLE, NEW_COHORT_TABLE),))
    _edit_cohort_function(COHORT_EDITS)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    _edit_cohort_function(tuple((new, old) for old, new in COHORT_EDITS))
    _edit_templates("statistical", ((NEW_COHORT_TABLE, OLD_COHORT_TABLE),))
    _edit_templates("individual", tuple((new, old) for old, new in HEADING_EDITS))
    _edit_templates("individual", tuple((new, old) for old, new in LETTER_EDITS))
    for table in ddl_limits.checked_tables("0012"):
        op.execute(ddl_limits.drop_checks(table, "0012"))
    op.execute("DROP VIEW phms.assessment_risk_at_diagnosis")
    _run(dx.drop_triggers())
    _run(dx.drop_functions())
    op.drop_column("medication", "therapy_class", schema="phms")
    for table in dx.CONSISTENCY_TABLES:
        for name in dx.CONSISTENCY:
            op.execute(f"ALTER TABLE phms.{table} DROP CONSTRAINT ck_{table}_{name}")
    op.execute(
        "ALTER TABLE phms.assessment"
        " DROP COLUMN svi_ml_m2, DROP COLUMN tapse_spap_ratio,"
        " DROP COLUMN echo_spap_mmhg, DROP COLUMN rhf_signs, DROP COLUMN symptom_progression,"
        " DROP COLUMN syncope, DROP COLUMN peak_vo2_ml_min_kg, DROP COLUMN ve_vco2_slope,"
        " DROP CONSTRAINT ck_assessment_pericardial_effusion_known,"
        " ALTER COLUMN pericardial_effusion TYPE boolean USING"
        "   CASE WHEN pericardial_effusion IS NULL THEN NULL"
        "        ELSE pericardial_effusion <> 'none' END"
    )
    op.execute("RESET ROLE")
