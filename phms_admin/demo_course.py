"""Demo clinical courses and today's appointments, written through the services.

Every record goes through the same service functions and database rules as the
client's forms (ranges, prerequisites, derived values), so the demo shows what
PHMS computes, not numbers typed in here.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical import therapy
from phms_client.clinical.appointments import Status
from phms_client.services import appointments, chart
from phms_client.services.appointments import AppointmentInput
from phms_client.services.chart import (
    AssessmentInput,
    ChallengeInput,
    ItemInput,
    StepInput,
    WalkInput,
)

PAH_DRUGS = (
    "sildenafil",
    "tadalafil",
    "ambrisentan",
    "macitentan",
    "bosentan",
    "selexipag",
    "riociguat",
)
ALLERGIES = ("penicillin", "sulfonamides", "latex")
COMORBIDITIES = (
    "systemic hypertension",
    "COPD",
    "atrial fibrillation",
    "type 2 diabetes",
    "obstructive sleep apnoea",
)


def _d(value: float, places: int = 0) -> Decimal:
    return Decimal(str(round(value, places)))


def _course(s: Session, rng: random.Random, patient_id: int, today: dt.date) -> None:
    start = today - dt.timedelta(days=rng.randint(250, 1400))
    severity = rng.random()  # 0 mild .. 1 severe; improves with treatment
    height = rng.randint(152, 192)
    weight = rng.randint(52, 104)
    mpap = 25 + 35 * severity + rng.uniform(-3, 3)
    pawp = rng.uniform(6, 14)
    co = 5.6 - 2.4 * severity + rng.uniform(-0.3, 0.3)
    chart.create_assessment(
        s,
        AssessmentInput(
            patient_id=patient_id,
            study_date=start,
            who_fc=2 + round(severity * 2),
            height_cm=_d(height),
            weight_kg=_d(weight),
            heart_rate_bpm=_d(rng.randint(64, 96)),
            spo2_pct=_d(rng.randint(89, 98)),
            nt_probnp_pg_ml=_d(200 + 2400 * severity),
            creatinine_umol_l=_d(rng.randint(60, 120)),
            tapse_mm=_d(24 - 10 * severity, 1),
            rap_mmhg=_d(3 + 10 * severity),
            spap_mmhg=_d(mpap * 1.55),
            dpap_mmhg=_d(mpap * 0.7),
            mpap_mmhg=_d(mpap),
            pawp_mmhg=_d(pawp, 1),
            co_l_min=_d(co, 2),
            svo2_pct=_d(72 - 15 * severity),
            rhc_heart_rate_bpm=_d(rng.randint(66, 98)),
            # what the risk at diagnosis (three strata) grades besides
            rhf_signs=severity > 0.75,
            symptom_progression=("none", "slow", "rapid")[min(2, int(severity * 3))],
            syncope="none" if severity < 0.6 else "occasional",
            pericardial_effusion="none" if severity < 0.8 else "minimal",
            echo_spap_mmhg=_d(mpap * 1.5),
            ra_area_cm2=_d(15 + 14 * severity),
        ),
    )
    if rng.random() < 0.5:
        responder = rng.random() < 0.15
        fall = rng.uniform(11, 18) if responder else rng.uniform(0, 6)
        chart.create_challenge(
            s,
            ChallengeInput(
                patient_id,
                start,
                (
                    StepInput(0, _d(mpap), pawp_mmhg=_d(pawp, 1), co_l_min=_d(co, 2)),
                    StepInput(
                        1,
                        _d(mpap - fall / 2),
                        "inhaled nitric oxide",
                        Decimal(20),
                        "ppm",
                        co_l_min=_d(co + 0.1, 2),
                    ),
                    StepInput(
                        2,
                        _d(max(mpap - fall, 30 if not responder else 20)),
                        "inhaled nitric oxide",
                        Decimal(40),
                        "ppm",
                        co_l_min=_d(co + 0.2, 2),
                    ),
                ),
            ),
        )
    for drug in rng.sample(PAH_DRUGS, rng.randint(1, 3)):
        item = chart.add_item(
            s,
            "medication",
            ItemInput(
                patient_id,
                drug,
                start + dt.timedelta(days=rng.randint(0, 60)),
                therapy_class=therapy.class_of_listed(drug),  # picked from the list
            ),
        )
        if rng.random() < 0.2:
            chart.stop_item(
                s,
                "medication",
                item.id,
                1,
                item.data.started_on + dt.timedelta(days=rng.randint(90, 200)),
                "side effects",
            )
    if rng.random() < 0.2:
        chart.add_item(s, "allergy", ItemInput(patient_id, rng.choice(ALLERGIES), start))
    for disease in rng.sample(COMORBIDITIES, rng.randint(0, 2)):
        chart.add_item(s, "comorbidity", ItemInput(patient_id, disease, start))
    day = start
    while day <= today:
        walk = 560 - 380 * severity + rng.uniform(-25, 25)
        chart.create_walk(
            s,
            WalkInput(
                patient_id,
                day,
                _d(max(walk, 60)),
                stops=0 if severity < 0.6 else rng.randint(0, 2),
                spo2_before_pct=_d(rng.randint(91, 98)),
                spo2_after_pct=_d(rng.randint(84, 95)),
                heart_rate_before_bpm=_d(rng.randint(68, 90)),
                heart_rate_after_bpm=_d(rng.randint(100, 135)),
                borg_before=_d(rng.randint(0, 2)),
                borg_after=_d(rng.randint(2, 7)),
            ),
        )
        if day != start:
            chart.create_assessment(
                s,
                AssessmentInput(
                    patient_id=patient_id,
                    study_date=day,
                    kind="followup",
                    who_fc=min(4, max(1, 2 + round(severity * 2) - (severity < 0.5))),
                    weight_kg=_d(weight + rng.uniform(-3, 3), 1),
                    nt_probnp_pg_ml=_d(max(80, 150 + 2200 * severity + rng.uniform(-150, 150))),
                ),
            )
        severity = max(0.0, severity - rng.uniform(0.0, 0.12))
        day += dt.timedelta(days=rng.randint(110, 200))


def load_courses(s: Session, patient_ids: list[int], seed: int) -> int:
    """Give the PH patients among ``patient_ids`` a course; returns how many got one."""
    rng = random.Random(seed)
    today = dt.date.today()
    with_course = [p for p in patient_ids if rng.random() < 0.6]
    for pid in with_course:
        _course(s, rng, pid, today)
    return len(with_course)


CLINIC_OPENS = dt.time(8, 30)
SLOT = dt.timedelta(minutes=30)


def book_today(s: Session, patient_ids: list[int], seed: int, tz: dt.tzinfo) -> int:
    """Today's clinic from 08:30 local time: those already past were seen (one did
    not come, one cancelled), the rest still to come."""
    rng = random.Random(seed + 1)
    now = dt.datetime.now(tz).replace(second=0, microsecond=0)
    first = dt.datetime.combine(now.date(), CLINIC_OPENS, tzinfo=tz)
    kinds = ("followup", "6-minute walk", "assessment", "consultation")
    chosen = rng.sample(patient_ids, min(10, len(patient_ids)))
    for i, pid in enumerate(chosen):
        starts = first + SLOT * i
        row = appointments.book(s, AppointmentInput(pid, starts, rng.choice(kinds)))
        if starts < now - dt.timedelta(minutes=45) and i % 4 != 3:
            row = appointments.set_status(s, row.id, row.version, Status.ARRIVED)
            appointments.set_status(s, row.id, row.version, Status.COMPLETED)
        elif i == 5:
            appointments.set_status(s, row.id, row.version, Status.CANCELLED)
    return len(chosen)


def local_zone() -> dt.tzinfo:
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def load(conn: sa.Connection, patient_ids: list[int], seed: int) -> tuple[int, int]:
    """Courses and today's appointments on one connection (one login writes both)."""
    with Session(bind=conn) as s:
        courses = load_courses(s, patient_ids, seed)
        booked = book_today(s, patient_ids, seed, local_zone())
        s.flush()
    return courses, booked


def load_as_staff(
    clinician: sa.Connection, clerk: sa.Connection, patient_ids: list[int], seed: int
) -> tuple[int, int]:
    """As a clinic does it: the clinician writes the courses, the clerk books the day."""
    with Session(bind=clinician) as s:
        courses = load_courses(s, patient_ids, seed)
        s.flush()
    with Session(bind=clerk) as s:
        booked = book_today(s, patient_ids, seed, local_zone())
        s.flush()
    return courses, booked
