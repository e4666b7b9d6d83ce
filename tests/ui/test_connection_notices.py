"""Every window that can be open says it when the server is lost, not only the main window.

The notice comes at the bottom and the window grows by its height: nothing under the
pointer moves; after the reconnect it goes and leaves no gap. The connection monitor is
the real one, told of the loss as a failed task tells it; the server is in fact there,
so its first reconnect attempt (a real login) brings the connection back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QAbstractButton, QWidget
from pytestqt.qtbot import QtBot

from phms_client.ui.admin.preferences_dialog import PreferencesDialog
from phms_client.ui.admin.staff_window import StaffWindow
from phms_client.ui.chart.chart_window import ChartWindow
from phms_client.ui.clinic_day.appointment_dialog import AppointmentDialog
from phms_client.ui.reports.error_check_window import ErrorCheckWindow
from phms_client.ui.reports.report_actions import RegistryExportDialog
from phms_client.ui.reports.report_preview import ReportPreview
from phms_client.ui.shared.notices import ConnectionNotice
from phms_client.ui.shell.problem_dialog import ProblemDialog
from tests.harness import PgDatabase
from tests.ui.clinic_support import Workstation, clinic_context
from tests.ui.patient_env import create_patients, person, staff_database, unique_family

WINDOWS: dict[str, Callable[[Workstation], QWidget]] = {
    "staff accounts": lambda s: StaffWindow(s.ctx, s.windows),
    "preferences": lambda s: PreferencesDialog(s.ctx, s.windows),
    "error check": lambda s: ErrorCheckWindow(s.ctx, s.windows),
    "report preview": lambda s: ReportPreview(s.ctx, "statistical", None, s.windows),
    "report a problem": lambda s: ProblemDialog(s.ctx, s.windows),
    "registry export": lambda s: RegistryExportDialog(s.ctx, s.windows),
    "appointment": lambda s: AppointmentDialog(s.ctx, parent=s.windows),
}


def button_places(window: QWidget) -> dict[str, QPoint]:
    return {
        f"{i}:{b.text()}": b.mapTo(window, QPoint(0, 0))
        for i, b in enumerate(window.findChildren(QAbstractButton))
        if b.isVisible()
    }


def settled(qtbot: QtBot, windows: dict[str, QWidget]) -> dict[str, tuple[int, dict[str, QPoint]]]:
    """Heights and button places once the windows have loaded what they show."""

    def snapshot() -> dict[str, tuple[int, dict[str, QPoint]]]:
        return {name: (w.height(), button_places(w)) for name, w in windows.items()}

    last: dict[str, tuple[int, dict[str, QPoint]]] = {}
    same = 0
    for _ in range(30):
        qtbot.wait(300)
        now = snapshot()
        same = same + 1 if now == last else 0
        if same == 3:
            return now
        last = now
    raise AssertionError("the windows keep changing")


@pytest.mark.parametrize("user", ["t_admin", "t_clinician"])
def test_each_window_says_connection_lost_without_moving_anything(
    qtbot: QtBot, db: PgDatabase, user: str
) -> None:
    with clinic_context(qtbot, db, user) as station:
        windows = {name: make(station) for name, make in WINDOWS.items()}
        with staff_database(db, "t_clinician") as database:
            (patient,) = create_patients(database, person(unique_family("Notice")))
        windows["chart"] = ChartWindow(station.ctx, patient.id, station.windows)
        for window in windows.values():
            window.show()
            qtbot.waitExposed(window)
        preview = windows["report preview"]
        assert isinstance(preview, ReportPreview)
        qtbot.waitUntil(lambda: preview.current_template() is not None, timeout=10_000)
        editor = preview.edit_template()
        assert editor is not None
        qtbot.waitExposed(editor)
        windows["template editor"] = editor
        before = settled(qtbot, windows)
        notices = {name: w.findChild(ConnectionNotice) for name, w in windows.items()}
        for name, notice in notices.items():
            assert notice is not None and notice.isHidden(), name

        station.ctx.connection.connection_lost()  # what a failed task reports
        for name, window in windows.items():
            notice = notices[name]
            assert notice is not None and notice.isVisible(), name
            assert "connection to the server is lost" in notice.text()
            height, places = before[name]
            qtbot.waitUntil(lambda w=window, h=height: w.height() > h, timeout=2_000)
            assert button_places(window) == places, name
            bottom = notice.mapTo(window, QPoint(0, 0)).y()
            assert all(p.y() < bottom for p in places.values()), name

        qtbot.waitUntil(lambda: station.ctx.connection.online, timeout=10_000)
        for name, window in windows.items():
            notice = notices[name]
            assert notice is not None and notice.isHidden(), name
            height, places = before[name]
            qtbot.waitUntil(lambda w=window, h=height: w.height() == h, timeout=2_000)
            assert button_places(window) == places, name
