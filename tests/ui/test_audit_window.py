"""The auditor's workspace, for real: an auditor logs in, lands on the review window
and answers "who looked at Mrs Whitfield's chart, and why might that be odd?".

With ``PHMS_SCREENSHOTS=DIR`` the windows are saved there as PNG (docs/screenshots).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import shiboken6
import sqlalchemy as sa
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.services import audit_review as review
from phms_client.ui.audit.event_dialog import EventDialog
from phms_client.ui.audit.models import CHANGED_BACKGROUND, ActivityModel, FieldsModel, FlagsModel
from phms_client.ui.audit.window import AuditWindow
from phms_client.ui.shell.app_shell import main_window_factory
from phms_client.ui.shell.main_window import MainWindow
from tests.harness import PgDatabase, unique_code
from tests.ui import screens
from tests.ui.clinic_support import clinic_context
from tests.ui.shell_support import logged_in_shell, server_settings, write_location

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
capture = partial(screens.capture, settle_ms=120)
FAMILY = "Whitfield"


@pytest.fixture(scope="module")
def story(db: PgDatabase) -> dict[str, int]:
    """Mrs Whitfield: registered and changed by a clinician, her chart opened by a clerk
    and late at night by a clinician; a clerk whose login holds a patient's family name."""
    clinician, clerk = db.engine_for("t_clinician"), db.engine_for("t_clerk")
    with clinician.begin() as conn:
        pid = conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date)"
                " VALUES (:c, :f, 'Margaret', 'female', '1948-09-14') RETURNING id"
            ),
            {"c": unique_code(), "f": FAMILY},
        ).scalar_one()
        namesake = conn.execute(
            sa.text(
                "INSERT INTO phms.patient (patient_code, family_name, given_name, sex, birth_date)"
                " VALUES (:c, 'Clerk', 'Peter', 'male', '1950-01-01') RETURNING id"
            ),
            {"c": unique_code()},
        ).scalar_one()
    with clinician.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE phms.patient SET phone = '+44 20 7946 0018', status = 'active',"
                " email = 'm.whitfield@example.org' WHERE id = :i"
            ),
            {"i": pid},
        )
    with clerk.begin() as conn:
        conn.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": pid})
        conn.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": namesake})
    clinician.dispose()
    clerk.dispose()
    # A late-night opening two days ago, as the trail would have recorded it.
    night = (dt.datetime.now().astimezone() - dt.timedelta(days=2)).replace(
        hour=23, minute=12, second=0, microsecond=0
    )
    admin = sa.create_engine(db.admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit.chart_access (patient_id, session_user_name, at, client_addr)"
                " VALUES (:p, 't_clinician', :t, '10.0.4.27')"
            ),
            {"p": pid, "t": night},
        )
    admin.dispose()
    return {"id": pid, "namesake": namesake}


@pytest.fixture
def window(qtbot: QtBot, db: PgDatabase) -> Iterator[AuditWindow]:
    with clinic_context(qtbot, db, "t_auditor") as station:
        win = AuditWindow(station.ctx)
        win.show()
        try:
            yield win
        finally:
            for panel in (win.activity, win.staff):
                if panel.dialog is not None:
                    panel.dialog.close()
            win.close()
            shiboken6.delete(win)


def _wait_rows(qtbot: QtBot, model: ActivityModel | FlagsModel, n: int) -> None:
    qtbot.waitUntil(lambda: model.rowCount() >= n, timeout=10_000)


def test_auditors_land_on_the_review_window(qtbot: QtBot, tmp_path: Path, db: PgDatabase) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(
        qtbot, location, "t_auditor", window_factory=main_window_factory
    ) as running:
        assert isinstance(running.window, AuditWindow)
        tabs = [running.window.tabs.tabText(i) for i in range(running.window.tabs.count())]
    assert tabs == ["Activity", "Patient access report", "Staff activity", "Flags"]
    with logged_in_shell(qtbot, location, "t_clerk", window_factory=main_window_factory) as running:
        assert isinstance(running.window, MainWindow)


def test_who_looked_at_mrs_whitfields_chart(
    qtbot: QtBot, window: AuditWindow, story: dict[str, int], qtmodeltester: ModelTester
) -> None:
    panel = window.activity
    panel.patient_edit.setText(FAMILY.lower())
    panel.search_button.click()
    _wait_rows(qtbot, panel.model, 4)
    qtmodeltester.check(panel.model)
    rows = panel.model.rows()
    assert [(r.staff, r.action) for r in rows] == [
        ("t_clerk", "opened the chart"),
        ("t_clinician", "changed patient"),
        ("t_clinician", "added patient"),
        ("t_clinician", "opened the chart"),  # two days ago, at night
    ]
    assert panel.model.index(0, 3).data().startswith(f"{FAMILY}, Margaret (")
    assert panel.model.index(3, 5).data() == "10.0.4.27"
    assert "4 shown (2 chart openings, 2 writes)" in panel.status_label.text()
    capture(qtbot, window, "audit-activity")

    # The change, old and new side by side.
    panel.view.setCurrentIndex(panel.model.index(1, 0))
    panel.details_button.click()
    qtbot.waitUntil(lambda: panel.dialog is not None and panel.dialog.isVisible(), timeout=10_000)
    dialog = panel.dialog
    assert isinstance(dialog, EventDialog)
    qtmodeltester.check(dialog.model)
    changed = {f.name for f in dialog.model.rows() if f.changed}
    assert {"phone", "email", "version"} <= changed and "family_name" not in changed
    assert dialog.note.text() == f"{len(changed)} fields changed (highlighted)."
    capture(qtbot, dialog, "audit-event")
    dialog.close()


