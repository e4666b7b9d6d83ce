"""Options > Preferences…: the clinic's settings, shared by every workstation.

The values are the rows of ``phms.setting`` (:mod:`phms_client.services.preferences`).
Everyone may look; only admins may change them, which the database enforces (a
non-admin sees the window read-only with a note, and a save that bypassed the window
would still be refused with "not allowed").

Saving sends only what was changed, each with the version it was loaded at. When
another admin saved one of the same settings meanwhile, nothing is saved and the
dialog shows theirs against yours: *Keep mine* saves over theirs, *Use theirs* puts
their values in the form. Changes saved elsewhere while the window is open appear in
fields that were not touched. Every running PHMS applies a saved change within a
moment (:class:`~phms_client.ui.shell.site_settings.SiteSettingsWatch`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import format_moment
from phms_client.db.errors import classify
from phms_client.services import preferences
from phms_client.services.preferences import SettingRow, SettingValueError, StaleSettings
from phms_client.ui.admin.preferences_editors import (
    AgentsEditor,
    Editor,
    JsonViewer,
    LinesEditor,
    editor_for,
    label_of,
    show_value,
)
from phms_client.ui.admin.preferences_general_tab import GeneralTab
from phms_client.ui.admin.preferences_tabs import (
    AGENTS_HINT,
    KINDS_HINT,
    MEDICINES_HINT,
    OtherTab,
    editor_page,
)
from phms_client.ui.admin.registry_upload_panel import RegistryUploadPanel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice

__all__ = ["PreferencesDialog"]

log = logging.getLogger(__name__)

READ_ONLY_NOTE: Final = (
    "Only PHMS administrators can change the clinic's preferences. You can look at "
    "them here; ask an administrator if one should change."
)
ADMIN_NOTE: Final = (
    "These settings are shared by every workstation of the clinic. A saved change "
    "applies at once on every running PHMS, without logging in again."
)


class PreferencesDialog(QDialog):
    """Emits ``saved()`` after a successful save (then closes)."""

    saved = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Preferences")
        self._ctx = ctx
        self._load_key = ("preferences-load", id(self))
        self._save_key = ("preferences-save", id(self))
        self.read_only = ctx.login.group != "admin"
        self.rows: dict[str, SettingRow] = {}
        self.editors: dict[str, Editor] = {}
        self._tab_of: dict[str, int] = {}
        self._saving = False
        #: Settings saved elsewhere while changed here (the save will ask): key → theirs.
        self.changed_elsewhere: dict[str, SettingRow] = {}
        self.conflict_box: QMessageBox | None = None

        self.note_frame = QFrame()
        self.note_frame.setObjectName("prefsNote")
        self.note_frame.setStyleSheet(
            "#prefsNote { background: #fff8e1; border: 1px solid #e6c66a; border-radius: 4px; }"
            if self.read_only
            else "#prefsNote { background: #eef4fb; border: 1px solid #b7cde6; "
            "border-radius: 4px; }"
        )
        self.note_label = QLabel(READ_ONLY_NOTE if self.read_only else ADMIN_NOTE)
        self.note_label.setWordWrap(True)
        note_layout = QVBoxLayout(self.note_frame)
        note_layout.setContentsMargins(10, 8, 10, 8)
        note_layout.addWidget(self.note_label)

        self.tabs = QTabWidget()
        self._build_general()
        self._build_list_tab("appointment_kinds", "Appointments", KINDS_HINT)
        self._build_agents()
        self._build_list_tab("pah_medicines", "Medicines", MEDICINES_HINT)
        self.other_tab = OtherTab()
        self._other_index = self.tabs.addTab(self.other_tab, "Other")
        if not self.read_only:  # the upload state is for admins only
            self.tabs.addTab(RegistryUploadPanel(ctx), "Registry upload")

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)
        self.status_label = QLabel("Loading the clinic's preferences…")
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.status_label.setWordWrap(True)

        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(
            "Close" if self.read_only else "Cancel", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.save_button.setDefault(True)
        self.save_button.setVisible(not self.read_only)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.note_frame)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.connection_notice = add_connection_notice(ctx, self)
        self.tabs.setEnabled(False)
        self.resize(700, 500)

        ctx.live.changed.connect(self._live_change)
        self._listening = True
        self.load()

    # ----------------------------------------------------------------- building

    def _add(self, editor: Editor, tab: int) -> Editor:
        self.editors[editor.key] = editor
        self._tab_of[editor.key] = tab
        editor.on_edit = lambda key=editor.key: self._edited(key)
        return editor

    def _build_general(self) -> None:
        self.general = GeneralTab(self._ctx, self.read_only, self.rows.get)
        tab = self.tabs.addTab(self.general, "General")
        for editor in self.general.editors:
            self._add(editor, tab)

    def _build_list_tab(self, key: str, title: str, hint: str) -> None:
        editor = LinesEditor(key)
        self._add(editor, self.tabs.addTab(editor_page(editor, hint), title))

    def _build_agents(self) -> None:
        self.agents = AgentsEditor("vasodilator_agents")
        page = editor_page(self.agents, AGENTS_HINT)
        self._add(self.agents, self.tabs.addTab(page, "Vasodilator agents"))

    def _add_other(self, row: SettingRow) -> None:
        editor = self._add(editor_for(row), self._other_index)
        self.other_tab.add(editor, row)
        # Made after the buttons: Tab would reach it after them. Put it before.
        QWidget.setTabOrder(editor.widget, self.save_button)
        QWidget.setTabOrder(self.save_button, self.close_button)

    # ----------------------------------------------------------------- loading

    def load(self) -> None:
        db = self._ctx.db

        def fetch() -> dict[str, SettingRow]:
            with db.session() as session:
                return preferences.load(session)

        self._ctx.tasks.run(
            fetch, on_success=self._loaded, on_error=self._load_failed, key=self._load_key
        )

    def _loaded(self, rows: dict[str, SettingRow]) -> None:
        first = not self.rows
        for key, row in rows.items():
            editor = self.editors.get(key)
            if editor is None:
                self._add_other(row)
                editor = self.editors[key]
            old = self.rows.get(key)
            if old is None or not editor.differs_from(old.value):
                editor.set_value(row.value)  # untouched here: show the server's value
                self.rows[key] = row
            elif old.version != row.version:
                self.changed_elsewhere[key] = row
        for key, editor in self.editors.items():
            editor.set_read_only(self.read_only or key not in self.rows)
            editor.widget.setToolTip(self._tooltip(key))
        self.tabs.setEnabled(True)
        self._update_state()
        if first:
            self.general.id_format.edit.setFocus()

    def _load_failed(self, exc: BaseException) -> None:
        if self._ctx.connection.handle_error(exc):
            self.status_label.setText(
                "The server cannot be reached; the preferences are not shown."
            )
            return
        self.show_message(self._error_text(exc))

    def _tooltip(self, key: str) -> str:
        row = self.rows.get(key)
        if row is None:
            return "Not stored in the database yet."
        when = format_moment(row.updated_at)
        if row.version == 1:  # as installed: the installer's database login is no one here
            return f"{row.description}\nAs installed on {when}; not changed since."
        return f"{row.description}\nLast changed by {row.updated_by}, {when}."

    def _live_change(self, payload: dict[str, Any]) -> None:
        if payload.get("table") == "setting" and not self._saving and self.isVisible():
            self.load()

    def _elsewhere_text(self) -> str | None:
        pending = [
            row
            for key, row in self.changed_elsewhere.items()
            if self.editors[key].differs_from(self.rows[key].value)
        ]
        if not pending:
            return None
        names = ", ".join(label_of(r.key) for r in pending)
        who = ", ".join(sorted({r.updated_by for r in pending}))
        return (
            f"{names} was just changed by {who}. Your change is kept on screen; saving "
            "will ask which one to keep."
        )

    # ----------------------------------------------------------------- editing

    def changes(self) -> dict[str, tuple[Any, int]]:
        """What was changed here: ``{key: (value, version it was loaded at)}``.

        Raises :class:`SettingValueError` for a value that cannot be read.
        """
        result: dict[str, tuple[Any, int]] = {}
        for key, row in self.rows.items():
            editor = self.editors[key]
            if isinstance(editor, JsonViewer):
                continue
            if editor.differs_from(row.value):
                result[key] = (editor.value(), row.version)
        return result

    def is_dirty(self) -> bool:
        return any(
            not isinstance(self.editors[k], JsonViewer) and self.editors[k].differs_from(r.value)
            for k, r in self.rows.items()
        )

    def _edited(self, _key: str) -> None:
        self.message_label.setVisible(False)
        self._update_state()

    def _update_state(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty and not self._saving and self._ctx.can_edit)
        if not self.rows:
            return
        if self.read_only:
            self.status_label.setText(self._last_change_text())
        elif dirty:
            self.status_label.setText(self._elsewhere_text() or "Changes not saved yet.")
        else:
            self.status_label.setText(self._last_change_text())

    def _last_change_text(self) -> str:
        changed = [r for r in self.rows.values() if r.version > 1]
        if not changed:
            installed = max(r.updated_at for r in self.rows.values())
            return f"All settings as installed on {format_moment(installed)}; none changed since."
        latest = max(changed, key=lambda r: r.updated_at)
        when = format_moment(latest.updated_at)
        return f"Last change: {label_of(latest.key).lower()}, by {latest.updated_by} on {when}."

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    # ----------------------------------------------------------------- saving

    def save(self) -> None:
        """Save what changed (no check of the user's group here: the database decides)."""
        if self._saving:
            return
        try:
            changes = self.changes()
            for key, (value, _version) in changes.items():
                preferences.validate(key, value)
        except SettingValueError as exc:
            self._show_invalid(exc)
            return
        if not changes:
            self.accept()
            return
        self._submit(changes)

    def _submit(self, changes: dict[str, tuple[Any, int]]) -> None:
        db = self._ctx.db

        def write() -> dict[str, SettingRow]:
            with db.session() as session:
                return preferences.save(session, changes)

        self._saving = True
        self._update_state()
        self.status_label.setText("Saving…")
        self._ctx.tasks.run(
            write, on_success=self._saved, on_error=self._save_failed, key=self._save_key
        )

    def _show_invalid(self, exc: SettingValueError) -> None:
        self.show_message(str(exc))
        tab = self._tab_of.get(exc.key)
        if tab is not None:
            self.tabs.setCurrentIndex(tab)
        editor = self.editors.get(exc.key)
        if editor is not None:
            editor.widget.setFocus()

    def _saved(self, rows: dict[str, SettingRow]) -> None:
        self._saving = False
        self.rows.update(rows)
        log.info("preferences saved: %s", ", ".join(sorted(rows)))
        self.saved.emit()
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self._saving = False
        self._update_state()
        if isinstance(exc, StaleSettings):
            self._conflict(exc)
            return
        if isinstance(exc, SettingValueError):
            self._show_invalid(exc)
            return
        if self._ctx.connection.handle_error(exc):
            self.show_message(
                "The connection to the server was lost; nothing was saved. Your changes are "
                "still here; save again when the connection is back."
            )
            return
        self.show_message(self._error_text(exc))

    def _error_text(self, exc: BaseException) -> str:
        error = classify(exc, address=self._ctx.config.display_address())
        return f"{error.title}: {error.message}"

    def _conflict(self, stale: StaleSettings) -> None:
        """Someone saved some of the same settings first: show theirs against ours."""
        lines = []
        for key, theirs in sorted(stale.theirs.items()):
            when = theirs.updated_at.astimezone().strftime("%H:%M")
            yours = self.editors[key].value()
            lines.append(
                f"• {label_of(key)}: {theirs.updated_by} saved “{show_value(theirs.value)}” "
                f"at {when}; yours is “{show_value(yours)}”."
            )
        box = QMessageBox(
            QMessageBox.Icon.Warning, "PHMS — Changed by someone else", "", parent=self
        )
        box.setText("Someone else changed the same preferences while you were editing.")
        box.setInformativeText(
            "\n".join(lines) + "\n\nNothing has been saved yet. Keep your values (and save "
            "over theirs), or use theirs?"
        )
        self.keep_mine_button = box.addButton("Keep mine", QMessageBox.ButtonRole.AcceptRole)
        self.use_theirs_button = box.addButton("Use theirs", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(self.use_theirs_button)
        box.finished.connect(lambda _r, b=box, s=stale: self._conflict_answered(b, s))
        self.conflict_box = box
        box.open()

    def _conflict_answered(self, box: QMessageBox, stale: StaleSettings) -> None:
        self.conflict_box = None
        clicked = box.clickedButton()
        box.deleteLater()
        self.rows.update(stale.theirs)  # we have now seen their versions
        for key in stale.theirs:
            self.changed_elsewhere.pop(key, None)
        if clicked is self.keep_mine_button:
            self.save()
            return
        for key, row in stale.theirs.items():
            self.editors[key].set_value(row.value)
            self.editors[key].widget.setToolTip(self._tooltip(key))
        self._update_state()
        if self.is_dirty():
            self.status_label.setText(
                "Their values are shown now. Your other changes are not saved yet."
            )

    # ----------------------------------------------------------------- closing

    def done(self, result: int) -> None:
        if self._saving and result != QDialog.DialogCode.Accepted:
            return  # wait for the answer of the save on its way
        self._ctx.tasks.cancel(self._load_key)
        self.general.stop()
        if self._listening:
            self._listening = False
            with contextlib.suppress(RuntimeError, TypeError):  # the session is gone
                self._ctx.live.changed.disconnect(self._live_change)
        super().done(result)
