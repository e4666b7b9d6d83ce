"""Report preview, PDF, CSV/XLSX, the template editor and the menu entries, on a real server."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader
from PySide6.QtWidgets import QMainWindow, QMenu
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.services import reports
from phms_client.services.reports import TemplateInput
from phms_client.ui.reports.report_actions import RegistryExportDialog, install_report_actions
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


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages)


def open_preview(qtbot: QtBot, preview: ReportPreview) -> reports.RenderedReport:
    qtbot.addWidget(preview)
    with qtbot.waitSignal(preview.rendered, timeout=20_000) as done:
        preview.show()
    report = done.args[0]
    assert isinstance(report, reports.RenderedReport)
    return report


def test_clinic_letter_preview_and_pdf(
    qtbot: QtBot, own_db: tuple[PgDatabase, int], tmp_path: Path
) -> None:
    database, pid = own_db
    with report_context(database, "t_clinician") as env:
        preview = ReportPreview(env.ctx, "individual", pid)
        report = open_preview(qtbot, preview)
        text = preview.browser.toPlainText()
        assert "RBH — Clinic letter" in text
        assert "Zoë Ångström" in text
        assert "(Obese)" in text  # 87 kg at 162 cm: 1.6 × the Devine ideal weight
        assert "macitentan — 10 mg once daily (since " in text and "tadalafil" in text
        assert "Latest: low" in text
        assert not preview.edit_button.isVisible()
        assert not preview.csv_button.isVisible()
        preview.resize(820, 1000)
        capture(qtbot, preview, "report-preview")

        target = tmp_path / "letter.pdf"
        preview.save_pdf(target)
        data = target.read_bytes()
        assert data.startswith(b"%PDF-") and len(data) > 2000
        extracted = pdf_text(data)
        for expected in ("Zoë Ångström", "(Obese)", "macitentan", "Printed", "by t_clinician"):
            assert expected in extracted, expected
        assert report.title in PdfReader(io.BytesIO(data)).metadata.title
        assert env.presented == []


def test_statistical_report_for_an_auditor_exports_csv_and_xlsx(
    qtbot: QtBot, own_db: tuple[PgDatabase, int], tmp_path: Path
) -> None:
    database, _ = own_db
    with report_context(database, "t_auditor") as env:
        preview = ReportPreview(env.ctx, "statistical")
        report = open_preview(qtbot, preview)
        assert [t.name for t in preview.templates] == ["Cohort report"]
        assert report.statistics is not None and report.statistics.seen == 1
        assert "Ångström" not in preview.browser.toPlainText()
        preview.resize(820, 900)
        capture(qtbot, preview, "report-statistical")
        assert preview.csv_button.isEnabled() and preview.xlsx_button.isEnabled()
        preview.export_table(tmp_path / "cohort.csv", "csv")
        rows = list(csv.reader(io.StringIO((tmp_path / "cohort.csv").read_text("utf-8-sig"))))
        assert ["By PH group"] in rows and ["6MWD by year"] in rows
        preview.export_table(tmp_path / "cohort.xlsx", "xlsx")
        book = load_workbook(tmp_path / "cohort.xlsx")
        assert "By PH group" in book.sheetnames
        assert book["Cohort"]["C3"].value == 1  # patients seen
        preview.save_pdf(tmp_path / "cohort.pdf")
        assert "cohort report" in pdf_text((tmp_path / "cohort.pdf").read_bytes())

        # A period with nobody in it.
        preview.from_check.setChecked(True)
        preview.from_date.setDate(preview.to_date.date().addDays(-1))
        with qtbot.waitSignal(preview.rendered, timeout=20_000) as done:
            preview.refresh()
        assert done.args[0].statistics.seen == 0
        assert "No walks in the period" in preview.browser.toPlainText()


def test_admin_edits_a_template_from_the_preview(
    qtbot: QtBot, own_db: tuple[PgDatabase, int]
) -> None:
    database, pid = own_db
    engine = database.engine_for("t_admin")
    with Session(engine) as s, s.begin():
        reports.create_template(
            s, TemplateInput("Weight note", "individual", "<p>{{ patient.name }}</p>")
        )
    engine.dispose()
    with report_context(database, "t_admin") as env:
        preview = ReportPreview(env.ctx, "individual", pid)
        open_preview(qtbot, preview)
        names = [t.name for t in preview.templates]
        with qtbot.waitSignal(preview.rendered, timeout=20_000):
            preview.template_box.setCurrentIndex(names.index("Weight note"))
        assert preview.edit_button.isVisible()
        editor = preview.edit_template()
        assert editor is not None
        editor.body.setPlainText(
            "{% if body %}<p>{{ body.weight_kg|num }} kg"
            "{% if body.weight_to_ideal > 1.5 %} (Obese){% endif %}</p>{% endif %}"
        )
        with qtbot.waitSignal(preview.rendered, timeout=20_000) as tried:
            editor.try_it()
        assert tried.args[0].html.strip() == "<p>87 kg (Obese)</p>"
        with qtbot.waitSignal(editor.saved, timeout=20_000) as saved:
            editor.save()
        assert saved.args[0].version == 2
        qtbot.waitUntil(lambda: "(Obese)" in preview.browser.toPlainText(), timeout=20_000)
        assert preview.current_template().name == "Weight note"

        # Someone else's change meanwhile is not overwritten.
        stale = preview.edit_template()
        assert stale is not None
        engine = database.engine_for("t_admin")
        with Session(engine) as s, s.begin():
            current = saved.args[0]
            reports.update_template(
                s, current.id, current.version, TemplateInput(current.name, "individual", "x")
            )
        engine.dispose()
        stale.body.setPlainText("<p>mine</p>")
        stale.save()
        qtbot.waitUntil(lambda: "changed this template meanwhile" in stale.message.text())
        assert env.presented == []


def show_template(qtbot: QtBot, preview: ReportPreview, name: str) -> ReportPreview:
    """Open ``preview`` and show template ``name`` (whatever the first one does)."""
    qtbot.addWidget(preview)
    with qtbot.waitSignal(preview.templates_loaded, timeout=20_000):
        preview.show()
    names = [t.name for t in preview.templates]
    if preview.current_template().name != name:
        with qtbot.waitSignal(preview.rendered, timeout=20_000):
            preview.template_box.setCurrentIndex(names.index(name))
    qtbot.waitUntil(lambda: preview.report is not None, timeout=20_000)
    return preview


def store_directly(database: PgDatabase, name: str, body: str) -> None:
    """A template written past the client's check (as an older client, or psql, could)."""
    engine = database.engine_for("t_admin")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO phms.report_template (name, kind, body) VALUES (:n, 'individual', :b)"
            ),
            {"n": name, "b": body},
        )
    engine.dispose()


