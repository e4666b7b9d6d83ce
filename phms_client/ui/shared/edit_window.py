"""What the non-modal editing windows share: the patient form and the clinical record forms.

Their state while saving, offline handling (contents kept, Save waits for the
reconnect), hiding for the idle lock, their background tasks (``tasks``, and
``_save``, which shows "Saving…" and reports to ``_saved``), live notes arriving
and "close with unsaved changes?". Each form builds its own widgets and says how
it loads, saves and compares; the names this class uses are listed under
"for subclasses".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLayout,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.guard import OwnedTasks
from phms_client.ui.shared.notices import NoticeSpace

__all__ = ["LOCKED_TITLE", "EditWindow", "lockable_layout"]

LOCKED_TITLE: Final = "PHMS — locked"


def lockable_layout(window: QWidget, content: QWidget) -> QLabel:
    """Lay ``window`` out as ``content`` and, in its place while PHMS is locked (the
    caller swaps them), a "Hidden while PHMS is locked." label, which is returned."""
    label = QLabel("Hidden while PHMS is locked.")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.hide()
    outer = QVBoxLayout(window)
    outer.addWidget(content)
    outer.addWidget(label)
    return label


class EditWindow(QDialog):
    """Base of :class:`PatientForm` and :class:`RecordForm`. Non-modal, deleted on close."""

    #: "patient", "assessment", "6-minute walk" … as the user reads it.
    WHAT: ClassVar[str] = ""

    # Built by the subclass.
    content: QWidget
    locked_label: QLabel
    connection_banner: QLabel
    status_label: QLabel
    save_button: QPushButton

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.discard_box: QMessageBox | None = None
        self._version: int | None = None
        self._online = ctx.connection.online
        self._saving = False
        self._live_pending = False
        self._closing_ok = False
        self._data_hidden = False
        self._title = ""
        self._waiting_to_load = False
        self._connected = True
        self.tasks = OwnedTasks(self, ctx)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(False)

    # ----------------------------------------------------------------- for subclasses

    def is_dirty(self) -> bool:
        raise NotImplementedError

    def _update_buttons(self) -> None:
        raise NotImplementedError

    def _load(self) -> None:
        raise NotImplementedError

    def _check_remote(self) -> None:
        raise NotImplementedError

    def _on_live_change(self, payload: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _saved(self, result: Any) -> None:
        raise NotImplementedError

    def _save_failed(self, exc: BaseException) -> None:
        raise NotImplementedError

    def _open_dialogs(self) -> Iterable[QDialog | None]:
        """The form's own dialogs that may be open (hidden with it by the idle lock)."""
        return ()

    # ----------------------------------------------------------------- notices

    def _keep_in_place(self, *rows: QWidget | QLayout) -> None:
        """Notices that come unasked (connection lost, changed by someone else) sit
        below the buttons, in rows of ``content``'s layout; see :class:`NoticeSpace`."""
        self._notice_space = NoticeSpace(self, self.content)  # (held: Qt calls back)
        self._notice_space.add(*rows)

    # ----------------------------------------------------------------- state

    def _follow_connection(self) -> None:
        """Follow going offline / online and the live change notes, until :meth:`done`."""
        self.ctx.connection.online_changed.connect(self.set_editable)
        self.ctx.live.changed.connect(self._on_live_change)

    def set_editable(self, editable: bool) -> None:
        """Offline: Save waits for the reconnect; what is typed stays."""
        self._online = editable
        if editable:
            self.connection_banner.hide()
            if self._waiting_to_load:
                self._waiting_to_load = False
                self._set_status(f"Loading the {self.WHAT}…")
                self._load()
        else:
            self.connection_banner.setText(
                "The connection to the server is lost. What you typed is kept in this window; "
                "Save is available again once PHMS has reconnected."
            )
            self.connection_banner.show()
        self._update_buttons()

    def hide_patient_data(self, hidden: bool) -> None:
        """For the idle lock: nothing of the patient visible, not even in the title."""
        self._data_hidden = hidden
        self.content.setVisible(not hidden)
        self.locked_label.setVisible(hidden)
        if hidden and self.windowTitle() != LOCKED_TITLE:
            self._title = self.windowTitle()
            self.setWindowTitle(LOCKED_TITLE)
        elif not hidden and self.windowTitle() == LOCKED_TITLE:
            self.setWindowTitle(self._title)
        for dialog in self._open_dialogs():
            if dialog is not None:
                dialog.setVisible(not hidden)
        self._update_buttons()

    def _set_saving(self, saving: bool) -> None:
        self._saving = saving
        self._set_status("Saving…" if saving else "")
        self._update_buttons()
        if not saving and self._live_pending:
            self._live_pending = False
            self._check_remote()

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    # ----------------------------------------------------------------- tasks

    def _save(
        self,
        call: Callable[[Session], Any],
        on_error: Callable[[BaseException], object] | None = None,
    ) -> None:
        """Save in the background: "Saving…" until the result reaches ``_saved`` (or the
        error ``on_error``, by default ``_save_failed``)."""
        self._set_saving(True)
        self.tasks.run_in_session("save", call, self._saved, on_error or self._save_failed)

    def _cancel_tasks(self) -> None:
        self.tasks.cancel_all()

    # ----------------------------------------------------------------- closing

    def discard(self) -> None:
        """Close without asking, throwing away unsaved entries (e.g. quitting anyway)."""
        self._closing_ok = True
        self.reject()

    def reject(self) -> None:
        if self._closing_ok or not self.is_dirty():
            super().reject()
            return
        if self.discard_box is not None:
            self.discard_box.raise_()
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "PHMS — Discard changes?",
            "Close this form and throw away what you typed?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText("Your entries have not been saved.")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.discard_box = box
        box.finished.connect(lambda _: self._discard_decided(box))
        box.open()

    def _discard_decided(self, box: QMessageBox) -> None:
        self.discard_box = None
        button = box.clickedButton()
        box.deleteLater()
        if button is not None and box.standardButton(button) == QMessageBox.StandardButton.Discard:
            self.discard()

    def done(self, result: int) -> None:
        self._cancel_tasks()
        if self._connected:
            self._connected = False
            self.ctx.connection.online_changed.disconnect(self.set_editable)
            self.ctx.live.changed.disconnect(self._on_live_change)
        super().done(result)
