"""Real contexts and a realistic patient course for the report, chart and Error Check UI tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import shiboken6
import sqlalchemy as sa
from PySide6.QtWidgets import QWidget

from phms_client.db.database import Credentials
from phms_client.db.errors import UserError
from phms_client.db.login import login
from phms_client.ui.shared.connection import ConnectionMonitor
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.live import LiveUpdates
from phms_client.ui.shared.tasks import TaskRunner
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person
from tests.db.test_client_login import config_for
from tests.harness import STAFF_PASSWORD, PgDatabase
from tests.ui import screens

TODAY = dt.date.today()


@dataclass
class Env:
    ctx: AppContext
    presented: list[UserError] = field(default_factory=list)


@contextmanager
def report_context(db: PgDatabase, user: str, hospital_id: str = "RBH") -> Iterator[Env]:
    """Logged in like the client (no LISTEN thread: these windows do not need it)."""
    config = config_for(db, hospital_id=hospital_id)
    database, info = login(config, user, STAFF_PASSWORD)
    presented: list[UserError] = []
    tasks = TaskRunner(presenter=presented.append, address=lambda: database.address)
    ctx = AppContext(
        config,
        database,
        info,
        tasks,
        LiveUpdates(config, Credentials(user, STAFF_PASSWORD)),
        ConnectionMonitor(database, tasks),
    )
    try:
        yield Env(ctx, presented)
    finally:
        tasks.shutdown(10_000)
        database.close()


def story_patient(conn: sa.Connection) -> int:
    """Three years of a PAH patient who improves on treatment."""
    start = TODAY - dt.timedelta(days=3 * 365)

    def day(months: int) -> dt.date:
        return start + dt.timedelta(days=round(months * 30.4))

    pid = int(
        add_person(
            conn,
            family_name="Ångström",
            given_name="Zoë",
            sex="female",
            birth_date=dt.date(1962, 4, 9),
            address="12 Rue de l'Église, 75001 Paris",
            ph_group=1,
            ph_subtype="idiopathic",
        )["id"]
    )
    visits = [
        # months, kind, FC, NT-proBNP, mPAP, PAWP, CO, walk, weight
        (0, "assessment", 3, 2400, 54, 9, "3.4", 290, 96),
        (4, "followup", 3, 1150, None, None, None, 345, 94),
        (10, "followup", 2, 620, 41, 10, "4.6", 410, 92),
        (18, "followup", 2, 380, None, None, None, 450, 90),
        (27, "followup", 2, 260, 33, 9, "5.2", 472, 88),
        (35, "followup", 1, 190, None, None, None, 495, 87),
    ]
    for months, kind, fc, peptide, mpap, pawp, co, walk, weight in visits:
        insert(
            conn,
            "assessment",
            patient_id=pid,
            kind=kind,
            study_date=day(months),
            who_fc=fc,
            nt_probnp_pg_ml=Decimal(peptide),
            height_cm=Decimal(162),
            weight_kg=Decimal(weight),
            mpap_mmhg=None if mpap is None else Decimal(mpap),
            pawp_mmhg=None if pawp is None else Decimal(pawp),
            co_l_min=None if co is None else Decimal(co),
            rap_mmhg=None if mpap is None else Decimal(8),
            svo2_pct=None if mpap is None else Decimal(63),
        )
        insert(conn, "six_minute_walk", patient_id=pid, study_date=day(months), distance_m=walk)
    insert(
        conn,
        "medication",
        patient_id=pid,
        name="macitentan",
        details="10 mg once daily",
        started_on=day(0),
    )
    insert(
        conn,
        "medication",
        patient_id=pid,
        name="tadalafil",
        details="40 mg once daily",
        started_on=day(1),
    )
    insert(conn, "allergy", patient_id=pid, name="penicillin", details="rash", started_on=day(0))
    return pid


#: Grab, check and (with PHMS_SCREENSHOTS) save a screenshot.
capture = partial(screens.capture, step=5, same_size=False)


def delete_later(widget: QWidget) -> None:
    if shiboken6.isValid(widget):
        widget.close()
        shiboken6.delete(widget)
