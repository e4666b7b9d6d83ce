"""The Preferences window's simple tabs: a list with its explanation (appointment
kinds, vasodilator agents, medicines), and *Other*, where settings the window has no
tab for are listed as they come from the server."""

from __future__ import annotations

from typing import Final

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from phms_client.services.preferences import SettingRow
from phms_client.ui.admin.preferences_editors import KEYED_LABELS, Editor, label_of

__all__ = ["AGENTS_HINT", "KINDS_HINT", "MEDICINES_HINT", "OTHER_NOTE", "OtherTab", "editor_page"]

KINDS_HINT: Final = (
    "The kinds of appointment offered when booking, one per line. Appointments "
    "booked earlier keep their kind."
)
AGENTS_HINT: Final = "Agents offered in a vasodilator challenge, with the unit of their dose."
MEDICINES_HINT: Final = (
    "PAH medicines offered in the medication pick list, one per line. Other "
    "medicines can still be typed in."
)
OTHER_NOTE: Final = (
    "Other site settings. Lists with a structure of their own are shown here as they "
    "are stored; they are not edited in this window. Report templates are kept with "
    "the reports, not here."
)


def editor_page(editor: Editor, hint: str) -> QWidget:
    """A tab holding one editor under its explanation."""
    page = QWidget()
    layout = QVBoxLayout(page)
    label = QLabel(hint)
    label.setWordWrap(True)
    layout.addWidget(label)
    layout.addWidget(editor.widget, 1)
    return page


class OtherTab(QWidget):
    """A note, then a row per setting added (:meth:`add`), scrolling when long."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout()
        note = QLabel(OTHER_NOTE)
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addWidget(note)
        inner_layout.addLayout(self.form)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        page_layout = QVBoxLayout(self)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(scroll)

    def add(self, editor: Editor, row: SettingRow) -> None:
        """The setting's editor with its label, and its description under it."""
        editor.widget.setToolTip(row.description)
        caption = QLabel(KEYED_LABELS.get(row.key, f"{label_of(row.key)}:"))
        caption.setBuddy(editor.widget)
        self.form.addRow(caption, editor.widget)
        if row.description:
            hint = QLabel(row.description)
            hint.setWordWrap(True)
            hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self.form.addRow("", hint)
