"""The appointment day list: its model at a fixed clock, and the widget on a real server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox, QTableView
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from phms_client.clinical.appointments import Mark, Status
from phms_client.services import appointments
from phms_client.services.appointments import AppointmentRow
from phms_client.ui.clinic_day.appointment_dialog import AppointmentDialog
from phms_client.ui.clinic_day.day_list import REFRESH_MS, DayListWidget
from phms_client.ui.clinic_day.day_list_model import (
    COL_STATUS,
    COL_TIME,
    MARK_STYLE,
    DayListModel,
    StatusDelegate,
)
from tests.harness import PgDatabase
from tests.ui.clinic_support import (
    Workstation,
    book,
    clinic_context,
    far_day,
    new_patient,
    unique_family,
    unique_name,
)

UTC = dt.UTC
NOW = dt.datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
MIN = dt.timedelta(minutes=1)


def appointment(
    n: int,
    starts: dt.datetime,
    status: Status = Status.BOOKED,
    changed: dt.datetime | None = None,
    kind: str = "followup",
) -> AppointmentRow:
    return AppointmentRow(
        id=n,
        patient_id=100 + n,
        patient_code=f"000000{n}-1",
        patient_name=f"Patient{n}, Anna",
        starts_at=starts,
        duration_min=30,
        kind=kind,
        status=status,
        status_changed_at=changed or starts - 60 * MIN,
        note="bring last echo" if n == 1 else None,
        version=1,
        updated_by="t_clerk",
    )


DAY = [
    appointment(1, NOW + 120 * MIN),  # upcoming
    appointment(2, NOW + 20 * MIN),  # due (starts within 30 min)
    appointment(3, NOW - 20 * MIN),  # due (overdue up to 30 min)
    appointment(4, NOW - 45 * MIN),  # missed
    appointment(5, NOW - 45 * MIN, Status.ARRIVED, NOW - 50 * MIN),
    appointment(6, NOW - 90 * MIN, Status.COMPLETED, NOW - 10 * MIN),
    appointment(7, NOW - 120 * MIN, Status.COMPLETED, NOW - 31 * MIN),  # done, locked
    appointment(8, NOW + 60 * MIN, Status.CANCELLED, NOW - 5 * MIN),
]


def status_texts(model: DayListModel) -> list[str]:
    return [model.data(model.index(r, COL_STATUS)) for r in range(model.rowCount())]


def test_model_marks_the_day_at_a_fixed_clock(qtmodeltester: ModelTester) -> None:
    model = DayListModel(UTC)
    model.set_rows(list(reversed(DAY)), NOW)  # sorted by time whatever the order given
    qtmodeltester.check(model)
    assert [model.appointment(r).id for r in range(8)] == [7, 6, 4, 5, 3, 2, 8, 1]
    assert status_texts(model) == [
        "done",
        "completed",
        "missed",
        "arrived",
        "due",
        "due",
        "cancelled",
        "upcoming",
    ]
    assert model.data(model.index(0, COL_TIME)) == "08:00–08:30"
    due = model.index(4, COL_STATUS)
    assert model.data(due, Qt.ItemDataRole.BackgroundRole) == QColor(MARK_STYLE[Mark.DUE][1])
    cancelled = model.index(6, COL_TIME)
    assert model.data(cancelled, Qt.ItemDataRole.FontRole).strikeOut()
    assert "No longer editable" in model.data(model.index(0, 1), Qt.ItemDataRole.ToolTipRole)

    # The clock moves, nothing is queried: 35 minutes later the marks have moved on.
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    model.set_now(NOW + 35 * MIN)
    assert changed == [(0, 7)]
    assert status_texts(model) == [
        "done",
        "done",  # completed 45 minutes ago
        "missed",
        "arrived",
        "missed",  # 55 minutes overdue
        "due",  # 15 minutes overdue
        "cancelled",  # (cancelled 40 minutes ago: shown greyed)
        "upcoming",
    ]
    assert model.mark(6) is Mark.CANCELLED_EARLIER
    qtmodeltester.check(model)


def test_selected_row_keeps_its_status_colour(qtbot: QtBot) -> None:
    model = DayListModel(UTC)
    model.set_rows(DAY, NOW)
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    table.setItemDelegateForColumn(COL_STATUS, StatusDelegate(table))
    table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    table.resize(800, 400)
    table.show()
    qtbot.waitExposed(table)
    row = next(r for r in range(model.rowCount()) if model.mark(r) is Mark.MISSED)
    table.selectRow(row)
    table.setFocus()
    qtbot.wait(20)
    image = table.viewport().grab().toImage()
    cell = table.visualRect(model.index(row, COL_STATUS))
    inset = StatusDelegate.INSET
    # Inside the badge (left of the text): the status colour, not the highlight.
    badge = image.pixelColor(cell.left() + inset + 4, cell.center().y())
    assert badge == QColor(MARK_STYLE[Mark.MISSED][1])
    # Around it, and in the other cells of the row: the selection highlight.
    highlight = table.palette().highlight().color()

    def near(colour: QColor) -> bool:  # (the style may shade the highlight slightly)
        pairs = zip(colour.getRgb()[:3], highlight.getRgb()[:3], strict=True)
        return all(abs(a - b) <= 8 for a, b in pairs)  # type: ignore[operator]

    assert near(image.pixelColor(cell.left() + 1, cell.center().y()))
    time_cell = table.visualRect(model.index(row, COL_TIME))
    assert near(image.pixelColor(time_cell.right() - 2, time_cell.center().y()))


def test_model_marks_at_each_30_minute_boundary() -> None:
    model = DayListModel(UTC)
    start = NOW
    model.set_rows([appointment(1, start)], start - 30 * MIN)
    assert status_texts(model) == ["due"]  # exactly 30 minutes before: due
    model.set_now(start - 30 * MIN - dt.timedelta(seconds=1))
    assert status_texts(model) == ["upcoming"]
    model.set_now(start + 30 * MIN)
    assert status_texts(model) == ["due"]
    model.set_now(start + 30 * MIN + dt.timedelta(seconds=1))
    assert status_texts(model) == ["missed"]


# --------------------------------------------------------------------------- widget


@pytest.fixture
def clinician(db: PgDatabase) -> Iterator[sa.Engine]:
    engine = db.engine_for("t_clinician")
    yield engine
    engine.dispose()


@pytest.fixture
def clerk(qtbot: QtBot, db: PgDatabase) -> Iterator[Workstation]:
    with clinic_context(qtbot, db, "t_clerk") as station:
        yield station


def day_list(qtbot: QtBot, station: Workstation, day: dt.date) -> DayListWidget:
    widget = DayListWidget(station.ctx, station.windows)
    widget.resize(900, 400)
    widget.show()
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_day(day)
    return widget


def wait_row(
    qtbot: QtBot, widget: DayListWidget, appointment_id: int, **expected: object
) -> AppointmentRow:
    def check() -> None:
        row = widget.model.row_of(appointment_id)
        assert row is not None
        current = widget.model.appointment(row)
        for name, value in expected.items():
            assert getattr(current, name) == value, (name, getattr(current, name))

    qtbot.waitUntil(check, timeout=5_000)
    row = widget.model.row_of(appointment_id)
    assert row is not None
    return widget.model.appointment(row)


def test_clerk_works_through_a_day(qtbot: QtBot, clerk: Workstation, clinician: sa.Engine) -> None:
    day = far_day()
    pid = new_patient(clinician, unique_name("Dayl"), "Eva").id
    at = dt.datetime.combine(day, dt.time(9, 30), UTC)
    first = book(clinician, pid, at, "followup")
    second = book(clinician, pid, at + dt.timedelta(hours=2), "6-minute walk", 45)
    widget = day_list(qtbot, clerk, day)
    assert widget.model.rowCount() == 2
    assert widget.status_label.text() == "2 appointments"
    assert widget.timer.isActive() and widget.timer.interval() == REFRESH_MS == 30_000
    assert not widget.enter_button.isVisibleTo(widget)  # clerks never enter clinical data
    assert widget.context_menu().actions()[-1] is not widget.enter_data_action

    assert widget.select(first.id)
    assert widget.arrived_button.isEnabled()
    qtbot.mouseClick(widget.arrived_button, Qt.MouseButton.LeftButton)
    wait_row(qtbot, widget, first.id, status=Status.ARRIVED)
    assert not widget.arrived_button.isEnabled() and widget.completed_button.isEnabled()
    qtbot.mouseClick(widget.completed_button, Qt.MouseButton.LeftButton)
    done = wait_row(qtbot, widget, first.id, status=Status.COMPLETED)
    assert done.editable(widget.now())  # completed just now: still editable
    assert widget.reschedule_button.isEnabled() and not widget.cancel_button.isEnabled()

    assert widget.select(second.id)
    qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
    box = widget.message_box
    assert isinstance(box, QMessageBox) and "Cancel the appointment" in box.text()
    yes = next(b for b in box.buttons() if b.text() == "Cancel appointment")
    qtbot.mouseClick(yes, Qt.MouseButton.LeftButton)
    wait_row(qtbot, widget, second.id, status=Status.CANCELLED)
    # The change's own notification may reload the list once more ("Loading…").
    qtbot.waitUntil(
        lambda: widget.status_label.text() == "1 appointment, 1 cancelled", timeout=10_000
    )
    assert not any(
        b.isEnabled()
        for b in (widget.arrived_button, widget.reschedule_button, widget.cancel_button)
    )

    # Date navigation: the next day is empty, today is the server's today.
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        qtbot.mouseClick(widget.next_button, Qt.MouseButton.LeftButton)
    assert widget.day == day + dt.timedelta(days=1) and widget.model.rowCount() == 0
    assert widget.stack.currentWidget() is widget.empty_label
    assert "No appointments" in widget.empty_label.text()
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        qtbot.mouseClick(widget.today_button, Qt.MouseButton.LeftButton)
    assert widget.day == widget.now().astimezone(widget.model.zone).date()
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.date_edit.setDate(QDate(day.year, day.month, day.day))  # the date picker
    assert widget.day == day and widget.model.rowCount() == 2
    assert clerk.presented == []


def test_completed_is_locked_after_30_minutes(
    qtbot: QtBot, clerk: Workstation, clinician: sa.Engine, admin_engine: sa.Engine
) -> None:
    day = far_day()
    pid = new_patient(clinician, unique_name("Lock"), "Ida").id
    a = book(clinician, pid, dt.datetime.combine(day, dt.time(8), UTC))
    with Session(clinician) as s, s.begin():
        appointments.set_status(s, a.id, a.version, Status.COMPLETED)
    with admin_engine.begin() as conn:  # pretend it was completed 31 minutes ago
        conn.execute(sa.text("ALTER TABLE phms.appointment DISABLE TRIGGER appointment_rules"))
        conn.execute(
            sa.text(
                "UPDATE phms.appointment SET status_changed_at = now() - interval '31 minutes' "
                "WHERE id = :i"
            ),
            {"i": a.id},
        )
        conn.execute(sa.text("ALTER TABLE phms.appointment ENABLE TRIGGER appointment_rules"))
    widget = day_list(qtbot, clerk, day)
    widget.select(a.id)
    assert widget.model.mark(0) is Mark.DONE
    for button in (
        widget.reschedule_button,
        widget.cancel_button,
        widget.arrived_button,
        widget.completed_button,
    ):
        assert not button.isEnabled()
    assert widget.reschedule() is None
    assert widget.book_for_patient_action.isEnabled()  # a new one for the patient is fine


def test_someone_else_changed_it_first(
    qtbot: QtBot, clerk: Workstation, clinician: sa.Engine
) -> None:
    day = far_day()
    pid = new_patient(clinician, unique_name("Stale"), "Max").id
    a = book(clinician, pid, dt.datetime.combine(day, dt.time(11), UTC))
    widget = day_list(qtbot, clerk, day)
    seen = widget.model.appointment(0)
    with Session(clinician) as s, s.begin():
        appointments.set_status(s, a.id, a.version, Status.ARRIVED)
    widget.change_status(seen, Status.CANCELLED)  # acting on what was on screen
    qtbot.waitUntil(lambda: widget.message_box is not None, timeout=10_000)
    box = widget.message_box
    assert isinstance(box, QMessageBox)
    assert box.text() == "t_clinician changed this appointment first."
    assert "arrived" in box.informativeText() and "not made" in box.informativeText()
    wait_row(qtbot, widget, a.id, status=Status.ARRIVED)
    box.accept()


def test_book_and_reschedule_through_the_dialog(
    qtbot: QtBot, clerk: Workstation, clinician: sa.Engine
) -> None:
    day = far_day()
    family = unique_family("Bookq")
    patient = new_patient(clinician, family, "Olga")
    widget = day_list(qtbot, clerk, day)
    dialog = widget.book()
    assert isinstance(dialog, AppointmentDialog)
    assert dialog.date_edit.date().toPython() == day
    assert dialog.time_edit.time().toString("HH:mm") == "09:00"
    assert dialog.kind_combo.count() == 5  # the site's appointment kinds

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "choose the patient" in dialog.message_label.text()
    qtbot.keyClicks(dialog.search_edit, family)
    qtbot.waitUntil(lambda: dialog.results.count() == 1, timeout=5_000)
    assert patient.patient_code in dialog.results.item(0).text()
    dialog.results.itemClicked.emit(dialog.results.item(0))
    assert dialog.patient is not None and dialog.patient.id == patient.id
    dialog.time_edit.setTime(dialog.time_edit.time().addSecs(90 * 60))
    dialog.kind_combo.setCurrentText("vasodilator challenge")
    dialog.duration_spin.setValue(90)
    dialog.note_edit.setPlainText("fasting")
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    booked = widget.current()
    assert booked is not None and booked.patient_id == patient.id
    local = booked.starts_at.astimezone(widget.model.zone)
    assert (local.date(), local.strftime("%H:%M")) == (day, "10:30")
    assert (booked.kind, booked.duration_min, booked.note) == (
        "vasodilator challenge",
        90,
        "fasting",
    )

    # Reschedule; someone else moves it first: the dialog says who, a second Save wins.
    dialog = widget.reschedule()
    assert isinstance(dialog, AppointmentDialog) and dialog.search_edit.isHidden()
    assert family in dialog.patient_label.text()
    dialog.time_edit.setTime(dialog.time_edit.time().addSecs(3600))
    with Session(clinician) as s, s.begin():
        appointments.reschedule(s, booked.id, booked.version, booked.starts_at + 15 * MIN)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.message_label.isVisible, timeout=10_000)
    assert dialog.message_label.text().startswith("t_clinician changed this appointment")
    assert "10:45" in dialog.message_label.text()
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    moved = wait_row(qtbot, widget, booked.id, version=booked.version + 2)
    assert moved.starts_at.astimezone(widget.model.zone).strftime("%H:%M") == "11:30"
    assert clerk.presented == []


def test_a_booking_on_another_workstation_appears_within_two_seconds(
    qtbot: QtBot, clerk: Workstation, clinician: sa.Engine
) -> None:
    day = far_day()
    pid = new_patient(clinician, unique_name("Live"), "Noor").id
    widget = day_list(qtbot, clerk, day)
    assert widget.model.rowCount() == 0
    a = book(clinician, pid, dt.datetime.combine(day, dt.time(14), UTC), "consultation")
    qtbot.waitUntil(lambda: widget.model.row_of(a.id) is not None, timeout=2_000)
    with Session(clinician) as s, s.begin():
        appointments.set_status(s, a.id, a.version, Status.ARRIVED)
    qtbot.waitUntil(lambda: widget.model.mark(0) is Mark.ARRIVED, timeout=2_000)


def test_enter_data_and_the_context_menu_for_clinicians(
    qtbot: QtBot, db: PgDatabase, clinician: sa.Engine
) -> None:
    day = far_day()
    pid = new_patient(clinician, unique_name("Menu"), "Lea").id
    a = book(clinician, pid, dt.datetime.combine(day, dt.time(15), UTC))
    with clinic_context(qtbot, db, "t_clinician") as station:
        widget = day_list(qtbot, station, day)
        widget.select(a.id)
        menu = widget.context_menu()
        texts = [action.text().replace("&", "") for action in menu.actions() if action.text()]
        assert texts == [
            "Open chart",
            "Reschedule…",
            "New appointment for this patient…",
            "Cancel appointment…",
            "Mark arrived",
            "Mark completed",
            "Enter data",
        ]
        with qtbot.waitSignal(widget.enter_data, timeout=1_000) as entered:
            widget.enter_data_action.trigger()
        assert entered.args == [pid]
        dialog = widget.book_for_current()
        assert isinstance(dialog, AppointmentDialog)
        assert dialog.patient is not None and dialog.patient.id == pid
        assert dialog.search_edit.isVisibleTo(dialog)  # another patient may still be chosen
        dialog.reject()


def test_offline_and_auditors(qtbot: QtBot, db: PgDatabase, clerk: Workstation) -> None:
    widget = day_list(qtbot, clerk, far_day())
    widget.set_editable(False)
    assert not widget.new_button.isEnabled() and widget.book() is None
    widget.set_editable(True)
    assert widget.new_button.isEnabled()
    with clinic_context(qtbot, db, "t_auditor") as station:
        audit_view = DayListWidget(station.ctx, station.windows)
        assert not audit_view.available and not audit_view.timer.isActive()
        assert "not available" in audit_view.empty_label.text()
        assert station.presented == []


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_main_window_shows_the_day_and_enter_data_opens_the_chart(
    qtbot: QtBot, db: PgDatabase, clinician: sa.Engine
) -> None:
    from phms_client.ui.shell.main_window import MainWindow

    pid = new_patient(clinician, unique_name("Main"), "Rosa").id
    with clinic_context(qtbot, db, "t_clinician") as station:
        window = MainWindow(station.ctx, station.windows)
        window.setWindowFlag(Qt.WindowType.Window, True)
        window.show()
        widget = window.day_list
        assert widget.isVisible() and widget.available
        day = far_day()
        a = book(clinician, pid, dt.datetime.combine(day, dt.time(9), UTC))
        with qtbot.waitSignal(widget.loaded, timeout=10_000):
            widget.set_day(day)
        assert widget.select(a.id)
        widget.enter_data_action.trigger()
        chart = window.charts.get(pid)
        assert chart is not None and chart.isVisible()
        chart.close()
        # Double-clicking an appointment opens the patient's chart, not Reschedule.
        view = widget.table
        rect = view.visualRect(view.model().index(view.currentIndex().row(), 2))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        reopened = window.charts.get(pid)
        assert reopened is not None and reopened is not chart and reopened.isVisible()
        chart = reopened
        assert widget.dialog is None  # no Reschedule dialog opened
        window.set_editable(False)  # offline: the day list cannot change anything either
        assert not widget.new_button.isEnabled() and not widget.arrived_button.isEnabled()
        window.set_editable(True)
        window.hide_patient_data(True)  # idle lock: the day's names are hidden too
        assert not widget.isVisible()
        window.hide_patient_data(False)
        chart.close()
        window.close()
