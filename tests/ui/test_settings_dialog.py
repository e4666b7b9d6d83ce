"""Options > Settings…: layered sources, saving only what changed, real connection tests."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from phms_admin.embedded import free_port
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.settings_dialog import CHANGED, SettingsDialog
from phms_client.ui.shell.settings_values import ConfigLocation
from tests.harness import PgDatabase
from tests.ui.shell_support import server_settings, write_location


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner(presenter=lambda error: pytest.fail(f"unexpected {error}"))
    yield runner
    assert runner.shutdown(10_000)


def open_dialog(qtbot: QtBot, location: ConfigLocation, tasks: TaskRunner) -> SettingsDialog:
    dialog = SettingsDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def user_file(location: ConfigLocation) -> dict[str, object]:
    return tomllib.loads(location.user_file.read_text()) if location.user_file.exists() else {}


def save(dialog: SettingsDialog) -> None:
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()


def test_each_value_says_where_it_comes_from(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    location = write_location(
        tmp_path,
        site={"server": "db.clinic.local", "sslmode": "verify-full"},
        user={"port": 5433, "hospital_id": "RBH"},
        environ={"PHMS_DATABASE": "phms_training"},
    )
    dialog = open_dialog(qtbot, location, tasks)
    sources = {name: label.text() for name, label in dialog.source_labels.items()}
    assert sources["hosts"] == "site file (managed by IT)"
    assert sources["sslmode"] == "site file (managed by IT)"
    assert sources["port"] == "your settings"
    assert sources["hospital_id"] == "your settings"
    assert sources["database"] == "environment variable PHMS_DATABASE — overrides this form"
    assert sources["connect_timeout"] == "built-in default"
    assert dialog.value("hosts") == "db.clinic.local"
    assert dialog.value("port") == "5433"
    assert dialog.value("database") == "phms_training"
    # Both files are named, and who manages the site file.
    files = dialog.files_label.text()
    assert str(location.site_file) in files and "IT manages" in files
    assert str(location.user_file) in files
    # Editing a value says it will be saved in the user's own file.
    dialog.set_value("hosts", "other.clinic.local")
    assert dialog.source_labels["hosts"].text() == CHANGED
    dialog.set_value("hosts", "db.clinic.local")
    assert dialog.source_labels["hosts"].text() == "site file (managed by IT)"


def test_only_changed_values_are_written(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    location = write_location(tmp_path, site={"server": "db.clinic.local", "port": 5432})
    dialog = open_dialog(qtbot, location, tasks)
    saved: list[object] = []
    dialog.saved.connect(saved.append)
    dialog.set_value("hospital_id", "RBH")
    dialog.set_value("connect_timeout", "10")
    save(dialog)
    # The server still follows the site file: it was not copied into the user file.
    assert user_file(location) == {"hospital_id": "RBH", "connect_timeout": 10}
    config = saved[0]
    assert config.hosts == ("db.clinic.local",) and config.hospital_id == "RBH"  # type: ignore[attr-defined]
    assert not dialog.isVisible()


def test_server_list_with_port_and_clearing_a_value(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    location = write_location(tmp_path, user={"hospital_id": "OLD", "database": "phms"})
    dialog = open_dialog(qtbot, location, tasks)
    dialog.set_value("hosts", "primary.clinic, standby.clinic:5444")
    dialog.set_value("hospital_id", "")  # back to the site / built-in value
    dialog.set_value("sslmode", "verify-full")
    save(dialog)
    assert user_file(location) == {
        "hosts": ["primary.clinic", "standby.clinic"],
        "port": 5444,
        "database": "phms",
        "sslmode": "verify-full",
    }


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("port", "abc", "Port: “abc” is not a whole number."),
        ("port", "70000", "not a port number"),
        ("connect_timeout", "0", "above 0"),
        ("hosts", "a,,b", "empty host name"),
    ],
)
def test_invalid_values_are_refused_with_a_clear_message(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, name: str, text: str, message: str
) -> None:
    location = write_location(tmp_path, user={"hospital_id": "RBH"})
    dialog = open_dialog(qtbot, location, tasks)
    dialog.set_value(name, text)
    save(dialog)
    assert message in dialog.error_label.text()
    assert dialog.isVisible()
    assert user_file(location) == {"hospital_id": "RBH"}  # untouched


def test_two_ports_are_refused(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, write_location(tmp_path), tasks)
    dialog.set_value("hosts", "db.clinic:5433")
    dialog.set_value("port", "5434")
    save(dialog)
    assert "says port 5433 but the Port field says 5434" in dialog.error_label.text()


def test_test_connection_reaches_the_real_server(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, db: PgDatabase
) -> None:
    location = write_location(tmp_path, user={"hospital_id": "RBH"})
    dialog = open_dialog(qtbot, location, tasks)
    for name, value in server_settings(db).items():
        dialog.set_value("hosts" if name == "server" else name, str(value))
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Testing" not in dialog.result_label.text(), timeout=10_000)
    assert "Server reachable" in dialog.result_label.text()
    assert "asked for a password" in dialog.result_label.text()
    assert user_file(location) == {"hospital_id": "RBH"}  # testing does not save


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"server": "127.0.0.1:{free}"}, "Cannot reach the server"),
        ({"sslmode": "require"}, "Secure connection failed"),
    ],
)
def test_test_connection_failures(
    qtbot: QtBot,
    tasks: TaskRunner,
    tmp_path: Path,
    db: PgDatabase,
    overrides: dict[str, str],
    expected: str,
) -> None:
    port = free_port()
    values = server_settings(db, **{k: v.format(free=port) for k, v in overrides.items()})
    dialog = open_dialog(qtbot, write_location(tmp_path, user=values), tasks)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Testing" not in dialog.result_label.text(), timeout=10_000)
    assert expected in dialog.result_label.text()
    assert "✘" in dialog.result_label.text()
    if "server" in overrides:
        assert f"127.0.0.1:{port}" in dialog.result_label.text()


def test_certificate_file_picker(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    cert = tmp_path / "clinic-root.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    location = write_location(tmp_path)
    dialog = open_dialog(qtbot, location, tasks)
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    picker = dialog.file_dialog
    assert picker is not None and picker.isVisible()
    picker.selectFile(str(cert))
    picker.accept()
    assert dialog.value("sslrootcert") == str(cert)
    save(dialog)
    assert user_file(location) == {"sslrootcert": str(cert)}
    dialog.deleteLater()  # as the login dialog and the shell do (WA_DeleteOnClose)
    qtbot.wait(50)


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_reset_to_site_settings(qtbot: QtBot, tasks: TaskRunner, tmp_path: Path) -> None:
    location = write_location(tmp_path, site={"server": "db.clinic.local"}, user={"port": 1})
    dialog = open_dialog(qtbot, location, tasks)
    saved: list[object] = []
    dialog.saved.connect(saved.append)
    qtbot.mouseClick(dialog.reset_button, Qt.MouseButton.LeftButton)
    dialog.reset_box.button(QMessageBox.StandardButton.Reset).click()
    assert not location.user_file.exists()
    assert saved and saved[0].port == 5432  # type: ignore[attr-defined]
