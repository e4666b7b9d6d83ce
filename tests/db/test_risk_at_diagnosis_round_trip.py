"""The values of migration 0012 make the whole trip: service → database → chart → report →
registry export, each as the role that does it (clinician writes and prints, admin exports).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.reports.engine import format_day, render
from phms_client.services import chart, registry_export, reports
from phms_client.services.chart import AssessmentInput, ItemInput, WalkInput
from tests.db.clinical_data import TODAY, add_patient
from tests.harness import PgDatabase

D = Decimal
FIRST = TODAY - dt.timedelta(days=200)
LATER = TODAY - dt.timedelta(days=20)
NEW_VALUES = {
    "rhf_signs": True,
    "symptom_progression": "rapid",
    "syncope": "occasional",
    "pericardial_effusion": "moderate or large",
    "echo_spap_mmhg": D(80),
    "tapse_mm": D(14),
    "peak_vo2_ml_min_kg": D("10.5"),
    "ve_vco2_slope": D(48),
}
TEMPLATE = """{{ latest_assessment.symptom_progression }}|{{ latest_assessment.syncope }}|
{{- latest_assessment.pericardial_effusion }}|{{ latest_assessment.peak_vo2_ml_min_kg|num(1) }}|
{{- latest_assessment.svi_ml_m2|num(1) }}|{{ risk.label }}|{{ risk.scale }}|
{{- risk.diagnosis.svi_grade }}|{{ pah_therapy.text }}|
{%- for m in medications %}{{ m.name }} ({{ m.therapy_class_label }}){% endfor %}|
{%- for c in therapy_changes %}{{ c.day|day }} {{ c.direction }}{% endfor %}"""


def test_new_values_round_trip(db: PgDatabase) -> None:
    clinician, admin = db.engine_for("t_clinician"), db.engine_for("t_admin")
    try:
        with Session(clinician) as s, s.begin():
            pid = add_patient(s.connection())
            code = s.execute(
                sa.text("SELECT patient_code FROM phms.patient WHERE id = :p"), {"p": pid}
            ).scalar_one()
            saved = chart.create_assessment(
                s,
                AssessmentInput(
                    pid, FIRST, who_fc=4, height_cm=D(180), weight_kg=D(80), co_l_min=D("3.6"),
                    rhc_heart_rate_bpm=D(100), mpap_mmhg=D(50), pawp_mmhg=D(10), **NEW_VALUES,
                ),
            )  # fmt: skip
            chart.create_walk(s, WalkInput(pid, FIRST, D(150)))
            chart.add_item(
                s, "medication", ItemInput(pid, "macitentan", FIRST + dt.timedelta(days=1),
                                           therapy_class="era"),
            )  # fmt: skip
            loaded = chart.load_chart(s, pid)
            context = reports.individual_context(s, pid)

        # The database stored and derived them: SVI = 3.6 / 2 × 1000 / 100 = 18 mL/m².
        data = saved.data
        assert {k: getattr(data, k) for k in NEW_VALUES} == NEW_VALUES
        assert (saved.derived.svi_ml_m2, saved.derived.tapse_spap_ratio) == (18, D("0.175"))
        # The chart: the same values, and the risk at diagnosis from them (every grade 3:
        # RHF, rapid, FC IV, 150 m, TAPSE/sPAP 0.175, effusion, VO2, VE/VCO2, CI 1.8,
        # SVI 18; syncope occasional 2).
        record = next(e.record for e in loaded.timeline if e.kind == "assessment")
        assert record.data == saved.data and record.derived == saved.derived
        point = loaded.risk_course[0]
        assert point.at_diagnosis and (point.stratum, point.label, point.n_strata) == (3, "high", 3)
        assert point.diagnosis is not None and point.diagnosis.n_variables == 11
        assert loaded.pah_therapy is not None and loaded.pah_therapy.text == "monotherapy (ERA)"
        # The report's template fields.
        text = render(TEMPLATE, context)
        assert text == (
            "rapid|occasional|moderate or large|10.5|18.0|high|"
            "ESC/ERS 2022 risk at diagnosis (3 strata)|3|monotherapy (ERA)|"
            "macitentan (endothelin receptor antagonist)|"
            f"{format_day(FIRST + dt.timedelta(days=1))} escalation"
        )

        # The registry export.
        with Session(admin) as s, s.begin():
            secret = b"s" * 32
            # min_k=1: this follows the new fields, not the privacy ladder (which the
            # shared test database, with its assorted patients, need not pass).
            export = registry_export.build_export(s, secret=secret, hospital_id="RBH", min_k=1)
        patient = next(
            p for p in export.patients if p.patient_key == registry_export.patient_key(secret, code)
        )
        first = next(r for r in patient.records if r.record_type == "assessment")
        assert {k: first.values[k] for k in NEW_VALUES} == NEW_VALUES
        assert first.values["svi_ml_m2"] == D(18)
        assert (first.values["at_diagnosis"], first.values["risk_at_diagnosis_label"]) == (
            True, "high",
        )  # fmt: skip
        assert first.values["risk_stratum"] is None  # the four strata: follow-up only
        medication = next(r for r in patient.records if r.record_type == "medication")
        assert medication.values["therapy_class"] == "era"

        # A later visit is on the four strata.
        with Session(clinician) as s, s.begin():
            chart.create_assessment(
                s, AssessmentInput(pid, LATER, kind="followup", who_fc=2, bnp_pg_ml=D(40))
            )
            course = chart.load_chart(s, pid).risk_course
        assert [(p.at_diagnosis, p.label, p.n_strata) for p in course] == [
            (True, "high", 3),
            (False, "low", 4),
        ]
    finally:
        clinician.dispose()
        admin.dispose()
