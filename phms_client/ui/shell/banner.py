"""The strip at the top of the main window: connection lost, maintenance messages.

:class:`BannerArea` holds two :class:`Banner` lines. The connection line cannot be
dismissed (it goes when the connection is back) and has "Retry now"; the broadcast
line shows a message sent by IT (``phms_broadcast``) until it is dismissed.
:meth:`BannerArea.attach` puts the area in its own fixed tool bar row at the very
top of a ``QMainWindow``, so the window's own layout is left alone.
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

__all__ = ["Banner", "BannerArea"]

_STYLES = {
    "error": ("#fdecea", "#d9a29b", "#611a15"),
    "info": ("#e8f1fb", "#9bbbe0", "#0d3c61"),
}


class Banner(QFrame):
    """One coloured message with an optional action button and dismiss button."""

    action_clicked = Signal()
    dismissed = Signal()

    def __init__(
        self,
        kind: str,
        *,
        action_text: str | None = None,
        dismissable: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        background, border, text = _STYLES[kind]
        self.setObjectName(f"banner_{kind}")
        self.setStyleSheet(
            f"#banner_{kind} {{ background: {background}; border-bottom: 1px solid {border}; }}"
            f" #banner_{kind} QLabel {{ color: {text}; }}"
        )
        # Not Fixed: a fixed height would be the narrow sizeHint's, not height-for-width.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setVisible(False)
        texts = QVBoxLayout()
        texts.setSpacing(4)
        texts.addWidget(self.label)
        texts.addWidget(self.status)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 8, 10, 8)
        row.addLayout(texts, 1)
        self.action_button: QPushButton | None = None
        if action_text:
            self.action_button = QPushButton(action_text)
            self.action_button.clicked.connect(self.action_clicked)
            row.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.dismiss_button: QPushButton | None = None
        if dismissable:
            self.dismiss_button = QPushButton("Dismiss")
            self.dismiss_button.clicked.connect(self._dismiss)
            row.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setVisible(False)

    def set_message(self, rich_text: str) -> None:
        self.label.setText(rich_text)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _dismiss(self) -> None:
        self.setVisible(False)
        self.dismissed.emit()


class BannerArea(QWidget):
    """Connection-lost and broadcast banners; emits ``needed(bool)`` as they come and go."""

    retry_requested = Signal()
    needed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.connection = Banner("error", action_text="Retry now")
        self.connection.action_clicked.connect(self._retry_clicked)
        self.broadcast = Banner("info", dismissable=True)
        self.broadcast.dismissed.connect(self._changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.connection)
        layout.addWidget(self.broadcast)
        self._next_attempt: float | None = None
        self._reason = ""
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self.bar: QToolBar | None = None

    # A tool bar sizes its widgets by sizeHint() alone, without height-for-width:
    # without help a wrapped message would get the height of a much narrower one.
    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        layout = self.layout()
        if layout is None or not layout.hasHeightForWidth():
            return hint
        width = self.width() if self.isVisible() else hint.width()
        return QSize(hint.width(), layout.totalHeightForWidth(width))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()

    # ----------------------------------------------------------------- connection

    @property
    def connection_lost_shown(self) -> bool:
        return not self.connection.isHidden()

    def show_connection_lost(self, address: str) -> None:
        self.connection.set_message(
            f"<b>The connection to the database server at {html.escape(address)} is lost.</b> "
            "Your unsaved work is kept on screen, but it cannot be saved and nothing "
            "can be changed until PHMS has reconnected. PHMS keeps trying by itself."
        )
        self.connection.set_status("Trying to reconnect…")
        if self.connection.action_button is not None:
            self.connection.action_button.setEnabled(True)
        self.connection.setVisible(True)
        self._changed()

    def hide_connection_lost(self) -> None:
        self._countdown.stop()
        self._next_attempt = None
        self.connection.setVisible(False)
        self._changed()

    def reconnecting(self) -> None:
        self._countdown.stop()
        self._next_attempt = None
        self.connection.set_status("Trying to reconnect…")
        if self.connection.action_button is not None:
            self.connection.action_button.setEnabled(False)

    def retry_in(self, delay_ms: int, reason: str = "") -> None:
        """The next attempt is ``delay_ms`` away; ``reason`` says why the last one failed."""
        self._reason = reason
        self._next_attempt = time.monotonic() + delay_ms / 1000
        if self.connection.action_button is not None:
            self.connection.action_button.setEnabled(True)
        self._tick()
        self._countdown.start()

    def _tick(self) -> None:
        if self._next_attempt is None:
            return
        seconds = max(0, round(self._next_attempt - time.monotonic()))
        prefix = f"Last attempt: {self._reason}. " if self._reason else ""
        self.connection.set_status(f"{prefix}Next attempt in {seconds} s.")

    def _retry_clicked(self) -> None:
        self.reconnecting()
        self.retry_requested.emit()

    # ----------------------------------------------------------------- broadcasts

    def show_broadcast(self, text: str) -> None:
        self.broadcast.set_message(
            f"<b>Message from IT:</b> {html.escape(text.strip()) or '(empty message)'}"
        )
        self.broadcast.setVisible(True)
        self._changed()

    # ----------------------------------------------------------------- placement

    def _changed(self) -> None:
        shown = not (self.connection.isHidden() and self.broadcast.isHidden())
        if self.bar is not None:
            self.bar.setVisible(shown)
        self.needed.emit(shown)

    def attach(self, window: QMainWindow) -> QToolBar:
        """Show this area in a fixed row above the window's own tool bars and content."""
        bar = QToolBar("Status messages", window)
        bar.setObjectName("phmsBannerBar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setVisible(False)  # not listed in the tool bar menu
        bar.setStyleSheet("QToolBar#phmsBannerBar { border: 0px; padding: 0px; spacing: 0px; }")
        bar.addWidget(self)
        first = next(
            (
                tb
                for tb in window.findChildren(QToolBar)
                if tb is not bar and window.toolBarArea(tb) == Qt.ToolBarArea.TopToolBarArea
            ),
            None,
        )
        if first is None:
            window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        else:
            window.insertToolBar(first, bar)
            window.insertToolBarBreak(first)
        self.bar = bar
        self._changed()
        return bar
