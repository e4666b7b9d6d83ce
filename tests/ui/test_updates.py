"""Update now and What's new, through the real shell, database and files.

IT publishes with ``phms-admin release publish``; the workstation's site file holds
the public key and a versions folder of the test's own. After login the offer
appears (never over unsaved work); Update now downloads, checks, installs beside
the old version and starts the new program (the test bundle's program writes down
that it ran). What's new is shown once per person and again from the Help menu.
With ``PHMS_SCREENSHOTS=DIR`` the offer and What's new are saved for the docs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from phms_admin import cli
from phms_client.db.errors import ClientTooOld
from phms_client.services.updates import ReleaseNotes
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.login_dialog import LoginDialog
from phms_client.ui.shell.settings_dialog import ConfigLocation
from phms_client.ui.shell.updates import UpdateHook
from phms_client.ui.shell.whats_new import WhatsNewDialog
from phms_client.update.install import POINTER
from phms_client.version import client_version
from tests.bundles import make_key, write_bundle
from tests.harness import STAFF_PASSWORD, PgDatabase, settings_restored
from tests.ui import screens
from tests.ui.shell_support import (
    StandInWindow,
    logged_in_shell,
    server_settings,
    type_login,
    wait_for_message,
    write_location,
)

pytestmark = [
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
    pytest.mark.skipif(sys.platform == "win32", reason="the test bundle's program is a script"),
]

capture = partial(screens.capture, settle_ms=80)

NOTES = """Faster and safer:

- **Update now**: PHMS fetches new versions from the clinic's server, checks IT's
  signature and restarts.
- **What's new** (Help menu) shows these notes again.
- The patient search finds names typed without accents.
"""


@pytest.fixture(autouse=True)
def no_releases_left(admin_engine: sa.Engine) -> Iterator[None]:
    yield
    with admin_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM phms.client_release"))
        conn.execute(sa.text("DELETE FROM phms.release_notes_seen"))


@pytest.fixture
def site(db: PgDatabase, tmp_path: Path) -> tuple[ConfigLocation, Path, Path]:
    """A workstation whose site file trusts IT's release key; (location, key folder,
    versions folder)."""
    key, _secret, public = make_key(tmp_path / "it")
    versions = tmp_path / "versions"
    location = write_location(
        tmp_path,
        user=server_settings(db),
        site={"release_public_key": public, "update_folder": str(versions)},
    )
    return location, key.parent, versions


def publish(db: PgDatabase, keys: Path, version: str, notes: str = NOTES) -> None:
    bundle = write_bundle(keys / "bundles", version)
    notes_file = keys / f"notes-{version}.md"
    notes_file.write_text(notes, encoding="utf-8")
    assert cli.main(
        ["release", "publish", str(bundle), "--notes", str(notes_file), "--key",
         str(keys / "release.key"), "--passphrase-file", str(keys / "release.key.pass"),
         "--url", db.url_for("t_admin")]
    ) == 0  # fmt: skip


def wait_started(folder: Path) -> str:
    marker = folder / "started.txt"
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return marker.read_text()


def hook_of(running: object) -> UpdateHook:
    hook = running.shell.updates  # type: ignore[attr-defined]
    assert isinstance(hook, UpdateHook)
    return hook


# --------------------------------------------------------------------------- Update now


def test_update_now_after_login(
    qtbot: QtBot, db: PgDatabase, site: tuple[ConfigLocation, Path, Path]
) -> None:
    location, keys, versions = site
    publish(db, keys, "0.3.0")
    with logged_in_shell(qtbot, location) as running:
        hook = hook_of(running)
        qtbot.waitUntil(lambda: hook.offer is not None, timeout=15_000)
        offer = hook.offer
        assert offer is not None and not offer.isModal()
        assert offer.release.version == "0.3.0"
        assert f"This workstation runs PHMS {client_version()}" in offer.text.text()
        assert "What's new in 0.3" in offer.findChildren(type(offer.text))[2].text()
        capture(qtbot, offer, "update-offer")
        with qtbot.waitSignal(running.shell.finished, timeout=30_000):
            qtbot.mouseClick(offer.update_button, Qt.MouseButton.LeftButton)
        assert running.exit_codes == [0]
    assert (versions / POINTER).read_text() == "0.3.0\n"
    assert wait_started(versions / "0.3.0") == "PHMS 0.3.0 started: \n"


class UnsavedWindow(StandInWindow):
    """A main window with a form holding unsaved changes until ``saved``."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.unsaved = True

    def has_unsaved_changes(self) -> bool:
        return self.unsaved


def test_never_offered_over_unsaved_work(
    qtbot: QtBot, db: PgDatabase, site: tuple[ConfigLocation, Path, Path]
) -> None:
    location, keys, _versions = site
    publish(db, keys, "0.3.0")
    with logged_in_shell(qtbot, location, window_factory=UnsavedWindow) as running:
        hook = hook_of(running)
        hook.recheck_ms = 100
        with qtbot.waitSignal(hook.checked, timeout=15_000) as checked:
            pass
        assert checked.args[0].offer.version == "0.3.0"  # there is one …
        qtbot.wait(400)
        assert hook.offer is None  # … but it waits
        running.window.unsaved = False  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: hook.offer is not None, timeout=5_000)
        offer = hook.offer
        assert offer is not None
        running.window.unsaved = True  # type: ignore[attr-defined]  # work started meanwhile
        qtbot.mouseClick(offer.update_button, Qt.MouseButton.LeftButton)
        assert "not saved" in offer.status.text()
        assert not hook.updater.running
        assert running.exit_codes == []
        running.window.unsaved = False  # type: ignore[attr-defined]


