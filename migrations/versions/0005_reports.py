"""Reports: site-editable templates, cohort statistics, the registry export's key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

A frozen snapshot: the default templates and the SQL below are literal text
here; later changes go in a new migration.

- ``phms.report_template``: audited and versioned; admins write, clinicians
  read every template, auditors only statistical ones (row-level security).
- ``phms.cohort_statistics(from, to)``: the statistical report's aggregates,
  SECURITY DEFINER so that auditors get counts and distributions without any
  right on the clinical tables.
- ``phms.site_secret`` + ``phms.registry_secret()``: the registry export's HMAC
  key, generated here with Python's ``secrets`` (no pgcrypto), readable only by
  admins through the function, which audits every read. Not audited itself
  (the trail would copy the key).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from phms_schema.roles import OWNER

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDITED = [
    """CREATE TRIGGER stamp_row BEFORE INSERT OR UPDATE ON phms.report_template
  FOR EACH ROW EXECUTE FUNCTION phms.stamp_row()""",
    """CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON phms.report_template
  FOR EACH ROW EXECUTE FUNCTION audit.log_change('id')""",
    """CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON phms.report_template
  FOR EACH ROW EXECUTE FUNCTION phms.notify_change('id')""",
]

TEMPLATE_RIGHTS = [
    "ALTER TABLE phms.report_template ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY clinical_staff ON phms.report_template TO phms_clinician
  USING (true) WITH CHECK (true)""",
    """CREATE POLICY auditors_statistical ON phms.report_template FOR SELECT TO phms_auditor
  USING (kind = 'statistical')""",
    "GRANT SELECT ON phms.report_template TO phms_clinician, phms_auditor",
    "GRANT INSERT, UPDATE, DELETE ON phms.report_template TO phms_admin",
]

COHORT_STATISTICS = """CREATE FUNCTION phms.cohort_statistics(p_from date, p_to date)
  RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
WITH a AS (
  SELECT a.id, a.patient_id, a.study_date, a.who_fc
    FROM phms.assessment a
   WHERE NOT a.entered_in_error
     AND a.study_date >= coalesce(p_from, '-infinity'::date)
     AND a.study_date <= coalesce(p_to, 'infinity'::date)
), w AS (
  SELECT w.patient_id, w.study_date, w.distance_m
    FROM phms.six_minute_walk w
   WHERE NOT w.entered_in_error
     AND w.study_date >= coalesce(p_from, '-infinity'::date)
     AND w.study_date <= coalesce(p_to, 'infinity'::date)
), cohort AS (
  SELECT p.id, p.ph_group, p.sex, p.status
    FROM phms.patient p
   WHERE p.id IN (SELECT patient_id FROM a UNION SELECT patient_id FROM w)
), fc AS (
  SELECT DISTINCT ON (patient_id) patient_id, who_fc
    FROM a WHERE who_fc IS NOT NULL
   ORDER BY patient_id, study_date DESC, id DESC
), risk AS (
  SELECT DISTINCT ON (r.patient_id) r.patient_id, r.risk_stratum
    FROM phms.assessment_risk r
   WHERE r.risk_stratum IS NOT NULL
     AND r.study_date >= coalesce(p_from, '-infinity'::date)
     AND r.study_date <= coalesce(p_to, 'infinity'::date)
   ORDER BY r.patient_id, r.study_date DESC, r.assessment_id DESC
)
SELECT jsonb_build_object(
  'registered', (SELECT count(*) FROM phms.patient),
  'seen', (SELECT count(*) FROM cohort),
  'by_group', coalesce((SELECT jsonb_agg(jsonb_build_object('value', v, 'n', n)
                                         ORDER BY v NULLS LAST)
                          FROM (SELECT ph_group AS v, count(*) AS n FROM cohort GROUP BY 1) x),
                       '[]'::jsonb),
  'by_sex', coalesce((SELECT jsonb_agg(jsonb_build_object('value', v, 'n', n) ORDER BY v)
                        FROM (SELECT sex AS v, count(*) AS n FROM cohort GROUP BY 1) x),
                     '[]'::jsonb),
  'by_status', coalesce((SELECT jsonb_agg(jsonb_build_object('value', v, 'n', n) ORDER BY v)
                           FROM (SELECT status AS v, count(*) AS n FROM cohort GROUP BY 1) x),
                        '[]'::jsonb),
  'who_fc', coalesce((SELECT jsonb_agg(jsonb_build_object('value', v, 'n', n) ORDER BY v)
                        FROM (SELECT who_fc AS v, count(*) AS n FROM fc GROUP BY 1) x),
                     '[]'::jsonb),
  'risk', coalesce((SELECT jsonb_agg(jsonb_build_object('value', v, 'n', n) ORDER BY v)
                      FROM (SELECT risk_stratum AS v, count(*) AS n FROM risk GROUP BY 1) x),
                   '[]'::jsonb),
  'walks_by_year', coalesce((
    SELECT jsonb_agg(to_jsonb(x) ORDER BY x.year)
      FROM (SELECT extract(year FROM study_date)::integer AS year,
                   count(*) AS walks,
                   count(DISTINCT patient_id) AS patients,
                   avg(distance_m) AS mean_m,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY distance_m) AS median_m,
                   percentile_cont(0.25) WITHIN GROUP (ORDER BY distance_m) AS q1_m,
                   percentile_cont(0.75) WITHIN GROUP (ORDER BY distance_m) AS q3_m,
                   min(distance_m) AS min_m,
                   max(distance_m) AS max_m
              FROM w GROUP BY 1) x), '[]'::jsonb)
)
$$"""