def test_a_template_that_escapes_the_sandbox_is_reported(
    qtbot: QtBot, own_db: tuple[PgDatabase, int]
) -> None:
    database, pid = own_db
    store_directly(database, "Bad", "{{ patient.__class__.__mro__ }}")
    with report_context(database, "t_clinician") as env:
        preview = ReportPreview(env.ctx, "individual", pid)
        qtbot.addWidget(preview)
        with qtbot.waitSignal(preview.rendered, timeout=20_000):
            preview.show()  # the site's default letter first, although "Bad" sorts first
        assert preview.current_template().name == "Clinic letter"
        names = [t.name for t in preview.templates]
        with qtbot.waitSignal(preview.failed, timeout=20_000) as failed:
            preview.template_box.setCurrentIndex(names.index("Bad"))
        assert preview.current_template().name == "Bad"
        assert "The report cannot be made. Template “Bad”, line 1" in failed.args[0]
        assert "__class__" in failed.args[0]
        assert not preview.pdf_button.isEnabled()
        assert preview.status.text() == failed.args[0]
        with qtbot.waitSignal(preview.rendered, timeout=20_000):
            preview.template_box.setCurrentIndex(names.index("Clinic letter"))
        assert preview.pdf_button.isEnabled()
        assert env.presented == []


RUNAWAY = (
    "<p>{{ patient.name }}</p>{% for i in range(10000) %}{% for j in range(10000) %}"
    "{% for k in range(10000) %}{% endfor %}{% endfor %}{% endfor %}"
)