def test_no_release_key_no_offer(qtbot: QtBot, db: PgDatabase, tmp_path: Path) -> None:
    key_folder = tmp_path / "it"
    make_key(key_folder)
    publish(db, key_folder, "0.3.0")
    location = write_location(tmp_path, user=server_settings(db))
    with logged_in_shell(qtbot, location) as running:
        hook = hook_of(running)
        with qtbot.waitSignal(hook.checked, timeout=15_000) as checked:
            pass
        assert checked.args[0].offer is None
        qtbot.wait(200)
        assert hook.offer is None


# --------------------------------------------------------------------------- What's new


def test_whats_new_once_per_person(
    qtbot: QtBot, db: PgDatabase, site: tuple[ConfigLocation, Path, Path]
) -> None:
    location, keys, _versions = site
    publish(db, keys, client_version(), "- Everything is new.")
    shown = []
    for user in ("t_clinician", "t_clinician", "t_clerk"):
        with logged_in_shell(qtbot, location, user) as running:
            hook = hook_of(running)
            with qtbot.waitSignal(hook.checked, timeout=15_000) as checked:
                pass
            assert checked.args[0].offer is None  # this is the newest
            dialog = hook.notes_dialog
            shown.append(dialog is not None)
            if dialog is not None:
                assert dialog.windowTitle().startswith("PHMS — What's new in ")
                assert "Everything is new." in dialog.browser.toPlainText()
                dialog.close()
            # Help > What's new shows them again, whoever has seen them.
            assert hook.whats_new_action in running.window.help_menu.actions()
            hook.whats_new_action.trigger()
            qtbot.waitUntil(lambda h=hook: h.notes_dialog is not None, timeout=10_000)
    assert shown == [True, False, True]


def test_help_whats_new_without_notes(
    qtbot: QtBot, db: PgDatabase, site: tuple[ConfigLocation, Path, Path]
) -> None:
    with logged_in_shell(qtbot, site[0]) as running:
        hook = hook_of(running)
        hook.whats_new_action.trigger()
        qtbot.waitUntil(lambda: hook.no_notes_box is not None, timeout=10_000)
        assert "No release notes were published" in hook.no_notes_box.text()  # type: ignore[union-attr]
        hook.no_notes_box.close()  # type: ignore[union-attr]


def test_whats_new_screenshot(qtbot: QtBot) -> None:
    dialog = WhatsNewDialog(ReleaseNotes("0.3.0", NOTES))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.windowTitle() == "PHMS — What's new in 0.3"
    assert "Update now" in dialog.browser.toPlainText()
    capture(qtbot, dialog, "whats-new")


# --------------------------------------------------------------------------- too old


@pytest.fixture
def minimum_030(admin_engine: sa.Engine) -> Iterator[None]:
    """The clinic's database accepts only PHMS 0.3.0 and newer (migration 0016's setting)."""
    with settings_restored(admin_engine):
        with admin_engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE phms.setting SET value = to_jsonb(CAST('0.3.0' AS text)) "
                    "WHERE key = 'min_client_version'"
                )
            )
        yield


def test_too_old_updates_from_the_login_dialog(
    qtbot: QtBot, db: PgDatabase, site: tuple[ConfigLocation, Path, Path], minimum_030: None
) -> None:
    location, keys, versions = site
    publish(db, keys, "0.2.9")
    tasks = TaskRunner(presenter=lambda error: pytest.fail(f"unexpected {error}"))
    dialog = LoginDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    try:
        type_login(qtbot, dialog, "t_clinician", STAFF_PASSWORD)  # the gate refuses
        qtbot.waitUntil(dialog.login_update.button.isVisible, timeout=15_000)
        assert "Update now fetches the newer PHMS" in dialog.message_label.text()
        assert "(0.3.0 or newer)" in dialog.message_label.text()
        dialog.adjustSize()
        capture(qtbot, dialog, "login-update-now")
        qtbot.mouseClick(dialog.login_update.button, Qt.MouseButton.LeftButton)
        text = wait_for_message(qtbot, dialog)
        assert "No release on the server is new enough (PHMS 0.3.0 or newer" in text
        assert "the newest published is 0.2.9" in text
        assert not (versions / POINTER).exists()

        publish(db, keys, "0.3.0")
        with qtbot.waitSignal(dialog.rejected, timeout=30_000):
            qtbot.mouseClick(dialog.login_update.button, Qt.MouseButton.LeftButton)
        assert (versions / POINTER).read_text() == "0.3.0\n"
        assert wait_started(versions / "0.3.0") == "PHMS 0.3.0 started: \n"
    finally:
        assert tasks.shutdown(10_000)


def test_too_old_without_a_release_key_only_says_so(
    qtbot: QtBot, db: PgDatabase, tmp_path: Path
) -> None:
    location = write_location(tmp_path, user=server_settings(db))
    tasks = TaskRunner(presenter=lambda error: pytest.fail(f"unexpected {error}"))
    dialog = LoginDialog(location, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    try:
        dialog._login_failed(ClientTooOld(client_version(), "0.3.0", "the IT intranet"))
        assert not dialog.login_update.button.isVisible()
        assert "Get it from the IT intranet" in dialog.message_label.text()
        type_login(qtbot, dialog, "t_clinician", "wrong password")  # a new try hides it
        wait_for_message(qtbot, dialog)
        assert not dialog.login_update.button.isVisible()
    finally:
        assert tasks.shutdown(10_000)
        for widget in QApplication.topLevelWidgets():
            widget.close()