SECRET = [
    """CREATE FUNCTION phms.registry_secret() RETURNS bytea
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  s bytea;
BEGIN
  IF NOT pg_has_role(session_user, 'phms_admin', 'MEMBER') THEN
    RAISE EXCEPTION 'Only admins may use the registry export key'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT value INTO s FROM phms.site_secret WHERE name = 'registry_hmac';
  PERFORM audit.log_action('site_secret', 'registry_hmac', 'READ', NULL);
  RETURN s;
END $$""",
    "REVOKE ALL ON phms.site_secret FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION phms.registry_secret() TO phms_admin",
    "GRANT EXECUTE ON FUNCTION phms.cohort_statistics(date, date) TO phms_clinician, phms_auditor",
]

LETTER = """<h2>{{ clinic.hospital_id or "Pulmonary hypertension clinic" }} — clinic summary</h2>
<p><b>{{ patient.name }}</b>, {{ patient.sex }}, born {{ patient.birth_date|day }}
({{ patient.age }} years)<br>
Patient ID {{ patient.code }}{% if patient.address %}<br>{{ patient.address }}{% endif %}</p>

<h3>Diagnosis</h3>
<p>{{ diagnosis.group_name }}{% if diagnosis.subtype %}, {{ diagnosis.subtype }}{% endif %}
{% if diagnosis.ph_class %}<br>Haemodynamic classification: {{ diagnosis.ph_class }}
({{ diagnosis.ph_class_date|day }}){% endif %}</p>

{% if body %}<h3>Height and weight</h3>
<p>Height {{ body.height_cm|num }} cm, weight {{ body.weight_kg|num(1) }} kg
{%- if body.weight_to_ideal and body.weight_to_ideal > 1.5 %} (Obese){% endif %}
{%- if body.bmi %}, BMI {{ body.bmi|num(1) }} kg/m²{% endif %} ({{ body.study_date|day }})</p>
{% endif %}

<h3>Current medicines</h3>
{% if medications %}<ul>
{% for m in medications %}<li>{{ m.name }}{% if m.details %} — {{ m.details }}{% endif %} (since
{{ m.started_on|day }})</li>
{% endfor %}</ul>{% else %}<p>None recorded.</p>{% endif %}
{% if allergies %}<p><b>Allergies:</b> {% for a in allergies %}{{ a.name }}
{%- if a.details %} ({{ a.details }}){% endif %}{% if not loop.last %}, {% endif %}
{%- endfor %}</p>{% endif %}
{% if comorbidities %}<p><b>Other diagnoses:</b> {% for c in comorbidities %}{{ c.name }}
{%- if not loop.last %}, {% endif %}{% endfor %}</p>{% endif %}

<h3>Latest haemodynamics</h3>
{% if haemodynamics %}<p>Right heart catheter of {{ haemodynamics.study_date|day }}</p>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>RAP</th><th>mPAP</th><th>PAWP</th><th>CO</th><th>CI</th><th>PVR</th><th>SvO2</th></tr>
<tr><td>{{ haemodynamics.rap_mmhg|num }} mmHg</td><td>{{ haemodynamics.mpap_mmhg|num }} mmHg</td>
<td>{{ haemodynamics.pawp_mmhg|num }} mmHg</td><td>{{ haemodynamics.co_l_min|num(1) }} L/min</td>
<td>{{ haemodynamics.cardiac_index_l_min_m2|num(1) }} L/min/m²</td>
<td>{{ haemodynamics.pvr_wu|num(1) }} WU</td><td>{{ haemodynamics.svo2_pct|num }} %</td></tr>
</table>{% else %}<p>No right heart catheter recorded.</p>{% endif %}

<h3>Latest 6-minute walk</h3>
{% if walk %}<p>{{ walk.distance_m|num }} m on {{ walk.study_date|day }}
{%- if walk.percent_predicted %} ({{ walk.percent_predicted|num }} % of predicted){% endif %},
{% if walk.oxygen_l_min %}with {{ walk.oxygen_l_min|num(1) }} L/min oxygen
{%- else %}on room air{% endif %}.</p>
{% else %}<p>No walk recorded.</p>{% endif %}

<h3>Risk (COMPERA 2.0, four strata)</h3>
{% if risk %}<p>Latest: <b>{{ risk.risk_label }}</b> ({{ risk.study_date|day }}
{%- if risk.who_fc %}; WHO-FC {{ risk.who_fc|roman }}{% endif %}
{%- if risk.six_mwd_m is not none %}; 6MWD {{ risk.six_mwd_m|num }} m{% endif %}
{%- if risk.peptide %}; {{ risk.peptide }} {{ risk.peptide_value|num }} pg/mL{% endif %})</p>
{% if risk_course|length > 1 %}<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Date</th><th>Risk stratum</th></tr>
{% for r in risk_course %}<tr><td>{{ r.study_date|day }}</td><td>{{ r.risk_label }}</td></tr>
{% endfor %}</table>{% endif %}
{% else %}<p>Not enough data for a risk stratum.</p>{% endif %}

<p><small>Printed {{ today|day }} by {{ clinic.printed_by }}.</small></p>
"""

