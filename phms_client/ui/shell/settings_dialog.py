"""Options > Settings…: where the server is, saved in the user's own settings file.

Every value shows where it currently comes from (built-in default, the site file that
IT manages, the user's file, an environment variable or the command line). Only what
the person changes is written to the user file, so an unchanged value keeps following
the site file when IT changes it. "Test connection" makes a real connection attempt
with the values on screen, without a password (:func:`phms_client.db.probe.probe_server`).
What the values mean for the settings files, without the window, is in
:mod:`~phms_client.ui.shell.settings_values`.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.config import ClientConfig, ConfigError, parse_server, save_user_config
from phms_client.config_tls import default_sslmode
from phms_client.db.errors import classify
from phms_client.db.probe import ProbeResult, probe_server
from phms_client.ui.shared.tasks import TaskRunner
from phms_client.ui.shell.settings_values import (
    FIELD_LABELS,
    ConfigLocation,
    candidate_config,
    describe_source,
    text_of,
    user_changes,
)

# ConfigLocation is what the dialog is opened with: importable from here too.
__all__ = ["CHANGED", "ConfigLocation", "SettingsDialog"]

log = logging.getLogger(__name__)

SSLMODE_TEXT = {
    "verify-full": "verify-full — encrypted, server identity checked (recommended)",
    "verify-ca": "verify-ca — encrypted, certificate checked but not the name",
    "require": "require — encrypted, server identity not checked",
    "prefer": "prefer — encrypted if the server offers it",
    "allow": "allow — unencrypted unless the server insists",
    "disable": "disable — not encrypted (this computer's own server only)",
}

#: The settings' labels with their Alt+letters (the dialog's buttons: B, T, R, S).
KEYED_LABELS = {
    "hosts": "Ser&ver",
    "port": "&Port",
    "database": "&Database",
    "sslmode": "&Encryption (TLS)",
    "sslrootcert": "&CA certificate",
    "connect_timeout": "Connect time&out (s)",
    "hospital_id": "&Hospital ID",
}

#: Next to a value that differs from what was loaded.
CHANGED = "changed — to be saved"

_OK_STYLE = "color: #1b5e20;"
_BAD_STYLE = "color: #b71c1c;"


class SettingsDialog(QDialog):
    """Edits the user's settings file; emits ``saved`` with the new effective config."""

    saved = Signal(object)  # ClientConfig

    def __init__(
        self,
        location: ConfigLocation,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Settings")
        self.setModal(True)
        self._location = location
        self._tasks = tasks
        self._probe_key = ("settings-probe", id(self))
        self.file_dialog: QFileDialog | None = None

        load_error: str | None = None
        try:
            config = location.load()
        except ConfigError as exc:
            load_error = str(exc)
            config = self._fallback_config()
        self._config = config
        self._initial = {name: text_of(config, name) for name in FIELD_LABELS}

        intro = QLabel(
            "Where PHMS finds the clinic's database server. What you save here applies "
            "to your account on this computer only, and takes precedence over the site "
            "file, which IT manages and PHMS never changes. Leave a field empty to go "
            "back to the site or built-in value."
        )
        intro.setWordWrap(True)
        self.files_label = QLabel(
            "<table cellspacing=0 cellpadding=1>"
            f"<tr><td>Your settings file:&nbsp;&nbsp;</td>"
            f"<td><code>{html.escape(str(location.user_file))}</code></td></tr>"
            f"<tr><td>Site file (IT manages it):&nbsp;&nbsp;</td>"
            f"<td><code>{html.escape(str(location.site_file))}</code></td></tr></table>"
        )
        self.files_label.setTextFormat(Qt.TextFormat.RichText)
        self.files_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(_BAD_STYLE)
        self.error_label.setVisible(False)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setColumnStretch(1, 1)
        self.editors: dict[str, QLineEdit | QComboBox] = {}
        self.source_labels: dict[str, QLabel] = {}
        for row, (name, label) in enumerate(FIELD_LABELS.items()):
            editor = self._make_editor(name)
            self.editors[name] = editor
            caption = QLabel(KEYED_LABELS.get(name, label) + ":")
            caption.setBuddy(editor)
            grid.addWidget(caption, row, 0)
            if name == "sslrootcert":
                self.browse_button = QPushButton("&Browse…")
                self.browse_button.clicked.connect(self.browse_certificate)
                box = QHBoxLayout()
                box.setContentsMargins(0, 0, 0, 0)
                box.addWidget(editor, 1)
                box.addWidget(self.browse_button)
                grid.addLayout(box, row, 1)
            else:
                grid.addWidget(editor, row, 1)
            source = QLabel()
            source.setToolTip(config.sources.get(name, "default"))
            self.source_labels[name] = source
            grid.addWidget(source, row, 2)
            self._show_source(name)
            if isinstance(editor, QComboBox):
                editor.currentIndexChanged.connect(lambda _i, n=name: self._show_source(n))
            else:
                editor.textChanged.connect(lambda _t, n=name: self._show_source(n))

        # The Encryption box shows what a changed server will get, until someone picks.
        self._sslmode_picked = False
        sslmode_box = self.editors["sslmode"]
        assert isinstance(sslmode_box, QComboBox)
        sslmode_box.activated.connect(self._sslmode_was_picked)
        hosts_edit = self.editors["hosts"]
        assert isinstance(hosts_edit, QLineEdit)
        hosts_edit.textChanged.connect(self._follow_hosts)

        self.test_button = QPushButton("&Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.reset_button = QPushButton("&Reset to site settings…")
        self.reset_button.clicked.connect(self.reset_user_file)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setVisible(False)

        tools = QHBoxLayout()
        tools.addWidget(self.test_button)
        tools.addStretch(1)
        tools.addWidget(self.reset_button)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("&Save")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.files_label)
        layout.addWidget(self.error_label)
        layout.addSpacing(6)
        layout.addLayout(grid)
        layout.addSpacing(6)
        layout.addLayout(tools)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(760)

        if load_error is not None:
            self.show_error(
                f"The current settings cannot be used: {load_error}\n"
                "Correct them here, or use “Reset to site settings”."
            )

    # ----------------------------------------------------------------- building

    def _fallback_config(self) -> ClientConfig:
        """When the settings do not load: what the site file alone gives, or defaults."""
        missing = self._location.user_file.with_name(".phms-no-user-file.toml")
        try:
            return self._location.load(user_file=missing)
        except ConfigError:
            return ClientConfig()

    def _show_source(self, name: str) -> None:
        """Next to each value: where it comes from now, or that it will be saved."""
        label = self.source_labels[name]
        if self.value(name) != self._initial[name]:
            text, style = CHANGED, "color: #0d47a1; font-style: italic;"
        else:
            text, overridden = describe_source(self._config.sources.get(name, "default"))
            style = "color: #8a4b00;" if overridden else ""
        label.setText(text)
        label.setStyleSheet(style)  # a style's colour needs the ordinary text role
        role = QPalette.ColorRole.WindowText if style else QPalette.ColorRole.PlaceholderText
        label.setForegroundRole(role)

    def _sslmode_was_picked(self, _index: int) -> None:
        self._sslmode_picked = True

    def _follow_hosts(self, text: str) -> None:
        """An sslmode belongs to its hosts (``config_tls``): for other hosts, show theirs."""
        if self._sslmode_picked:
            return
        if text.strip() == self._initial["hosts"]:
            self.set_value("sslmode", self._initial["sslmode"])
            return
        try:
            hosts, _port = parse_server(text.strip())
        except ConfigError:
            return  # half typed: the box waits
        if hosts:
            self.set_value("sslmode", default_sslmode(hosts))

    def _make_editor(self, name: str) -> QLineEdit | QComboBox:
        if name == "sslmode":
            combo = QComboBox()
            for mode, text in SSLMODE_TEXT.items():
                combo.addItem(text, mode)
            combo.setCurrentIndex(max(combo.findData(self._config.sslmode), 0))
            return combo
        edit = QLineEdit(self._initial[name])
        placeholders = {
            "hosts": "db.clinic.local  (or  primary, standby  for a standby server)",
            "sslrootcert": "the clinic's CA certificate (.crt, .pem)",
            "hospital_id": "e.g. RBH",
        }
        edit.setPlaceholderText(placeholders.get(name, ""))
        return edit

    # ----------------------------------------------------------------- values

    def value(self, name: str) -> str:
        editor = self.editors[name]
        if isinstance(editor, QComboBox):
            return str(editor.currentData())
        return editor.text().strip()

    def set_value(self, name: str, text: str) -> None:
        editor = self.editors[name]
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(editor.findData(text))
        else:
            editor.setText(text)

    def changes(self) -> dict[str, object]:
        """What to write to the user file (None removes a key); raises ConfigError."""
        return user_changes({name: self.value(name) for name in FIELD_LABELS}, self._initial)

    def candidate_config(self) -> ClientConfig:
        """The configuration these values would give, checked across all layers."""
        return candidate_config(self._location, self.changes())

    # ----------------------------------------------------------------- actions

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _show_result(self, ok: bool, title: str, message: str) -> None:
        self.result_label.setStyleSheet(_OK_STYLE if ok else _BAD_STYLE)
        self.result_label.setText(f"<b>{'✔' if ok else '✘'} {title}</b><br>{_html(message)}")
        self.result_label.setVisible(True)

    def test_connection(self) -> None:
        try:
            candidate = self.candidate_config()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.show_error("")
        self.test_button.setEnabled(False)
        self._show_result(True, "Testing…", f"Connecting to {candidate.display_address()}")
        self.result_label.setStyleSheet("")
        self._tasks.run(
            lambda: probe_server(candidate),
            on_success=self._probe_done,
            on_error=self._probe_failed,
            key=self._probe_key,
        )

    def _probe_done(self, result: ProbeResult) -> None:
        self.test_button.setEnabled(True)
        log.info("connection test: %s (%s)", result.title, result.detail)
        self._show_result(result.ok, result.title, result.message)

    def _probe_failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        error = classify(exc)
        log.warning("connection test failed: %s", error.detail)
        self._show_result(False, error.title, error.message)

    def browse_certificate(self) -> None:
        current = self.value("sslrootcert")
        start = str(Path(current).parent) if current else str(Path.home())
        if self.file_dialog is None:
            # One picker per Settings window, deleted with it: deleting a just-closed
            # QFileDialog on its own (WA_DeleteOnClose) crashed Qt 6.12 offscreen (bus error).
            dialog = QFileDialog(self, "Choose the clinic's CA certificate")
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            dialog.setNameFilters(["Certificates (*.crt *.pem *.cer)", "All files (*)"])
            dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
            dialog.fileSelected.connect(lambda path: self.set_value("sslrootcert", path))
            self.file_dialog = dialog
        self.file_dialog.setDirectory(start)
        self.file_dialog.open()

    def save(self) -> None:
        try:
            self.candidate_config()  # every layer together must still make sense
            changes = self.changes()
            if changes:
                path = save_user_config(changes, self._location.user_file)
                log.info("settings saved to %s: %s", path, ", ".join(sorted(changes)))
            config = self._location.load()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.saved.emit(config)
        self.accept()

    def reset_user_file(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "PHMS — Reset settings",
            "Remove all your own settings and use the site settings only?",
            QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(f"This deletes {self._location.user_file}.")
        box.button(QMessageBox.StandardButton.Reset).clicked.connect(self._do_reset)
        self.reset_box = box
        box.open()

    def _do_reset(self) -> None:
        try:
            self._location.user_file.unlink(missing_ok=True)
            config = self._location.load()
        except OSError as exc:
            self.show_error(f"{self._location.user_file} cannot be removed ({exc.strerror}).")
            return
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        log.info("user settings file removed")
        self.saved.emit(config)
        self.accept()

    def done(self, result: int) -> None:
        self._tasks.cancel(self._probe_key)
        super().done(result)


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")
