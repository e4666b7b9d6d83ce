"""The demographics form: validation, create, duplicates, server refusals, edit, live notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import shiboken6
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from phms_admin import embedded
from phms_client.clinical.demographics import DemographicsEntry
from phms_client.db.database import Database
from phms_client.services import patients
from phms_client.services.patients import PatientDetails, PatientInput
from phms_client.ui.patients.patient_form import PatientForm
from tests import harness
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase, unique_code
from tests.ui.keyboard import accessible_name, problems, tab_order
from tests.ui.patient_env import (
    Session,
    app_context,
    create_patients,
    person,
    staff_database,
    unique_family,
)

LIVE_TIMEOUT_MS = 2_000 + 500


@pytest.fixture
def session(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clerk") as s:
        yield s


def new_form(qtbot: QtBot, session: Session, **prefill: object) -> PatientForm:
    form = PatientForm(
        session.ctx,
        prefill=DemographicsEntry(**prefill),  # type: ignore[arg-type]
        parent=session.windows,
    )
    form.show()
    return form


def edit_form(qtbot: QtBot, session: Session, patient_id: int) -> PatientForm:
    form = PatientForm(session.ctx, patient_id, parent=session.windows)
    with qtbot.waitSignal(form.loaded, timeout=5_000):
        form.show()
    return form


def valid_entry(family: str, **changes: object) -> DemographicsEntry:
    values: dict[str, object] = {
        "patient_code": unique_code(),
        "family_name": family,
        "given_name": "Siobhán",
        "sex": "female",
        "birth_date": "03.02.1951",
        "phone": "+44 20 7946 0018",
        "email": "s@example.org",
        "address": "2 Harley Street\nLondon",
        "ph_group": 1,
        "ph_subtype": "heritable",
    }
    values.update(changes)
    return DemographicsEntry(**values)  # type: ignore[arg-type]


def places(form: PatientForm) -> list[tuple[int, int, int, int]]:
    """Where the fields and buttons are in the window, and their sizes."""
    widgets = [form.fields.code_edit, form.fields.email_edit, form.save_button, form.cancel_button]
    return [
        (w.mapTo(form, w.rect().topLeft()).x(), w.mapTo(form, w.rect().topLeft()).y(),
         w.width(), w.height())
        for w in widgets
    ]  # fmt: skip


def stored(database: Database, code: str) -> PatientDetails | None:
    with database.session() as s:
        return patients.find_by_code(s, code)


def closed(form: PatientForm) -> bool:
    """Closed forms delete themselves (WA_DeleteOnClose)."""
    return not shiboken6.isValid(form) or not form.isVisible()


def save_and_wait(qtbot: QtBot, form: PatientForm) -> None:
    form.save_button.click()
    qtbot.waitUntil(lambda: not form.saving, timeout=5_000)


# --------------------------------------------------------------------------- validation


def test_every_required_field_is_named_before_any_database_call(
    qtbot: QtBot, session: Session
) -> None:
    form = new_form(qtbot, session)
    assert form.fields.code_hint.text().startswith("Format NNNNNNN-N: N is a digit, e.g. ")
    form.save_button.click()
    assert session.ctx.tasks.pending == 0 and not form.saving  # nothing was sent
    assert form.field_error("patient_code") == "Enter the patient ID (format NNNNNNN-N)."
    assert form.field_error("family_name") == "Enter the family name."
    assert form.field_error("given_name") == "Enter the given name."
    assert form.field_error("sex") == "Choose the sex (“Unknown” if it is not known)."
    assert form.field_error("birth_date") == "Enter the date of birth, e.g. 17.05.1960."
    assert form.field_error("phone") == ""
    assert form.focusWidget() is form.fields.code_edit  # the first problem has the focus


def test_patient_id_is_normalised_and_checked(qtbot: QtBot, session: Session) -> None:
    form = new_form(qtbot, session)
    form.fields.code_edit.setFocus()
    qtbot.keyClicks(form.fields.code_edit, "12345678")
    form.fields.code_edit.editingFinished.emit()
    assert form.fields.code_edit.text() == "1234567-8"
    form.fields.code_edit.setText("12-34")
    form.save_button.click()
    message = form.field_error("patient_code")
    assert message == "“12-34” is not a valid patient ID (format NNNNNNN-N)."
    assert session.ctx.tasks.pending == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"birth_date": "31.02.1960"}, "birth_date", "“31.02.1960” is not a date."),
        ({"birth_date": "01.01.2999"}, "birth_date", "cannot be in the future"),
        ({"birth_date": "01.01.1870"}, "birth_date", "must be 01.01.1880 or later"),
        ({"deceased_date": "01.01.2020"}, "deceased_date", "only be entered when the status"),
        (
            {"status": "deceased", "deceased_date": "01.01.1950"},
            "deceased_date",
            "cannot be before the date of birth",
        ),
        (
            {"status": "deceased", "deceased_date": "01.01.2999"},
            "deceased_date",
            "date of death cannot be in the future",
        ),
        ({"email": "maria at example"}, "email", "does not look like an email address"),
        ({"phone": "call me"}, "phone", "only digits, spaces"),
        ({"ph_group": None, "ph_subtype": "CTEPH"}, "ph_subtype", "Choose the PH group first"),
    ],
)
def test_field_messages(
    qtbot: QtBot, session: Session, changes: dict[str, object], field: str, message: str
) -> None:
    form = new_form(qtbot, session)
    form.fill(valid_entry("Anyone", **changes))
    form.save_button.click()
    assert message in form.field_error(field)
    others = [n for n in form.fields.errors if n != field and form.field_error(n)]
    assert others == []
    assert session.ctx.tasks.pending == 0
    assert form.entry().family_name == "Anyone"  # what was typed stays


def test_messages_follow_the_field_as_it_is_corrected(qtbot: QtBot, session: Session) -> None:
    form = new_form(qtbot, session)
    form.fill(valid_entry("Anyone", patient_code="12-34", email="maria at example"))
    form.save_button.click()
    assert "is not a valid patient ID" in form.field_error("patient_code")
    assert "email address" in form.field_error("email")
    form.fields.code_edit.setFocus()
    form.fields.code_edit.clear()
    qtbot.keyClicks(form.fields.code_edit, "12")
    # Still wrong, and says so about what is there now.
    assert form.field_error("patient_code") == "“12” is not a valid patient ID (format NNNNNNN-N)."
    form.fields.code_edit.setText(unique_code())
    assert form.field_error("patient_code") == ""  # fixed: the message goes at once
    assert "email address" in form.field_error("email")  # others are untouched
    form.fields.phone_edit.setText("call me")  # no message of its own until the next Save
    assert form.field_error("phone") == ""
    form.fields.email_edit.setText("maria@example.org")
    assert form.field_error("email") == ""


def test_dates_are_shown_unambiguously(qtbot: QtBot, session: Session) -> None:
    form = new_form(qtbot, session)
    form.fields.birth_edit.setText("3/2/1951")
    form.fields.birth_edit.editingFinished.emit()
    assert form.fields.birth_edit.text() == "03.02.1951"


# --------------------------------------------------------------------------- creating


def test_create_patient(qtbot: QtBot, session: Session) -> None:
    family = unique_family("Lefèvre")
    form = new_form(qtbot, session)
    entry = valid_entry(family)
    form.fill(entry)
    with qtbot.waitSignal(form.saved, timeout=5_000) as saved:
        form.save_button.click()
    details = saved.args[0]
    assert isinstance(details, PatientDetails) and details.created_by == "t_clerk"
    row = stored(session.ctx.db, entry.patient_code)
    assert row is not None and row.id == details.id
    assert (row.family_name, row.given_name, row.sex) == (family, "Siobhán", "female")
    assert row.birth_date == dt.date(1951, 2, 3)
    assert (row.phone, row.email, row.address) == (
        "+44 20 7946 0018",
        "s@example.org",
        "2 Harley Street\nLondon",
    )
    assert (row.ph_group, row.ph_subtype, row.status) == (1, "heritable", "active")
    qtbot.waitUntil(lambda: closed(form))


def test_double_click_on_save_creates_one_patient(qtbot: QtBot, session: Session) -> None:
    family = unique_family("Bianchi")
    form = new_form(qtbot, session)
    form.fill(valid_entry(family))
    form.save_button.click()
    assert form.saving and not form.save_button.isEnabled()
    form.save()  # e.g. Ctrl+S while saving: ignored
    qtbot.waitUntil(lambda: closed(form), timeout=5_000)
    with session.ctx.db.session() as s:
        assert len(patients.search(s, family)) == 1


def test_patient_id_already_used(qtbot: QtBot, session: Session) -> None:
    (existing,) = create_patients(session.ctx.db, person(unique_family("Rossi"), given="Luca"))
    form = new_form(qtbot, session)
    form.fill(valid_entry(unique_family("Jansen"), patient_code=existing.patient_code))
    save_and_wait(qtbot, form)
    assert form.field_error("patient_code") == (
        f"Patient ID {existing.patient_code} is already used by {existing.family_name}, Luca "
        "(born 17.05.1960)."
    )
    assert form.isVisible() and form.save_button.isEnabled()


def test_duplicate_warning_back_create_anyway_and_open_existing(
    qtbot: QtBot, session: Session
) -> None:
    family = unique_family("Schröder")
    (existing,) = create_patients(
        session.ctx.db, person(family, given="Émilie", born=dt.date(1951, 2, 3))
    )
    form = new_form(qtbot, session)
    entry = valid_entry(family, given_name="Emilie")
    form.fill(entry)

    # Back: nothing is created, the form is as it was.
    save_and_wait(qtbot, form)
    dialog = form.duplicate_dialog
    assert dialog is not None and dialog.isVisible()
    assert [dialog.model.summary(r).id for r in range(dialog.model.rowCount())] == [existing.id]
    assert dialog.selected_id == existing.id
    assert "already registered" in dialog.message.text()
    dialog.back_button.click()
    assert form.duplicate_dialog is None and stored(session.ctx.db, entry.patient_code) is None
    assert form.entry() == entry

    # Open existing: the chart of the existing patient is asked for; nothing is created.
    save_and_wait(qtbot, form)
    dialog = form.duplicate_dialog
    assert dialog is not None
    with qtbot.waitSignal(form.open_chart_requested) as opened:
        dialog.open_button.click()
    assert opened.args == [existing.id]
    assert closed(form) and stored(session.ctx.db, entry.patient_code) is None

    # Create anyway (another form): a second patient of that name exists now.
    form = new_form(qtbot, session)
    form.fill(entry)
    save_and_wait(qtbot, form)
    dialog = form.duplicate_dialog
    assert dialog is not None
    with qtbot.waitSignal(form.saved, timeout=5_000):
        dialog.create_button.click()
    assert stored(session.ctx.db, entry.patient_code) is not None


def test_server_refusal_is_shown_next_to_the_field_and_keeps_the_entries(
    qtbot: QtBot, session: Session, db: PgDatabase
) -> None:
    """Someone registers the same ID while the duplicate warning is open: the database's
    unique rule refuses the save, and the form says so in plain words."""
    family = unique_family("Fernández")
    create_patients(session.ctx.db, person(family, given="Ana", born=dt.date(1951, 2, 3)))
    form = new_form(qtbot, session)
    entry = valid_entry(family, given_name="Ana")
    form.fill(entry)
    save_and_wait(qtbot, form)
    assert form.duplicate_dialog is not None
    with staff_database(db, "t_clinician") as other:
        create_patients(other, person(unique_family("Ibáñez"), patient_code=entry.patient_code))
    form.duplicate_dialog.create_button.click()
    qtbot.waitUntil(lambda: not form.saving and form.error_banner.isVisible(), timeout=5_000)
    assert form.field_error("patient_code") == (
        "This patient ID is already used by another patient."
    )
    assert form.error_banner.text().startswith("Not saved: This patient ID is already used")
    assert form.entry() == entry and form.isVisible() and form.save_button.isEnabled()


def test_server_refuses_an_id_of_a_format_changed_meanwhile(
    qtbot: QtBot, session: Session, admin_engine: sa.Engine
) -> None:
    """The admin changed the ID format after this client logged in: the database trigger
    refuses, the form explains it next to the ID."""
    form = new_form(qtbot, session)
    entry = valid_entry(unique_family("Yılmaz"))
    form.fill(entry)
    set_format = sa.text(
        "UPDATE phms.setting SET value = to_jsonb(CAST(:f AS text)) WHERE key = 'patient_id_format'"
    )
    with admin_engine.begin() as conn:
        conn.execute(set_format, {"f": "AA-NNNNNN"})
    try:
        save_and_wait(qtbot, form)
    finally:
        with admin_engine.begin() as conn:
            conn.execute(set_format, {"f": "NNNNNNN-N"})
    assert "does not match the site's patient ID format" in form.field_error("patient_code")
    assert form.entry() == entry and stored(session.ctx.db, entry.patient_code) is None


# --------------------------------------------------------------------------- editing


def test_edit_loads_and_saves_with_the_version(qtbot: QtBot, session: Session) -> None:
    family = unique_family("Novák")
    (p,) = create_patients(session.ctx.db, person(family, phone="111", ph_group=4))
    form = edit_form(qtbot, session, p.id)
    assert form.entry().phone == "111" and form.entry().birth_date == "17.05.1960"
    assert form.fields.group_combo.currentData() == 4
    assert not form.is_dirty() and form.windowTitle().endswith(f"({p.patient_code})")
    form.fields.phone_edit.setText("+44 1632 960000")
    form.fields.status_combo.setCurrentIndex(form.fields.status_combo.findData("deceased"))
    form.fields.deceased_edit.setText("01.06.2024")
    assert form.is_dirty()
    with qtbot.waitSignal(form.saved, timeout=5_000) as saved:
        form.save_button.click()
    assert saved.args[0].version == p.version + 1
    row = stored(session.ctx.db, p.patient_code)
    assert row is not None and row.phone == "+44 1632 960000"
    assert (row.status, row.deceased_date, row.updated_by) == (
        "deceased",
        dt.date(2024, 6, 1),
        "t_clerk",
    )


def test_offline_disables_save_and_keeps_the_entries(qtbot: QtBot, session: Session) -> None:
    form = new_form(qtbot, session)
    entry = valid_entry(unique_family("Andersson"))
    form.fill(entry)
    qtbot.waitExposed(form)
    before, height = places(form), form.height()
    session.ctx.connection.online_changed.emit(False)
    assert not form.save_button.isEnabled() and form.connection_banner.isVisible()
    assert places(form) == before and form.height() > height  # grown below, nothing moved
    form.save()
    assert session.ctx.tasks.pending == 0
    form.fields.given_edit.setText("Ingrid")  # typing goes on while offline
    session.ctx.connection.online_changed.emit(True)
    assert form.save_button.isEnabled() and not form.connection_banner.isVisible()
    assert places(form) == before and form.height() == height  # no gap left behind
    assert form.entry() == DemographicsEntry(**{**entry.__dict__, "given_name": "Ingrid"})


def test_live_change_never_overwrites_typing(
    qtbot: QtBot, session: Session, db: PgDatabase
) -> None:
    (p,) = create_patients(session.ctx.db, person(unique_family("Dubois"), phone="111"))
    form = edit_form(qtbot, session, p.id)
    form.fields.email_edit.setText("mine@example.org")  # unsaved typing
    qtbot.waitExposed(form)
    before = places(form)
    with staff_database(db, "t_clinician") as other, other.session() as s:
        patients.update(
            s, p.id, p.version, PatientInput(**{**p.as_input().__dict__, "phone": "222"})
        )
    qtbot.waitUntil(form.change_banner.isVisible, timeout=LIVE_TIMEOUT_MS)
    text = form.change_banner.text()
    assert text.startswith("Changed by t_clinician on ") and "you will be asked" in text
    assert (
        form.fields.email_edit.text() == "mine@example.org"
        and form.fields.phone_edit.text() == "111"
    )
    assert form.reload_button.isVisible()
    qtbot.waitUntil(lambda: places(form) == before, timeout=2_000)
    # Nothing the person is typing in or reaching for has moved or shrunk.
    assert places(form) == before


def test_live_change_refreshes_an_untouched_form(
    qtbot: QtBot, session: Session, db: PgDatabase
) -> None:
    (p,) = create_patients(session.ctx.db, person(unique_family("Martin"), phone="111"))
    form = edit_form(qtbot, session, p.id)
    with staff_database(db, "t_clinician") as other, other.session() as s:
        patients.update(
            s, p.id, p.version, PatientInput(**{**p.as_input().__dict__, "phone": "222"})
        )
    qtbot.waitUntil(lambda: form.fields.phone_edit.text() == "222", timeout=LIVE_TIMEOUT_MS)
    assert not form.is_dirty() and form.change_banner.text().startswith("Updated: Changed by")
    # Saving now uses the new version: no conflict.
    form.fields.phone_edit.setText("333")
    with qtbot.waitSignal(form.saved, timeout=5_000):
        form.save_button.click()
    assert form.conflict_dialog is None
    row = stored(session.ctx.db, p.patient_code)
    assert row is not None and row.phone == "333" and row.version == 3


def test_closing_a_changed_form_asks_first(qtbot: QtBot, session: Session) -> None:
    form = new_form(qtbot, session)
    form.fields.family_edit.setText("Typed")
    form.cancel_button.click()
    box = form.discard_box
    assert box is not None and form.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert form.isVisible() and form.fields.family_edit.text() == "Typed"
    qtbot.keyClick(form, Qt.Key.Key_Escape)
    box = form.discard_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: closed(form))


# --------------------------------------------------------------------------- connection loss


@pytest.fixture
def own_server() -> Iterator[PgDatabase]:
    """A server of its own, which the test may stop and start again."""
    with harness.own_server("phms-test-own-pg-", "phms", {"t_clerk": "clerk"}) as database:
        yield database


@pytest.mark.slow
def test_unsaved_form_survives_a_server_outage(qtbot: QtBot, own_server: PgDatabase) -> None:
    data_dir = own_server.server.data_dir
    with app_context(qtbot, config_for(own_server), "t_clerk", live=False) as session:
        monitor = session.ctx.connection
        form = new_form(qtbot, session)
        qtbot.keyClicks(form.fields.code_edit, "76543210")
        form.fields.code_edit.editingFinished.emit()
        entry = valid_entry("Nguyen", patient_code="7654321-0", given_name="Thi Mai")
        form.fill(entry)

        embedded.stop(data_dir)
        form.save_button.click()
        qtbot.waitUntil(lambda: not monitor.online, timeout=15_000)
        assert not form.saving and not form.save_button.isEnabled()
        assert form.connection_banner.isVisible() and form.error_banner.isVisible()
        assert form.entry() == entry  # nothing typed was lost
        form.save()  # Ctrl+S while offline does nothing
        assert not form.saving

        embedded.start(data_dir)
        qtbot.waitUntil(lambda: monitor.online, timeout=30_000)
        assert form.save_button.isEnabled() and not form.connection_banner.isVisible()
        assert form.entry() == entry
        with qtbot.waitSignal(form.saved, timeout=10_000):
            form.save_button.click()
        assert session.presented == []

    engine = sa.create_engine(own_server.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT family_name, given_name, birth_date, phone, created_by "
                "FROM phms.patient WHERE patient_code = '7654321-0'"
            )
        ).one()
    engine.dispose()
    assert tuple(row) == ("Nguyen", "Thi Mai", dt.date(1951, 2, 3), "+44 20 7946 0018", "t_clerk")


# --------------------------------------------------------------------------- keyboard


def test_keyboard_and_screen_reader(qtbot: QtBot, session: Session) -> None:
    form = new_form(qtbot, session)
    qtbot.waitExposed(form)
    assert problems(form) == []
    fields = form.fields
    expected = [
        fields.code_edit, fields.family_edit, fields.given_edit, fields.sex_combo,
        fields.birth_edit, fields.phone_edit, fields.email_edit, fields.address_edit,
        fields.group_combo, fields.subtype_combo, fields.status_combo, fields.deceased_edit,
        form.cancel_button, form.save_button,
    ]  # fmt: skip
    assert tab_order(form) == expected
    assert accessible_name(form.fields.code_edit) == "Patient ID"
    qtbot.keyClick(form.fields.code_edit, Qt.Key.Key_Escape)  # nothing typed: closes at once
    assert closed(form)


def test_duplicate_warning_on_edit_when_name_or_birth_date_change(
    qtbot: QtBot, session: Session
) -> None:
    family = unique_family("Kowalczyk")
    other_family = unique_family("Kowalski")
    existing, edited = create_patients(
        session.ctx.db,
        person(family, given="Agnieszka", born=dt.date(1970, 4, 9)),
        person(other_family, given="Agnieszka", born=dt.date(1970, 4, 19)),
    )
    form = edit_form(qtbot, session, edited.id)

    # Another field only: no warning, saved at once (the patient is not their own duplicate).
    form.fields.phone_edit.setText("+44 1632 960001")
    with qtbot.waitSignal(form.saved, timeout=5_000):
        form.save_button.click()
    assert form.duplicate_dialog is None

    # The birth date corrected to the other patient's and the name too: the warning,
    # listing the other patient only, not the one being edited.
    form = edit_form(qtbot, session, edited.id)
    form.fields.family_edit.setText(family)
    form.fields.birth_edit.setText("09.04.1970")
    save_and_wait(qtbot, form)
    dialog = form.duplicate_dialog
    assert dialog is not None and dialog.isVisible() and dialog.editing
    assert [dialog.model.summary(r).id for r in range(dialog.model.rowCount())] == [existing.id]
    assert "already registered as another patient" in dialog.message.text()
    assert dialog.create_button.text() == "Save &anyway"

    # Back: nothing saved, the typing kept.
    dialog.back_button.click()
    row = stored(session.ctx.db, edited.patient_code)
    assert row is not None and row.family_name == other_family
    assert form.entry().family_name == family

    # Open existing: the other chart is asked for; the form stays open with the edits.
    save_and_wait(qtbot, form)
    dialog = form.duplicate_dialog
    assert dialog is not None
    with qtbot.waitSignal(form.open_chart_requested) as opened:
        dialog.open_button.click()
    assert opened.args == [existing.id]
    assert form.isVisible() and form.entry().family_name == family
    assert "Your changes are still here" in form.change_banner.text()

    # Save anyway: it is a different person.
    save_and_wait(qtbot, form)
    dialog = form.duplicate_dialog
    assert dialog is not None
    with qtbot.waitSignal(form.saved, timeout=5_000):
        dialog.create_button.click()
    row = stored(session.ctx.db, edited.patient_code)
    assert row is not None and (row.family_name, row.birth_date) == (family, dt.date(1970, 4, 9))
