"""Two workstations edit the same patient: nothing is ever overwritten silently."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.services import patients
from phms_client.services.patients import PatientDetails, PatientInput
from phms_client.ui.patients.conflict_dialog import (
    Choice,
    ConflictDialog,
    ConflictModel,
    describe_change,
)
from phms_client.ui.patients.patient_form import PatientForm
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase
from tests.ui.patient_env import (
    Session,
    app_context,
    create_patients,
    person,
    unique_family,
)


@pytest.fixture
def clerk(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clerk") as s:
        yield s


@pytest.fixture
def clinician(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        yield s


def details(**changes: object) -> PatientDetails:
    values: dict[str, object] = {
        "patient_code": "1234567-8",
        "family_name": "Müller",
        "given_name": "Anna",
        "sex": "female",
        "birth_date": dt.date(1950, 1, 2),
        "phone": "111",
        "id": 7,
        "version": 2,
        "updated_by": "t_clinician",
        "updated_at": dt.datetime(2026, 11, 24, 9, 41, tzinfo=dt.UTC),
    }
    values.update(changes)
    return PatientDetails(**values)  # type: ignore[arg-type]


def open_form(qtbot: QtBot, session: Session, patient_id: int) -> PatientForm:
    form = PatientForm(session.ctx, patient_id, parent=session.windows)
    with qtbot.waitSignal(form.loaded, timeout=5_000):
        form.show()
    return form


def current(session: Session, patient_id: int) -> PatientDetails:
    with session.ctx.db.session() as s:
        return patients.get(s, patient_id)


def conflict_dialog(qtbot: QtBot, form: PatientForm) -> ConflictDialog:
    form.save_button.click()
    qtbot.waitUntil(lambda: form.conflict_dialog is not None, timeout=5_000)
    dialog = form.conflict_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


# --------------------------------------------------------------------------- the dialog


def test_conflict_model(qtmodeltester: ModelTester) -> None:
    theirs = details(phone="111", address="1 Rue de la Paix")
    mine = PatientInput(**{**theirs.as_input().__dict__, "phone": "222 ", "address": None})
    model = ConflictModel(theirs.as_input(), mine, their_label="Saved by t_clinician")
    qtmodeltester.check(model)
    assert model.rowCount() == 12 and model.columnCount() == 3
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Saved by t_clinician"
    assert model.differing == ["Phone", "Address"]
    phone = next(r for r in range(12) if model.data(model.index(r, 0)) == "Phone")
    assert [model.data(model.index(phone, c)) for c in range(3)] == ["Phone", "111", "222"]
    assert model.data(model.index(phone, 1), Qt.ItemDataRole.BackgroundRole) is not None
    same = next(r for r in range(12) if model.data(model.index(r, 0)) == "Date of birth")
    assert model.data(model.index(same, 1)) == "02.01.1950"
    assert model.data(model.index(same, 1), Qt.ItemDataRole.BackgroundRole) is None


def test_dialog_says_who_and_when_and_compares(qtbot: QtBot) -> None:
    theirs = details()
    mine = PatientInput(**{**theirs.as_input().__dict__, "phone": "222"})
    dialog = ConflictDialog(theirs, mine)
    qtbot.addWidget(dialog)
    dialog.show()
    local = theirs.updated_at.astimezone()  # type: ignore[union-attr]
    assert describe_change(theirs) == f"Changed by t_clinician on 24.11.2026 at {local:%H:%M}"
    assert describe_change(theirs) in dialog.message.text()
    assert dialog.summary.text() == "Fields that differ: Phone."
    assert not dialog.comparing
    dialog.compare_button.click()
    assert dialog.comparing and dialog.table.isVisible()
    dialog.compare_button.click()
    assert not dialog.comparing
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.choice is Choice.CANCEL and not dialog.isVisible()


# --------------------------------------------------------------------------- two sessions


def test_two_sessions_cancel_compare_overwrite(
    qtbot: QtBot, clerk: Session, clinician: Session
) -> None:
    family = unique_family("Sørensen")
    (p,) = create_patients(
        clerk.ctx.db, person(family, given="Ingrid", phone="111", address="1 Old Road")
    )
    mine = open_form(qtbot, clerk, p.id)  # the clerk's workstation
    theirs = open_form(qtbot, clinician, p.id)  # the clinician's workstation

    theirs.fields.phone_edit.setText("+44 20 7000 0002")
    with qtbot.waitSignal(theirs.saved, timeout=5_000):
        theirs.save_button.click()
    saved_by_them = current(clerk, p.id)
    assert saved_by_them.version == 2 and saved_by_them.updated_by == "t_clinician"

    mine.fields.address_edit.setPlainText("2 New Road")
    dialog = conflict_dialog(qtbot, mine)
    assert "Changed by t_clinician on " in dialog.message.text()
    assert dialog.theirs.version == 2
    # Compare: side by side, their phone and my address differ.
    dialog.compare_button.click()
    assert dialog.comparing and dialog.model.differing == ["Phone", "Address"]
    # Cancel: nothing saved; my typing is still on screen.
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: mine.conflict_dialog is None)
    assert current(clerk, p.id) == saved_by_them
    assert mine.fields.address_edit.toPlainText() == "2 New Road" and mine.isVisible()
    assert "Not saved. Changed by t_clinician" in mine.change_banner.text()

    # Saving again asks again (never silently), then Overwrite saves mine on theirs.
    dialog = conflict_dialog(qtbot, mine)
    with qtbot.waitSignal(mine.saved, timeout=5_000) as saved:
        dialog.overwrite_button.click()
    final = current(clerk, p.id)
    assert saved.args[0] == final
    assert (final.version, final.updated_by) == (3, "t_clerk")
    assert final.address == "2 New Road"
    assert final.phone == "111"  # Overwrite means mine, as the comparison showed


def test_overwrite_asks_again_if_a_third_save_slipped_in(
    qtbot: QtBot, clerk: Session, clinician: Session
) -> None:
    (p,) = create_patients(clerk.ctx.db, person(unique_family("Kowalski"), phone="1"))
    mine = open_form(qtbot, clerk, p.id)
    with clinician.ctx.db.session() as s:
        second = patients.update(
            s, p.id, p.version, PatientInput(**{**p.as_input().__dict__, "phone": "2"})
        )
    mine.fields.phone_edit.setText("999")
    dialog = conflict_dialog(qtbot, mine)
    assert dialog.theirs.version == second.version
    with clinician.ctx.db.session() as s:  # yet another save while the dialog is open
        patients.update(
            s, p.id, second.version, PatientInput(**{**p.as_input().__dict__, "phone": "3"})
        )
    dialog.overwrite_button.click()
    qtbot.waitUntil(
        lambda: mine.conflict_dialog is not None and mine.conflict_dialog is not dialog,
        timeout=5_000,
    )
    again = mine.conflict_dialog
    assert again is not None and again.theirs.version == 3
    assert current(clerk, p.id).phone == "3"  # still theirs: nothing overwritten silently
    with qtbot.waitSignal(mine.saved, timeout=5_000):
        again.overwrite_button.click()
    assert current(clerk, p.id).phone == "999"
    qtbot.waitUntil(lambda: not shiboken6.isValid(mine) or not mine.isVisible())
