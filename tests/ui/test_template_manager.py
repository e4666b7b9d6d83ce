"""Tools > Report templates…: create, duplicate, rename, default, delete, with preview and
the template check, as real logins on a freshly migrated database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from phms_admin import embedded
from phms_client.ui.admin.template_manager import TemplateManager
from phms_client.ui.reports.report_preview import ReportPreview
from tests.db.reports_data import migrated_database
from tests.harness import PgDatabase
from tests.ui.reports_env import capture, report_context, story_patient


@pytest.fixture(scope="module")
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[tuple[PgDatabase, int]]:
    with migrated_database(pg_server) as database:
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            pid = story_patient(conn)
        engine.dispose()
        yield database, pid


def names(manager: TemplateManager) -> list[tuple[str, str, bool]]:
    return [(t.name, t.kind, t.is_default) for t in manager.templates]


def select(manager: TemplateManager, name: str) -> None:
    row = next(i for i, t in enumerate(manager.templates) if t.name == name)
    manager.table.selectRow(row)


def change(qtbot: QtBot, manager: TemplateManager, action) -> str:  # type: ignore[no-untyped-def]
    with (
        qtbot.waitSignal(manager.changed, timeout=20_000) as done,
        qtbot.waitSignal(manager.loaded, timeout=20_000),
    ):
        action()
    return str(done.args[0])


def refusal(qtbot: QtBot, manager: TemplateManager, action) -> str:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(manager.failed, timeout=20_000) as failed:
        action()
    return str(failed.args[0])


def test_admin_manages_templates(qtbot: QtBot, own_db: tuple[PgDatabase, int]) -> None:
    database, pid = own_db
    with report_context(database, "t_admin") as env:
        manager = TemplateManager(env.ctx)
        qtbot.addWidget(manager)
        with qtbot.waitSignal(manager.previewed, timeout=30_000):
            manager.show()
        assert names(manager) == [
            ("Clinic letter", "individual", True),
            ("Cohort report", "statistical", True),
        ]
        assert manager.table.item(0, 2).text() == "✓"
        # The preview is over sample data, and the template check has spoken.
        assert "Template check: it works" in manager.check_label.text()
        assert manager.preview.toPlainText().strip()
        assert not manager.default_button.isEnabled()  # already the default

        # The default letter cannot be deleted, and nothing is asked or sent.
        select(manager, "Clinic letter")
        text = refusal(qtbot, manager, lambda: manager.delete_selected(confirm=False))
        assert "cannot be deleted" in text and "Make another template the default" in text

        # New (starter text), duplicate, rename.
        change(qtbot, manager, lambda: manager.new_template("Short note", "individual"))
        assert ("Short note", "individual", False) in names(manager)
        assert manager.selected() is not None and manager.selected().name == "Short note"
        select(manager, "Clinic letter")
        change(qtbot, manager, lambda: manager.duplicate_selected("Letter for GPs"))
        copy = next(t for t in manager.templates if t.name == "Letter for GPs")
        letter = next(t for t in manager.templates if t.name == "Clinic letter")
        assert copy.body == letter.body and not copy.is_default
        select(manager, "Letter for GPs")
        change(qtbot, manager, lambda: manager.rename_selected("Letter to the GP"))
        assert "Letter to the GP" in [n for n, _, _ in names(manager)]
        # A taken name is refused in words.
        select(manager, "Short note")
        text = refusal(qtbot, manager, lambda: manager.rename_selected("Clinic letter"))
        assert "Another template already has this name" in text

        # Make the copy the default letter: a new report window opens with it.
        with qtbot.waitSignal(manager.previewed, timeout=30_000):
            select(manager, "Letter to the GP")
        assert "Template check: it works" in manager.check_label.text()
        manager.resize(760, 600)
        capture(qtbot, manager, "report-templates")
        change(qtbot, manager, manager.make_selected_default)
        defaults = [n for n, kind, d in names(manager) if d and kind == "individual"]
        assert defaults == ["Letter to the GP"]
        preview = ReportPreview(env.ctx, "individual", pid)
        qtbot.addWidget(preview)
        with qtbot.waitSignal(preview.rendered, timeout=20_000):
            preview.show()
        current = preview.current_template()
        assert current is not None and current.name == "Letter to the GP"

        # Now the old letter may go; the new default may not.
        select(manager, "Clinic letter")
        change(qtbot, manager, lambda: manager.delete_selected(confirm=False))
        assert "Clinic letter" not in [n for n, _, _ in names(manager)]
        select(manager, "Letter to the GP")
        assert "cannot be deleted" in manager.delete_button.toolTip()
        manager.close()


@pytest.mark.parametrize("user", ["t_clinician", "t_auditor"])
def test_others_cannot_change_templates(
    qtbot: QtBot, own_db: tuple[PgDatabase, int], user: str
) -> None:
    """The window is for admins; even opened by another login, the database says no."""
    database, _ = own_db
    with report_context(database, user) as env:
        manager = TemplateManager(env.ctx)
        qtbot.addWidget(manager)
        with qtbot.waitSignal(manager.loaded, timeout=20_000):
            manager.show()
        before = names(manager)
        text = refusal(qtbot, manager, lambda: manager.new_template(f"By {user}", "statistical"))
        assert text.startswith("Not saved. Not allowed"), text
        assert manager.templates
        text = refusal(qtbot, manager, lambda: manager.duplicate_selected(f"Copy by {user}"))
        assert "Not allowed" in text or "gone" in text
        manager.reload()
        qtbot.waitSignal(manager.loaded, timeout=20_000).wait()
        assert names(manager) == before
        manager.close()