def test_a_runaway_template_is_stopped_and_the_window_stays_responsive(
    qtbot: QtBot, own_db: tuple[PgDatabase, int]
) -> None:
    database, pid = own_db
    store_directly(database, "Runaway letter", RUNAWAY)
    with report_context(database, "t_clinician") as env:
        preview = show_template(qtbot, ReportPreview(env.ctx, "individual", pid), "Clinic letter")
        names = [t.name for t in preview.templates]
        with qtbot.waitSignal(preview.failed, timeout=20_000) as failed:
            preview.template_box.setCurrentIndex(names.index("Runaway letter"))
            # The render runs off the GUI thread: the window keeps answering meanwhile.
            assert preview.status.text() == "Preparing the report…"
            preview.resize(840, 640)
            qtbot.wait(100)
        assert failed.args[0] == (
            "The report cannot be made. "
            "Template “Runaway letter”: it took longer than 2 s and was stopped"
        )
        capture(qtbot, preview, "report-template-stopped")
        names = [t.name for t in preview.templates]
        with qtbot.waitSignal(preview.rendered, timeout=20_000):
            preview.template_box.setCurrentIndex(names.index("Clinic letter"))
        assert env.presented == []


def test_the_editor_refuses_to_save_a_hostile_template(
    qtbot: QtBot, own_db: tuple[PgDatabase, int]
) -> None:
    database, pid = own_db
    with report_context(database, "t_admin") as env:
        preview = show_template(qtbot, ReportPreview(env.ctx, "individual", pid), "Clinic letter")
        editor = preview.edit_template()
        assert editor is not None
        qtbot.addWidget(editor)
        assert editor.name.maxLength() == reports.MAX_NAME
        assert editor.description.maxLength() == reports.MAX_DESCRIPTION
        before = editor.template
        editor.body.setPlainText("<p>{{ patient.name }}</p>\n{{ 'a' * 10**9 }}")
        editor.save()
        qtbot.waitUntil(lambda: editor.save_button.isEnabled(), timeout=20_000)
        assert editor.message.text() == (
            f"Not saved. Template “{before.name}”, line 2: it asks for a text of "
            "1,000,000,000 characters (the limit is 2,000,000)"
        )
        capture(qtbot, editor, "report-template-not-saved")
        # The editor holds no more than the database takes (the service refuses more:
        # tests/db/test_report_limits.py).
        editor.body.setPlainText("x" * (reports.MAX_BODY + 1))
        assert len(editor.body.toPlainText()) == reports.MAX_BODY
        engine = database.engine_for("t_admin")
        with Session(engine) as s:
            assert reports.get_template(s, before.id).body == before.body
        engine.dispose()
        assert env.presented == []


class StandInMain(QMainWindow):
    """What install_report_actions needs of the main window, and nothing else."""

    def __init__(self, selected: int | None) -> None:
        super().__init__()
        self.patients_menu = self.menuBar().addMenu("&Patients")
        self.tools_menu = self.menuBar().addMenu("&Tools")
        self.selected = selected
        self.opened: list[int] = []

    def current_patient_id(self) -> int | None:
        return self.selected

    def open_chart(self, patient_id: int) -> None:
        self.opened.append(patient_id)


def visible(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if a.isVisible() and not a.isSeparator()]


