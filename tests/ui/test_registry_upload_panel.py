"""Preferences > Registry upload: admins see the last upload and the last error, read-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from phms_client.ui.admin.preferences_dialog import PreferencesDialog
from phms_client.ui.admin.registry_upload_panel import RegistryUploadPanel
from tests.harness import PgDatabase
from tests.ui.clinic_support import clinic_context
from tests.ui.screens import capture


@pytest.fixture
def runs(admin_engine: sa.Engine) -> Iterator[None]:
    now = dt.datetime.now(dt.UTC)
    with admin_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM phms.registry_upload_run"))
        conn.execute(
            sa.text(
                "INSERT INTO phms.registry_upload_run (started_at, finished_at, run_by, ok,"
                " message, batches, patients) VALUES"
                " (:a, :a, 'postgres', true, 'Sent 1 batch(es): 12 patient(s), 0 removed;"
                " the registry holds 212 patient(s).', 1, 12),"
                " (:b, :b, 'postgres', false, 'The certificate /etc/phms/registry/rbh.crt"
                " expired on 2026-12-02; ask the registry for a new one.', 0, 0)"
            ),
            {"a": now - dt.timedelta(days=2), "b": now - dt.timedelta(hours=3)},
        )
    yield
    with admin_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM phms.registry_upload_run"))


def panel_of(dialog: PreferencesDialog) -> RegistryUploadPanel | None:
    for i in range(dialog.tabs.count()):
        widget = dialog.tabs.widget(i)
        if isinstance(widget, RegistryUploadPanel):
            assert dialog.tabs.tabText(i) == "Registry upload"
            return widget
    return None


@pytest.mark.usefixtures("runs")
def test_admin_sees_the_last_upload_and_the_error(qtbot: QtBot, db: PgDatabase) -> None:
    with clinic_context(qtbot, db, "t_admin") as station:
        dialog = PreferencesDialog(station.ctx, station.windows)
        dialog.show()
        qtbot.waitUntil(dialog.tabs.isEnabled, timeout=10_000)
        panel = panel_of(dialog)
        assert panel is not None
        qtbot.waitUntil(lambda: "holds 212" in panel.success_label.text(), timeout=10_000)
        assert panel.success_label.text().startswith("Last successful upload: ")
        assert "expired on 2026-12-02" in panel.error_label.text()
        assert "#b71c1c" in panel.error_label.text()  # newer than the success: in red
        # Nothing to edit: only labels and a Refresh button.
        assert not dialog.save_button.isEnabled()
        dialog.tabs.setCurrentWidget(panel)
        capture(qtbot, dialog, "preferences-registry-upload")
        dialog.reject()


def test_the_tab_is_for_admins_only(qtbot: QtBot, db: PgDatabase) -> None:
    with clinic_context(qtbot, db, "t_clinician") as station:
        dialog = PreferencesDialog(station.ctx, station.windows)
        dialog.show()
        qtbot.waitUntil(dialog.tabs.isEnabled, timeout=10_000)
        assert panel_of(dialog) is None
        dialog.reject()
