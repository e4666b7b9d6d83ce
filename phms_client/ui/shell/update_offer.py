"""The offer after login: "PHMS 0.3 is available — Update now / Later" (non-modal).

The window only shows the offer and the update's progress; :class:`~phms_client.ui.
shell.updates.UpdateHook` decides when it may appear (never over unsaved work) and
what Update now does. Later closes it; it comes back at the next login.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from phms_client.services.updates import Release
from phms_client.ui.shell.whats_new import whats_new_title
from phms_client.update.versions import short_version

__all__ = ["UpdateOffer"]


class UpdateOffer(QDialog):
    """Emits ``update_requested`` for Update now; ``cancel_requested`` while downloading."""

    update_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, release: Release, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.release = release
        self.setWindowTitle("PHMS — Update available")
        self.setModal(False)
        size = f"{release.size / 1e6:.0f} MB" if release.size >= 1e6 else "less than 1 MB"
        title = QLabel(f"PHMS {short_version(release.version)} is available")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        self.text = QLabel(
            f"This workstation runs PHMS {html.escape(current)}. <b>Update now</b> downloads "
            f"PHMS {html.escape(release.version)} from the clinic's server ({size}), checks "
            "that IT signed it, installs it beside this version and restarts PHMS. "
            "Open windows close; you log in again."
        )
        self.text.setWordWrap(True)
        notes_label = QLabel(whats_new_title(release.version))
        notes_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.notes = QTextBrowser()
        self.notes.setOpenLinks(False)
        self.notes.setMarkdown(release.notes or "No notes were published with this version.")
        self.notes.setMinimumHeight(120)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        self.bar = QProgressBar()
        self.bar.hide()
        self.later_button = QPushButton("&Later")
        self.later_button.setToolTip(
            "Keep working; PHMS offers the update again at your next login."
        )
        self.later_button.clicked.connect(self.reject)
        self.update_button = QPushButton("&Update now")
        self.update_button.setDefault(True)
        self.update_button.clicked.connect(self.update_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.update_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.text)
        layout.addSpacing(6)
        layout.addWidget(notes_label)
        layout.addWidget(self.notes, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(520, 380)
        self._downloading = False

    # ----------------------------------------------------------------- states

    def downloading(self) -> None:
        self._downloading = True
        self.update_button.setEnabled(False)
        self.later_button.setText("&Cancel")
        self.later_button.setToolTip("Stop the download; nothing is installed.")
        self.bar.setRange(0, 0)
        self.bar.show()
        self.say(f"Downloading PHMS {self.release.version}…")

    def show_progress(self, received: int, total: int) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(received * 1000 // max(total, 1))
        self.say(
            f"Downloading PHMS {self.release.version}… {received / 1e6:.1f} of {total / 1e6:.1f} MB"
        )

    def restarting(self) -> None:
        self._downloading = False
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.later_button.setEnabled(False)
        self.say(f"PHMS {self.release.version} is installed and checked. Restarting…")

    def failed(self, message: str) -> None:
        self._downloading = False
        self.bar.hide()
        self.later_button.setText("&Close")
        self.later_button.setEnabled(True)
        self.update_button.setEnabled(True)
        self.update_button.setText("&Try again")
        self.say(message, problem=True)

    def say(self, text: str, *, problem: bool = False) -> None:
        self.status.setStyleSheet("color: #a4262c;" if problem else "")
        self.status.setText(text)
        self.status.show()

    def reject(self) -> None:
        """Later / Close; while downloading (Cancel, Esc, the window's close box): stop it."""
        if self._downloading:
            self.cancel_requested.emit()
        else:
            super().reject()
