"""The main window against the real test database: search, paging, keyboard, live refresh."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.services.patients import PAGE_SIZE
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.patients.patient_form import PatientForm
from phms_client.ui.shell.main_window import SEARCH_HINT, MainWindow
from tests.db.test_client_login import config_for
from tests.harness import PgDatabase, unique_code
from tests.ui.patient_env import (
    Session,
    app_context,
    create_patients,
    person,
    staff_database,
    type_text,
    unique_family,
)

LIVE_TIMEOUT_MS = 2_000 + 500  # the promise is 2 s; the margin is for a loaded CI machine


@pytest.fixture
def session(qtbot: QtBot, db: PgDatabase) -> Iterator[Session]:
    with app_context(qtbot, config_for(db), "t_clerk") as s:
        yield s


@pytest.fixture
def window(qtbot: QtBot, session: Session) -> Iterator[MainWindow]:
    w = MainWindow(session.ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    for form in w.forms():
        form.discard()
    w.close()  # before the session's task runner shuts down


def search_for(qtbot: QtBot, window: MainWindow, text: str, *, rows: int | None = None) -> None:
    """Type like a person (one key at a time) and wait for the debounced answer."""
    window.search_box.clear()
    type_text(qtbot, window.search_box, text)
    qtbot.waitUntil(
        lambda: window.search.query == text.strip() and not window.search.loading, timeout=5_000
    )
    if rows is not None:
        qtbot.waitUntil(lambda: window.model.rowCount() == rows, timeout=5_000)


def shown_ids(window: MainWindow) -> list[int]:
    return [window.model.summary(r).id for r in range(window.model.rowCount())]


def random_birth_date() -> dt.date:
    """A birth date no other test uses (searching by it finds only our patients)."""
    return dt.date(1881, 1, 1) + dt.timedelta(days=random.randrange(40 * 365))


# --------------------------------------------------------------------------- structure


def test_menus_for_the_shell(window: MainWindow) -> None:
    bar = window.menuBar()
    titles = [a.text() for a in bar.actions()]
    assert titles == ["&Patients", "&Tools", "&Options", "&Help"]
    for menu in (window.patients_menu, window.tools_menu, window.options_menu, window.help_menu):
        assert isinstance(menu, QMenu)
    texts = [a.text() for a in window.patients_menu.actions() if not a.isSeparator()]
    assert texts[:2] == ["&New patient…", "&Find patient"]
    assert window.new_patient_action.shortcut().toString() == "Ctrl+N"
    assert window.find_action.shortcut().toString() == "Ctrl+F"


def test_empty_query_shows_the_hint_and_loads_nothing(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    assert window.stack.currentIndex() == 0 and window.hint_label.text() == SEARCH_HINT
    qtbot.keyClicks(window.search_box, "   ")
    qtbot.wait(400)
    assert window.model.rowCount() == 0 and session.ctx.tasks.pending == 0
    assert window.count_label.text() == ""


def test_set_editable_and_hide_patient_data(
    qtbot: QtBot, window: MainWindow, session: Session, db: PgDatabase
) -> None:
    window.set_editable(False)
    assert not window.new_patient_action.isEnabled() and not window.new_button.isEnabled()
    assert window.open_new_patient() is None
    window.set_editable(True)
    assert window.new_patient_action.isEnabled()
    # The window follows the connection monitor by itself.
    session.ctx.connection.online_changed.emit(False)
    assert not window.new_patient_action.isEnabled()
    session.ctx.connection.online_changed.emit(True)
    assert window.new_patient_action.isEnabled()

    family = unique_family()
    (created,) = create_patients(session.ctx.db, person(family))
    search_for(qtbot, window, family, rows=1)
    chart = window.open_chart(created.id)
    qtbot.waitUntil(lambda: chart.details is not None)
    form = window.open_edit(created.id)
    assert form is not None
    qtbot.waitUntil(lambda: form.details is not None)
    window.hide_patient_data(True)
    central = window.centralWidget()
    assert central is not None and not central.isVisible()
    assert not chart.content.isVisible() and not form.content.isVisible()
    assert family not in chart.windowTitle() and family not in form.windowTitle()
    window.hide_patient_data(False)
    assert central.isVisible() and chart.content.isVisible() and form.content.isVisible()
    assert family in chart.windowTitle() and family in form.windowTitle()


# --------------------------------------------------------------------------- searching


def test_search_by_name_ignores_accents_case_and_typos(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    family = unique_family("Łopieński")
    (zoe,) = create_patients(session.ctx.db, person(family, given="Zoë"))
    plain = "lopienski" + family.removeprefix("Łopieński")
    search_for(qtbot, window, plain.upper(), rows=1)
    assert shown_ids(window) == [zoe.id]
    assert window.count_label.text() == "1 patient"
    assert window.stack.currentIndex() == 1
    row = [window.model.data(window.model.index(0, c)) for c in range(3)]
    assert row == [zoe.patient_code, f"{family}, Zoë", "17.05.1960"]

    typo = plain.replace("pien", "pen")  # a letter missing
    search_for(qtbot, window, typo)
    assert zoe.id in shown_ids(window)
    search_for(qtbot, window, f"{plain} zoe")
    assert zoe.id in shown_ids(window)


def test_search_by_id_prefix_and_birth_date(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    born = random_birth_date()
    family = unique_family("Dvořák")
    made = create_patients(
        session.ctx.db, person(family, born=born), person(family, given="Jan", born=born)
    )
    search_for(qtbot, window, made[0].patient_code[:6])
    assert made[0].id in shown_ids(window)
    search_for(qtbot, window, made[0].patient_code, rows=1)
    assert shown_ids(window) == [made[0].id]
    search_for(qtbot, window, made[0].patient_code.replace("-", ""), rows=1)  # dash left out
    assert shown_ids(window) == [made[0].id]
    for typed in (born.strftime("%d.%m.%Y"), born.isoformat(), born.strftime("%d/%m/%Y")):
        search_for(qtbot, window, typed, rows=2)
        assert sorted(shown_ids(window)) == sorted(p.id for p in made)
        assert window.count_label.text() == "2 patients"


def test_typing_fast_sends_one_query_for_the_final_text(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    family = unique_family("Sørensen")
    create_patients(session.ctx.db, person(family))
    answered: list[str] = []
    window.search.results_replaced.connect(lambda: answered.append(window.search.query))
    type_text(qtbot, window.search_box, family)  # one key after the other, no pauses
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5_000)
    qtbot.wait(300)
    assert answered == [family]  # no intermediate prefix was searched or shown


def test_newer_query_supersedes_a_slow_older_one(qtbot: QtBot, db: PgDatabase) -> None:
    """A stale answer must never replace a fresh one (task key)."""
    with app_context(qtbot, config_for(db), live=False, max_threads=1) as session:
        window = MainWindow(session.ctx)
        qtbot.addWidget(window)
        family_a, family_b = unique_family("Horváth"), unique_family("Nowak")
        create_patients(session.ctx.db, person(family_a), person(family_b))
        release = threading.Event()
        # Occupy the only worker: the first search is superseded before it can run.
        session.ctx.tasks.run(lambda: release.wait(10), on_success=lambda _: None)
        check_supersede(qtbot, window, family_a, family_b, release)
        window.close()


def check_supersede(
    qtbot: QtBot, window: MainWindow, family_a: str, family_b: str, release: threading.Event
) -> None:
    answered: list[str] = []
    window.search.results_replaced.connect(lambda: answered.append(window.search.query))
    window.search_box.setText(family_a)
    window.search.search_now()
    window.search_box.setText(family_b)
    window.search.search_now()
    release.set()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5_000)
    qtbot.wait(200)
    assert window.model.summary(0).family_name == family_b
    assert answered == [family_b]


def test_list_loads_next_page_only_when_scrolled(
    qtbot: QtBot, window: MainWindow, session: Session, qtmodeltester: ModelTester
) -> None:
    family = unique_family("Papadopoulos")
    born = random_birth_date()
    create_patients(
        session.ctx.db, *[person(family, given=f"Anna{i:02d}", born=born) for i in range(62)]
    )
    search_for(qtbot, window, family, rows=PAGE_SIZE)
    assert window.count_label.text() == f"{PAGE_SIZE}+ patients"
    qtbot.wait(500)  # nothing is fetched while the end of the list is out of sight
    assert window.model.rowCount() == PAGE_SIZE and session.ctx.tasks.pending == 0
    window.table.setFocus()
    window.table.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.rowCount() == 62, timeout=5_000)
    assert window.count_label.text() == "62 patients"
    assert len(set(shown_ids(window))) == 62
    assert not window.model.canFetchMore(QModelIndex())
    # Checked at the end: the tester itself calls fetchMore, as a view does.
    qtmodeltester.check(window.model)


# --------------------------------------------------------------------------- keyboard


def test_keyboard_find_down_enter_opens_chart(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    family = unique_family("Çelik")
    born = random_birth_date()
    made = create_patients(
        session.ctx.db, person(family, given="Ömer", born=born), person(family, born=born)
    )
    window.table.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.search_box
    qtbot.keyClicks(window.search_box, born.strftime("%d.%m.%Y"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5_000)
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is window.table
    assert window.table.currentIndex().row() == 0
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    second = window.current_patient_id()
    assert second == window.model.summary(1).id and second in {p.id for p in made}
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: second in window.charts, timeout=2_000)
    chart = window.charts[second]
    qtbot.waitUntil(lambda: chart.details is not None, timeout=5_000)
    assert isinstance(chart, ChartWindow) and chart.details is not None
    assert chart.details.id == second
    # Typing in the list goes back to the search box.
    chart.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_X)
    assert QApplication.focusWidget() is window.search_box
    assert window.search_box.text().endswith("x")


def test_ctrl_n_offers_new_patient_with_unknown_id(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    code = unique_code()
    search_for(qtbot, window, code.replace("-", ""), rows=0)
    assert window.hint_label.text() == f"No patient has the ID {code}."
    assert window.hint_new_button.isVisible()
    assert window.count_label.text() == "No patients found"
    qtbot.keyClick(window.search_box, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(window.forms()), timeout=2_000)
    form = window.forms()[0]
    assert isinstance(form, PatientForm) and form.fields.code_edit.text() == code
    assert not form.is_dirty()  # a prefill is not the user's change


def test_busy_indicator_follows_the_task_runner(
    qtbot: QtBot, window: MainWindow, session: Session
) -> None:
    release = threading.Event()
    assert not window.busy_bar.isVisible()
    session.ctx.tasks.run(lambda: release.wait(10), on_success=lambda _: None)
    qtbot.waitUntil(window.busy_bar.isVisible, timeout=3_000)
    assert window.busy_label.isVisible()
    release.set()
    qtbot.waitUntil(lambda: not window.busy_bar.isVisible(), timeout=3_000)


# --------------------------------------------------------------------------- live


def test_list_refreshes_when_another_workstation_changes_patients(
    qtbot: QtBot, window: MainWindow, session: Session, db: PgDatabase
) -> None:
    family = unique_family("Kovačević")
    born = random_birth_date()
    (mina,) = create_patients(session.ctx.db, person(family, given="Mina", born=born))
    search_for(qtbot, window, family, rows=1)
    window.table.selectRow(0)
    assert window.current_patient_id() == mina.id
    with staff_database(db, "t_clinician") as other:
        (ana,) = create_patients(other, person(family, given="Ana", born=born))
        qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=LIVE_TIMEOUT_MS)
    assert window.model.summary(0).id == ana.id  # "Ana" sorts first...
    assert window.current_patient_id() == mina.id  # ...and the selection stayed on Mina
    assert window.count_label.text() == "2 patients"


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen platform
def test_closing_with_an_unsaved_form_asks_first(qtbot: QtBot, window: MainWindow) -> None:
    form = window.open_new_patient()
    assert form is not None
    form.fields.family_edit.setText("Typed but not saved")
    assert window.has_unsaved_changes()
    window.close()
    assert window.isVisible() and form.isVisible() and form.discard_box is not None
    form.discard()
    assert not window.has_unsaved_changes()
    window.close()
    assert not window.isVisible()


def test_a_date_with_no_patients_is_not_taken_for_an_id(qtbot: QtBot, window: MainWindow) -> None:
    search_for(qtbot, window, "15.06.1880", rows=0)  # 8 digits, like an ID without dash
    assert window.hint_label.text().startswith("No patient found for “15.06.1880”.")
    assert not window.hint_new_button.isVisible()
    qtbot.keyClick(window.search_box, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(window.forms()), timeout=2_000)
    form = window.forms()[0]
    assert form.fields.birth_edit.text() == "15.06.1880" and form.fields.code_edit.text() == ""


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "t_clinician",
            {"Patient &report…", "&Statistical report…", "&Error Check…"},
        ),
        (
            "t_admin",
            {"Patient &report…", "&Statistical report…", "&Error Check…", "Registry e&xport…"},
        ),
        ("t_clerk", set()),
    ],
)
def test_report_entries_follow_the_group(
    qtbot: QtBot, db: PgDatabase, user: str, expected: set[str]
) -> None:
    """Reports, Error Check and the registry export are in the menus for whoever may
    use them, and absent for clerks (who never see clinical data)."""
    wanted = {"Patient &report…", "&Statistical report…", "&Error Check…", "Registry e&xport…"}
    with app_context(qtbot, config_for(db), user, live=False) as s:
        w = MainWindow(s.ctx)
        qtbot.addWidget(w)
        menus = (w.patients_menu, w.tools_menu)
        visible = {a.text() for m in menus for a in m.actions() if a.isVisible()} & wanted
        w.close()
    assert visible == expected


def test_error_check_hit_opens_the_record_in_the_right_form(qtbot: QtBot, db: PgDatabase) -> None:
    """Double-clicking an Error Check hit (its open_record signal) shows the chart and
    opens that very record, in the followup form when the row is a followup."""
    import datetime as dt
    from decimal import Decimal

    from phms_client.services import chart, patients
    from phms_client.services.chart import AssessmentInput, WalkInput

    with app_context(qtbot, config_for(db), "t_clinician", live=False) as s:
        with s.ctx.db.session() as session:
            pid = patients.create(
                session,
                patients.PatientInput(
                    patient_code=unique_code(),
                    family_name="Kovačević",
                    given_name="Ana",
                    sex="female",
                    birth_date=dt.date(1962, 4, 5),
                ),
            ).id
            chart.create_assessment(
                session,
                AssessmentInput(pid, dt.date(2024, 1, 10), height_cm=Decimal(165)),
            )
            followup = chart.create_assessment(
                session, AssessmentInput(pid, dt.date(2024, 6, 1), kind="followup", who_fc=2)
            ).id
            walk = chart.create_walk(session, WalkInput(pid, dt.date(2024, 6, 1), Decimal(410))).id
        w = MainWindow(s.ctx)
        qtbot.addWidget(w)
        error_check = w.report_actions.open_error_check()
        error_check.open_record.emit(pid, "assessment", followup)
        qtbot.waitUntil(lambda: len(w.record_forms.forms()) == 1, timeout=5_000)
        error_check.open_record.emit(pid, "six_minute_walk", walk)
        qtbot.waitUntil(lambda: len(w.record_forms.forms()) == 2, timeout=5_000)
        opened = {
            (type(f).__name__, f.record_id, getattr(f, "kind", None))
            for f in w.record_forms.forms()
        }
        assert pid in w.charts
        for form in w.record_forms.forms():
            form.close()
        error_check.close()
        w.close()
    assert opened == {("AssessmentForm", followup, "followup"), ("WalkForm", walk, None)}
