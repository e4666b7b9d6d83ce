"""Text limits in forms, shown as people type (``phms_schema.limits`` via services).

:func:`limit_text` gives a line edit or a plain-text edit the column's maximum
length and a small hint in its bottom-right corner: ``93/100`` once the text
nears the limit, and a warning when it holds control characters (which the
service and the database refuse). A plain-text edit has no maximum length of its
own: text past the limit (typed or pasted) is cut at the limit, and the hint says
so. The hint is a child of the edit, so no form layout changes.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QWidget

from phms_client.services.input_rules import TEXT_LIMITS
from phms_schema.limits import MULTI, TextLimit

__all__ = ["NEAR", "TextLimitHint", "limit_text"]

#: The counter shows from this share of the limit on.
NEAR: Final = 0.8
_HINT_STYLE: Final = "color: palette(placeholder-text); background: transparent; font-size: 8pt;"
_WARN_STYLE: Final = "color: #b3261e; background: transparent; font-size: 8pt;"


def _has_control(text: str, limit: TextLimit) -> bool:
    allowed = "\n\t" if limit.lines == MULTI else ""
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


class TextLimitHint(QObject):
    """Keeps one edit within its limit and shows the count near it."""

    def __init__(self, edit: QLineEdit | QPlainTextEdit, limit: TextLimit) -> None:
        super().__init__(edit)
        self.edit = edit
        self.limit = limit
        self.cut = False
        host: QWidget = edit.viewport() if isinstance(edit, QPlainTextEdit) else edit
        self.label = QLabel(host)
        self.label.setObjectName("text_limit_hint")
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label.hide()
        host.installEventFilter(self)
        self._host = host
        if isinstance(edit, QLineEdit):
            edit.setMaxLength(limit.max_length)
            edit.textChanged.connect(self.update)
        else:
            edit.textChanged.connect(self._plain_changed)
            edit.installEventFilter(self)  # Ctrl+V: paste only what fits
        tip = edit.toolTip()
        extra = f"At most {limit.max_length:,} characters."
        edit.setToolTip(f"{tip}\n{extra}" if tip else extra)
        self.update()

    def text(self) -> str:
        if isinstance(self.edit, QLineEdit):
            return self.edit.text()
        return self.edit.toPlainText()

    def _plain_changed(self) -> None:
        assert isinstance(self.edit, QPlainTextEdit)
        text = self.edit.toPlainText()
        if len(text) > self.limit.max_length:
            cursor = self.edit.textCursor()
            position = min(cursor.position(), self.limit.max_length)
            self.edit.blockSignals(True)
            self.edit.setPlainText(text[: self.limit.max_length])
            self.edit.blockSignals(False)
            cursor = self.edit.textCursor()
            cursor.setPosition(position)
            self.edit.setTextCursor(cursor)
            self.cut = True
        else:
            self.cut = self.cut and len(text) == self.limit.max_length
        self.update()

    def message(self) -> str:
        """What the hint shows now ('' when nothing)."""
        text = self.text()
        if _has_control(text, self.limit):
            return "control characters are not allowed"
        n, most = len(text), self.limit.max_length
        if self.cut:
            return f"{n:,}/{most:,}: the rest was cut"
        if n >= most * NEAR:
            return f"{n:,}/{most:,}"
        return ""

    def update(self) -> None:
        message = self.message()
        self.label.setText(message)
        full = len(self.text()) >= self.limit.max_length
        warn = message.startswith("control") or self.cut or full
        self.label.setStyleSheet(_WARN_STYLE if warn else _HINT_STYLE)
        self.label.setVisible(bool(message))
        self._place()
        if isinstance(self.edit, QLineEdit):  # the text stops short of the hint
            right = self.label.width() + 6 if message else 0
            self.edit.setTextMargins(0, 0, right, 0)

    def _place(self) -> None:
        self.label.adjustSize()
        rect = self._host.rect()
        if isinstance(self.edit, QLineEdit):
            y = (rect.height() - self.label.height()) // 2
        else:
            y = rect.bottom() - self.label.height() - 1
        self.label.move(max(0, rect.right() - self.label.width() - 4), max(0, y))
        self.label.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        elif (
            watched is self.edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.matches(QKeySequence.StandardKey.Paste)
        ):
            return self._paste()
        return False

    def _paste(self) -> bool:
        """Paste no more than fits: laying out a pasted megabyte would freeze the form
        for minutes before the limit could cut it."""
        assert isinstance(self.edit, QPlainTextEdit)
        if self.edit.isReadOnly():
            return False
        text = QGuiApplication.clipboard().text()
        cursor = self.edit.textCursor()
        kept = len(self.edit.toPlainText()) - len(cursor.selectedText())
        room = max(0, self.limit.max_length - kept)
        if len(text) <= room:
            return False  # Qt pastes as usual
        cursor.insertText(text[:room])
        self.edit.setTextCursor(cursor)
        self.cut = True
        self.update()
        return True


def limit_text(edit: QLineEdit | QPlainTextEdit, table: str, column: str) -> TextLimitHint:
    """Give ``edit`` the limit of ``phms.<table>.<column>``; the hint lives as long as it."""
    hint = TextLimitHint(edit, TEXT_LIMITS[table][column])
    edit.setProperty("text_limit", hint.limit.max_length)
    return hint
