"""On a staging copy every window says STAGING; on the live database none does.

The staging copy here is a real database marked as ``phms-admin staging create``
marks it; the client is the real shell with the real main window, logged in
through the login dialog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QMargins
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from phms_admin import deidentify, demo, migrate, staging_mark
from phms_admin.pgtools import Target
from phms_client.ui.reports.report_actions import RegistryExportDialog
from phms_client.ui.shell.main_window import MainWindow
from phms_client.ui.shell.staging_band import (
    StagingBand,
    StagingMarker,
    band_of,
    mark_application,
)
from phms_schema.environment import BAND_TEXT, TITLE_PREFIX
from tests.harness import STAFF, PgDatabase
from tests.ui import screens
from tests.ui.shell_support import logged_in_shell, server_settings, write_location

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def staging_copy(db: PgDatabase, fresh_database: PgDatabase) -> Iterator[PgDatabase]:
    """A migrated database with a few patients, marked as a staging copy.

    ``db`` first: it creates the staff logins (server-wide roles) used here too.
    """
    migrate.upgrade(fresh_database.admin_url)
    engine = sa.create_engine(fresh_database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        demo.load(conn, 12, seed=3)
        conn.execute(
            sa.text(
                "INSERT INTO phms.staff_account (name, must_change_password) "
                "SELECT unnest(CAST(:n AS text[])), false "
                "ON CONFLICT (name) DO UPDATE SET must_change_password = false"
            ),
            {"n": list(STAFF)},
        )
    engine.dispose()
    # As `staging create --de-identify` leaves it: made-up names and IDs, marked.
    with Target.from_url(fresh_database.admin_url).connect(autocommit=True) as conn:
        deidentify.deidentify(
            conn, database=fresh_database.name, source="test", salt="screens", log=lambda _: None
        )
    server = Target.from_url(fresh_database.server.url("postgres"))
    with server.connect(autocommit=True) as conn:
        staging_mark.mark(conn, fresh_database.name, "test staging copy")
    yield fresh_database
    mark_application(False)


def _assert_marked(window: QWidget) -> None:
    band = band_of(window)
    assert band is not None and band.isVisible(), f"no band on {window!r}"
    assert band.text() == BAND_TEXT
    assert band.geometry().top() == 0 and band.width() == window.width()
    # The window's own content starts below the band.
    assert window.contentsMargins().top() >= band.height() > 10
    assert window.windowTitle().startswith(TITLE_PREFIX)
    # Only windows have one: never a page polished on its own before joining a window.
    assert all(b.parentWidget().isWindow() for b in window.findChildren(StagingBand))


def test_every_window_of_a_staging_copy_says_so(
    qtbot: QtBot, staging_copy: PgDatabase, tmp_path: Path
) -> None:
    location = write_location(tmp_path, user=server_settings(staging_copy))
    with logged_in_shell(qtbot, location, "t_admin", window_factory=MainWindow) as running:
        shell, window = running.shell, running.window
        assert shell.context is not None and shell.context.login.staging
        window.resize(1000, 640)
        qtbot.waitUntil(lambda: band_of(window) is not None)
        _assert_marked(window)
        assert window.windowTitle() == TITLE_PREFIX + "PHMS"
        # The menu bar and the banner strip sit below the band.
        band = band_of(window)
        assert band is not None
        assert window.menuBar().geometry().top() >= band.geometry().bottom()
        main = window
        assert isinstance(main, MainWindow)
        engine = sa.create_engine(staging_copy.admin_url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            first, family = conn.execute(
                sa.text("SELECT id, family_name FROM phms.patient ORDER BY id LIMIT 1")
            ).one()
        engine.dispose()
        chart = main.open_chart(first)
        qtbot.waitExposed(chart)
        qtbot.waitUntil(lambda: chart.details is not None, timeout=5_000)
        qtbot.waitUntil(lambda: band_of(chart) is not None)
        _assert_marked(chart)
        # A title set later (the chart's, once the patient is loaded) keeps the prefix.
        chart.setWindowTitle("PHMS — Chart of somebody")
        assert chart.windowTitle() == TITLE_PREFIX + "PHMS — Chart of somebody"
        form = main.open_edit(first)
        assert form is not None
        qtbot.waitExposed(form)
        _assert_marked(form)
        about = shell.open_about()
        qtbot.waitExposed(about)
        _assert_marked(about)
        box = QMessageBox(QMessageBox.Icon.Warning, "PHMS — Question", "Really?", parent=window)
        box.show()
        qtbot.waitExposed(box)
        _assert_marked(box)
        box.close()
        # The registry export refuses, in the dialog, and writes nothing.
        export = RegistryExportDialog(shell.context, window)
        export.show()
        _assert_marked(export)
        export.path.setText(str(tmp_path / "registry.json"))
        export.hospital_id.setText("RBH")
        export.export_button.click()
        qtbot.waitUntil(lambda: "refused" in export.status.text(), timeout=10_000)
        assert "STAGING copy" in export.status.text()
        assert not (tmp_path / "registry.json").exists()
        for w in (chart, form, about, export):
            w.close()
        qtbot.keyClicks(main.search_box, str(family)[:2])
        qtbot.waitUntil(lambda: main.model.rowCount() >= 1, timeout=5_000)
        main.table.selectRow(0)
        screens.capture(qtbot, window, "staging-main-window")


def test_the_live_database_shows_no_band(qtbot: QtBot, db: PgDatabase, tmp_path: Path) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location, "t_clinician", window_factory=MainWindow) as running:
        shell, window = running.shell, running.window
        assert shell.context is not None and not shell.context.login.staging
        about = shell.open_about()
        qtbot.waitExposed(about)
        for w in (window, about):
            assert band_of(w) is None
            assert not w.windowTitle().startswith(TITLE_PREFIX)
            assert w.contentsMargins().top() == 0


def test_marker_fits_any_layout_and_comes_off_cleanly(qtbot: QtBot) -> None:
    dialog = QDialog()
    dialog.setWindowTitle("Form")
    QFormLayout(dialog).addRow("Name", QLineEdit())
    dialog.setContentsMargins(2, 3, 4, 5)
    qtbot.addWidget(dialog)
    plain = QMainWindow()
    qtbot.addWidget(plain)
    marker = StagingMarker()
    try:
        marker.set_active(True)
        dialog.show()
        plain.show()
        qtbot.waitExposed(dialog)
        _assert_marked(dialog)
        _assert_marked(plain)
        assert plain.windowTitle() == TITLE_PREFIX + "PHMS"  # an empty title gets a name
        # The band's height was added to the window's own margins.
        band = band_of(dialog)
        assert band is not None
        assert dialog.contentsMargins() == QMargins(2, 3 + band.height(), 4, 5)
        # A narrow window: the text wraps, the band grows, nothing is cut off.
        dialog.resize(160, dialog.height())
        qtbot.waitUntil(lambda: band.width() == 160)
        assert band.height() >= band.heightForWidth(160)
        assert dialog.contentsMargins().top() == 3 + band.height()
    finally:
        marker.set_active(False)
    qtbot.waitUntil(lambda: band_of(dialog) is None)
    assert dialog.windowTitle() == "Form"
    assert dialog.contentsMargins() == QMargins(2, 3, 4, 5)