def test_pages_are_loaded_as_the_list_is_scrolled(
    qtbot: QtBot, window: AuditWindow, story: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    panel = window.activity
    asked: list[None] = []
    panel.model.more_wanted.connect(lambda: asked.append(None))
    panel.patient_edit.setText(str(story["id"]))
    panel.search_button.click()
    # The list is short on screen: the view itself asks for the next pages.
    _wait_rows(qtbot, panel.model, 4)
    qtbot.waitUntil(lambda: not panel.model.more, timeout=10_000)
    assert len(asked) == 1  # two pages of 2 (one row more is asked for: is there more?)
    assert len({(r.kind, r.id) for r in panel.model.rows()}) == 4
    assert panel.status_label.text() == "4 shown (2 chart openings, 2 writes)"


def test_bad_filters_are_explained(qtbot: QtBot, window: AuditWindow) -> None:
    panel = window.activity
    panel.period.from_edit.setDate(panel.period.to_edit.date().addDays(1))
    panel.search_button.click()
    assert panel.message_label.text() == (
        "The period starts after it ends: choose an earlier first day."
    )
    window.staff.search_button.click()
    assert window.staff.message_label.text() == "Type the staff member's login."
    window.flags.period.from_edit.setDate(window.flags.period.to_edit.date().addDays(-120))
    window.flags.find_button.click()
    qtbot.waitUntil(lambda: window.flags.message_label.text() != "", timeout=10_000)
    assert window.flags.message_label.text() == (
        "Choose a period of at most 92 days that starts before it ends."
    )


def test_a_patients_access_report(
    qtbot: QtBot, window: AuditWindow, story: dict[str, int], tmp_path: Path
) -> None:
    window.tabs.setCurrentWidget(window.access)
    panel = window.access
    panel.patient_edit.setText(FAMILY)
    panel.find_button.click()
    qtbot.waitUntil(lambda: panel.match_combo.count() == 1, timeout=10_000)
    panel.report_button.click()
    _wait_rows(qtbot, panel.model, 4)
    assert panel.pdf_button.isEnabled()
    assert "Margaret: 4 accesses by 2 staff members" in panel.summary_label.text()
    capture(qtbot, window, "audit-access-report")
    panel.save_pdf(tmp_path / "report.pdf")
    panel.save_csv(tmp_path / "report.csv")
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    lines = (tmp_path / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("When,Staff login,What") and len(lines) == 5
    panel.save_csv(tmp_path / "missing" / "report.csv")
    assert panel.message_label.text().startswith("The CSV file could not be saved")


def test_a_staff_members_activity(qtbot: QtBot, window: AuditWindow, story: dict[str, int]) -> None:
    window.tabs.setCurrentWidget(window.staff)
    panel = window.staff
    panel.staff_edit.setText("t_clerk")
    panel.search_button.click()
    _wait_rows(qtbot, panel.model, 2)
    staff = {r.staff for r in panel.model.rows()}
    assert staff == {"t_clerk"}
    capture(qtbot, window, "audit-staff-activity")


def test_flags_worth_a_look(
    qtbot: QtBot, window: AuditWindow, story: dict[str, int], qtmodeltester: ModelTester
) -> None:
    window.tabs.setCurrentWidget(window.flags)
    panel = window.flags
    panel.find_button.click()
    _wait_rows(qtbot, panel.model, 1)
    qtmodeltester.check(panel.model)
    mine = {(f.flag, f.staff) for f in panel.model.rows() if f.patient_id == story["id"]}
    assert ("after_hours", "t_clinician") in mine
    assert ("no_reason", "t_clerk") in mine
    assert any(
        f.flag == "own_name" and f.patient_id == story["namesake"] for f in panel.model.rows()
    )
    capture(qtbot, window, "audit-flags")
    # A flag leads to that person's activity on that day.
    row = next(
        n
        for n, f in enumerate(panel.model.rows())
        if f.flag == "after_hours" and f.patient_id == story["id"]
    )
    panel.view.doubleClicked.emit(panel.model.index(row, 0))
    assert window.tabs.currentWidget() is window.activity
    _wait_rows(qtbot, window.activity.model, 1)
    assert [(r.staff, r.client_addr) for r in window.activity.model.rows()] == [
        ("t_clinician", "10.0.4.27")
    ]


def test_fields_model_highlights_changes(qtmodeltester: ModelTester) -> None:
    model = FieldsModel(
        [review.FieldChange("phone", "1", "2", True), review.FieldChange("name", "A", "A", False)]
    )
    qtmodeltester.check(model)
    from PySide6.QtCore import Qt

    assert model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole).color() == CHANGED_BACKGROUND
    assert model.index(1, 1).data(Qt.ItemDataRole.BackgroundRole) is None


def test_the_idle_lock_hides_names_and_values(
    qtbot: QtBot, window: AuditWindow, story: dict[str, int]
) -> None:
    window.hide_patient_data(True)
    central = window.centralWidget()
    assert central is not None and central.isHidden()
    window.hide_patient_data(False)
    assert not central.isHidden()
