""" "What's new in 0.3": the release notes IT published with this version.

Shown once per person after an update (the database remembers who has seen
which version's notes, on any workstation) and again from Help > What's new.
The notes are Markdown; links are shown, not followed, and nothing is fetched.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from phms_client.services.updates import ReleaseNotes
from phms_client.update.versions import short_version

__all__ = ["WhatsNewDialog", "whats_new_title"]


def whats_new_title(version: str) -> str:
    return f"What's new in {short_version(version)}"


class WhatsNewDialog(QDialog):
    def __init__(self, notes: ReleaseNotes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"PHMS — {whats_new_title(notes.version)}")
        self.setModal(False)
        heading = QLabel(f"{whats_new_title(notes.version)} (PHMS {notes.version})")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        heading.setFont(font)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setOpenExternalLinks(False)
        self.browser.setMarkdown(notes.notes)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setDefault(True)
        close.setFocus()
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(560, 360)
