"""Settings and login windows hold the TLS floor: the form cannot talk encryption down."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from phms_client.config import ClientConfig
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.login_dialog import LoginDialog
from phms_client.ui.shell.settings_dialog import SettingsDialog
from phms_client.ui.shell.settings_values import ConfigLocation
from tests.ui.screens import capture
from tests.ui.shell_support import write_location

NETWORK_SITE = {"server": "db.clinic.local", "sslmode": "verify-full", "sslrootcert": "root.crt"}


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


def save(dialog: SettingsDialog) -> None:
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca"])
def test_choosing_weaker_encryption_than_the_site_is_refused_in_the_form(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path, mode: str
) -> None:
    location = write_location(tmp_path, site=NETWORK_SITE)
    dialog = open_dialog(qtbot, location, tasks)
    dialog.set_value("sslmode", mode)
    save(dialog)
    text = dialog.error_label.text()
    assert dialog.error_label.isVisible() and dialog.isVisible()
    # The setting, the file it would be saved in, and the site file that forbids it.
    assert f"Encryption (sslmode) {mode!r} from user file {location.user_file}" in text
    assert "below 'verify-full'" in text and str(location.site_file) in text
    assert "phms-settings-" not in text  # never the trial copy's name
    assert not location.user_file.exists()  # nothing saved
    # "Test connection" does not connect with it either.
    dialog.test_button.click()
    assert dialog.test_button.isEnabled() and not dialog.result_label.isVisible()
    if mode == "disable":
        capture(qtbot, dialog, "settings-tls-floor")


def test_a_new_network_server_does_not_inherit_no_encryption(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    # The single-PC site file: this computer, no TLS.
    location = write_location(tmp_path, site={"server": "localhost", "sslmode": "disable"})
    dialog = open_dialog(qtbot, location, tasks)
    saved: list[ClientConfig] = []
    dialog.saved.connect(saved.append)
    dialog.set_value("hosts", "10.0.0.5")  # the Encryption field is left alone
    # ...and shows what the new server gets, before anything is saved.
    assert dialog.value("sslmode") == "verify-full"
    dialog.set_value("hosts", "localhost")  # back as it was: back to the site's choice
    assert dialog.value("sslmode") == "disable"
    dialog.set_value("hosts", "10.0.0.5")
    save(dialog)
    assert saved and saved[0].hosts == ("10.0.0.5",) and saved[0].sslmode == "verify-full"

    dialog = open_dialog(qtbot, location, tasks)
    dialog.set_value("sslmode", "disable")  # ...and asking for it outright is refused
    save(dialog)
    assert "Encryption (sslmode) 'disable'" in dialog.error_label.text()
    assert "set by the built-in default" in dialog.error_label.text()


def test_this_computer_may_still_go_without_tls(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    location = write_location(tmp_path, site=NETWORK_SITE)
    dialog = open_dialog(qtbot, location, tasks)
    saved: list[ClientConfig] = []
    dialog.saved.connect(saved.append)
    dialog.set_value("hosts", "127.0.0.1")
    dialog.set_value("sslmode", "disable")
    save(dialog)
    assert saved and saved[0].sslmode == "disable" and not dialog.isVisible()


def test_login_window_refuses_an_environment_downgrade(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    location = write_location(tmp_path, site=NETWORK_SITE, environ={"PHMS_SSLMODE": "prefer"})
    dialog = LoginDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.config is None and not dialog.login_button.isEnabled()
    text = html.unescape(dialog.message_label.text())
    assert "Settings problem" in text and "environment PHMS_SSLMODE" in text
    assert "below 'verify-full'" in text and str(location.site_file) in text


def test_a_picked_encryption_stays_when_the_server_changes(
    qtbot: QtBot, tasks: TaskRunner, tmp_path: Path
) -> None:
    location = write_location(tmp_path, site=NETWORK_SITE)
    dialog = open_dialog(qtbot, location, tasks)
    box = dialog.editors["sslmode"]
    box.setCurrentIndex(box.findData("verify-ca"))
    box.activated.emit(box.currentIndex())  # as a click on an entry does
    dialog.set_value("hosts", "localhost")
    assert dialog.value("sslmode") == "verify-ca"