COHORT = """<h2>{{ clinic.hospital_id or "Pulmonary hypertension clinic" }} — cohort report</h2>
<p>Period: {{ period.label }}. Patients seen in the period: <b>{{ cohort.seen }}</b>
(of {{ cohort.registered }} registered).</p>

<h3>Patients by PH group</h3>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>PH group</th><th>Patients</th><th>%</th></tr>
{% for row in cohort.by_group %}<tr><td>{{ row.label }}</td><td>{{ row.n }}</td>
<td>{{ row.percent|num }}</td></tr>
{% endfor %}</table>

<h3>WHO functional class (latest in the period)</h3>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>WHO-FC</th><th>Patients</th><th>%</th></tr>
{% for row in cohort.who_fc %}<tr><td>{{ row.label }}</td><td>{{ row.n }}</td>
<td>{{ row.percent|num }}</td></tr>
{% endfor %}</table>

<h3>Risk strata (latest in the period)</h3>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Risk</th><th>Patients</th><th>%</th></tr>
{% for row in cohort.risk %}<tr><td>{{ row.label }}</td><td>{{ row.n }}</td>
<td>{{ row.percent|num }}</td></tr>
{% endfor %}</table>

<h3>6-minute walk distance by year</h3>
{% if cohort.walks_by_year %}<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Year</th><th>Walks</th><th>Patients</th><th>Mean (m)</th><th>Median (m)</th>
<th>Quartiles (m)</th><th>Range (m)</th></tr>
{% for y in cohort.walks_by_year %}<tr><td>{{ y.year }}</td><td>{{ y.walks }}</td>
<td>{{ y.patients }}</td><td>{{ y.mean_m|num }}</td><td>{{ y.median_m|num }}</td>
<td>{{ y.q1_m|num }}–{{ y.q3_m|num }}</td><td>{{ y.min_m|num }}–{{ y.max_m|num }}</td></tr>
{% endfor %}</table>{% else %}<p>No walks in the period.</p>{% endif %}

<p><small>Printed {{ today|day }} by {{ clinic.printed_by }}. Aggregates only; no patient
is named.</small></p>
"""

TEMPLATES = [
    {
        "name": "Clinic letter",
        "kind": "individual",
        "description": "One patient: demographics, diagnosis, medicines, latest "
        "haemodynamics and walk, risk stratum and its course.",
        "body": LETTER,
    },
    {
        "name": "Cohort report",
        "kind": "statistical",
        "description": "Patients by PH group, WHO-FC and risk strata, walk distances by year.",
        "body": COHORT,
    },
]


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.create_table(
        "report_template",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        sa.CheckConstraint("kind IN ('individual', 'statistical')", name="kind_known"),
        sa.CheckConstraint("length(body) <= 200000", name="body_size"),
        sa.PrimaryKeyConstraint("id", name="pk_report_template"),
        sa.UniqueConstraint("name", name="uq_report_template_name"),
        schema="phms",
    )
    for statement in AUDITED + TEMPLATE_RIGHTS:
        op.execute(statement)
    templates = sa.table(
        "report_template",
        sa.column("name", sa.Text()),
        sa.column("kind", sa.Text()),
        sa.column("description", sa.Text()),
        sa.column("body", sa.Text()),
        schema="phms",
    )
    op.bulk_insert(templates, TEMPLATES)

    op.create_table(
        "site_secret",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("length(value) >= 32", name="value_long_enough"),
        sa.PrimaryKeyConstraint("name", name="pk_site_secret"),
        schema="phms",
    )
    op.execute(
        sa.text(
            "INSERT INTO phms.site_secret (name, value) VALUES ('registry_hmac', :v)"
        ).bindparams(sa.bindparam("v", secrets.token_bytes(32), type_=sa.LargeBinary()))
    )
    op.execute(COHORT_STATISTICS)
    for statement in SECRET:
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    op.execute("DROP FUNCTION phms.registry_secret()")
    op.execute("DROP FUNCTION phms.cohort_statistics(date, date)")
    op.drop_table("site_secret", schema="phms")
    op.drop_table("report_template", schema="phms")
    op.execute("RESET ROLE")