@pytest.mark.parametrize(
    ("user", "patients", "tools"),
    [
        ("t_clerk", [], []),
        ("t_auditor", [], ["&Statistical report…"]),
        ("t_clinician", ["Patient &report…"], ["&Statistical report…", "&Error Check…"]),
        (
            "t_admin",
            ["Patient &report…"],
            ["&Statistical report…", "&Error Check…", "Registry e&xport…", "Report &templates…"],
        ),
    ],
)
def test_menu_entries_by_group(
    qtbot: QtBot, own_db: tuple[PgDatabase, int], user: str, patients: list[str], tools: list[str]
) -> None:
    database, _ = own_db
    with report_context(database, user) as env:
        window = StandInMain(None)
        qtbot.addWidget(window)
        install_report_actions(window, env.ctx)
        assert visible(window.patients_menu) == patients
        assert visible(window.tools_menu) == tools


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_menu_actions_open_their_windows(qtbot: QtBot, own_db: tuple[PgDatabase, int]) -> None:
    database, pid = own_db
    with report_context(database, "t_admin") as env:
        window = StandInMain(pid)
        qtbot.addWidget(window)
        actions = install_report_actions(window, env.ctx)
        preview = actions.open_patient_report()
        assert preview is not None and preview.patient_id == pid
        qtbot.waitSignal(preview.templates_loaded, timeout=20_000).wait()
        assert preview.templates
        check = actions.open_error_check()
        assert actions.open_error_check() is check  # one per main window
        check.open_record.emit(pid, "assessment", 1)
        assert window.opened == [pid]
        dialog = actions.open_registry_export()
        assert isinstance(dialog, RegistryExportDialog)
        assert dialog.hospital_id.text() == "RBH"
        window.selected = None
        assert actions.open_patient_report() is None
        for w in (preview, check, dialog):
            w.close()


def test_registry_export_dialog_writes_the_file(
    qtbot: QtBot, own_db: tuple[PgDatabase, int], tmp_path: Path
) -> None:
    database, _ = own_db
    with report_context(database, "t_admin") as env:
        dialog = RegistryExportDialog(env.ctx)
        qtbot.addWidget(dialog)
        dialog.path.setText(str(tmp_path / "registry.csv"))
        assert dialog.shift_dates.isChecked() and dialog.min_k.value() == 5  # the defaults
        with qtbot.waitSignal(dialog.failed, timeout=20_000) as refused:
            dialog.export_button.click()  # one patient cannot be among five
        assert refused.args[0].startswith(
            "Not anonymous enough, nothing written. Only 1 patient to export"
        )
        assert dialog.status.text() == refused.args[0]
        assert not (tmp_path / "registry.csv").exists()
        dialog.resize(560, 360)
        capture(qtbot, dialog, "registry-export-refused")
        dialog.shift_dates.setChecked(False)
        assert dialog.exact_warning.isVisibleTo(dialog)
        dialog.shift_dates.setChecked(True)
        dialog.min_k.setValue(1)
        with qtbot.waitSignal(dialog.exported, timeout=20_000) as done:
            dialog.export_button.click()
        path, patients, records, privacy = done.args
        assert privacy.startswith("k-anonymity 1")
        assert patients == 1 and records > 10
        data = Path(path).read_text("utf-8")
        assert data.startswith("hospital_id,patient_key,") and "Ångström" not in data
        assert "Saved 1 patients" in dialog.status.text()


def test_registry_export_is_refused_to_clinicians(
    qtbot: QtBot, own_db: tuple[PgDatabase, int], tmp_path: Path
) -> None:
    database, _ = own_db
    with report_context(database, "t_clinician") as env:
        dialog = RegistryExportDialog(env.ctx)
        qtbot.addWidget(dialog)
        dialog.path.setText(str(tmp_path / "registry.json"))
        with qtbot.waitSignal(dialog.failed, timeout=20_000) as failed:
            dialog.export_button.click()
        assert failed.args[0].startswith("Not allowed")
        assert not (tmp_path / "registry.json").exists()


def test_connection_is_not_left_in_a_transaction(own_db: tuple[PgDatabase, int]) -> None:
    database, _ = own_db
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        idle = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'idle in transaction'"
            )
        ).scalar()
    engine.dispose()
    assert idle == 0
