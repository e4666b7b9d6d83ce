"""Failover as a person at a workstation lives it.

The client's connection lists both servers with target_session_attrs=read-write.
The primary dies while a new patient's demographics are typed but not saved;
the standby is promoted; the client reconnects by itself, its listener
re-subscribes on the new primary, and the form's contents are saved there.
"""

from __future__ import annotations

import psycopg
import shiboken6
from pytestqt.qtbot import QtBot

from phms_client.clinical.demographics import DemographicsEntry
from phms_client.ui.patients.patient_form import PatientForm
from tests.ops.cluster import PrimaryStandby
from tests.ui.patient_env import app_context

ENTRY = DemographicsEntry(
    patient_code="5550001-7",
    family_name="Hämäläinen",
    given_name="Siobhán",
    sex="female",
    birth_date="03.02.1951",
    phone="+358 9 123 4567",
    ph_group=1,
    ph_subtype="heritable",
)


def test_unsaved_form_is_saved_to_the_promoted_standby(
    qtbot: QtBot, primary_standby: PrimaryStandby
) -> None:
    with app_context(qtbot, primary_standby.client_config(), "t_clerk") as session:
        ctx = session.ctx
        changes: list[dict[str, object]] = []
        ctx.live.changed.connect(changes.append)
        form = PatientForm(ctx, prefill=DemographicsEntry(), parent=session.windows)
        form.show()
        form.fill(ENTRY)

        primary_standby.stop_primary()
        form.save_button.click()  # fails: the server is gone
        qtbot.waitUntil(lambda: not ctx.connection.online, timeout=20_000)
        qtbot.waitUntil(lambda: not ctx.live.is_listening(), timeout=10_000)
        assert not form.save_button.isEnabled() and form.entry() == ENTRY

        primary_standby.promote()
        qtbot.waitUntil(lambda: ctx.connection.online, timeout=60_000)
        qtbot.waitUntil(ctx.live.is_listening, timeout=30_000)  # re-subscribed
        assert form.save_button.isEnabled() and form.entry() == ENTRY
        with qtbot.waitSignal(form.saved, timeout=15_000):
            form.save_button.click()
        # The new primary's NOTIFY reaches the re-subscribed listener.
        qtbot.waitUntil(lambda: any(c.get("table") == "patient" for c in changes), timeout=5_000)
        assert session.presented == []
        if shiboken6.isValid(form):  # a saved form closes itself
            form.discard()

    with psycopg.connect(primary_standby.superuser_conninfo(1)) as conn:
        row = conn.execute(
            "SELECT family_name, given_name, created_by, pg_is_in_recovery() "
            "FROM phms.patient WHERE patient_code = %s",
            (ENTRY.patient_code,),
        ).fetchone()
    assert row == ("Hämäläinen", "Siobhán", "t_clerk", False)
