"""Notices that come unasked (connection lost, changed by someone else) in any window.

Such a notice sits below everything else in its window, and the window grows by the
notice's height as it appears and gives that back as it goes: nothing under the
pointer moves while someone types or reaches for a button, and no empty gap is left
behind after a reconnect. :class:`NoticeSpace` does the growing and shrinking;
:func:`add_connection_notice` gives a window the "connection lost" line, following
the connection monitor by itself.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QBoxLayout, QLabel, QLayout, QLayoutItem, QWidget

from phms_client.ui.shared.context import AppContext

__all__ = ["CONNECTION_LOST_TEXT", "ConnectionNotice", "NoticeSpace", "add_connection_notice"]

CONNECTION_LOST_TEXT = (
    "The connection to the server is lost. What is in this window is kept, but nothing "
    "can be loaded or saved until PHMS has reconnected; PHMS keeps trying by itself."
)

# The record forms' warning banner (record_forms.common.BANNER_STYLES["warning"]).
_WARNING_STYLE = (
    "background: #fff4ce; color: #4d3b00; border: 1px solid #e6cf7d;"
    " padding: 6px; border-radius: 3px;"
)


class NoticeSpace(QObject):
    """Grows ``window`` by the height of the shown notices among ``rows`` and shrinks it
    back as they go. ``rows`` are widgets or layouts of ``container``'s layout (the
    window itself or the widget that holds its content), below everything else."""

    def __init__(self, window: QWidget, container: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._container = container
        self._items: list[QLayoutItem] = []
        self._total = 0
        self._height_without = 0
        window.installEventFilter(self)

    def add(self, *rows: QWidget | QLayout) -> None:
        inner = self._container.layout()
        assert inner is not None
        for row in rows:
            if isinstance(row, QWidget):
                item = inner.itemAt(inner.indexOf(row))
                assert item is not None
                self._items.append(item)
                row.installEventFilter(self)
            else:
                self._items.append(row)
                for i in range(row.count()):
                    child = row.itemAt(i)
                    widget = child.widget() if child is not None else None
                    if widget is not None:
                        widget.installEventFilter(self)

    def height(self) -> int:
        """What the shown notices take, spacing included."""
        inner = self._container.layout()
        spacing = max(0, inner.spacing()) if inner is not None else 0
        width = self._container.width()
        total = 0
        for item in self._items:
            item.invalidate()
            if item.isEmpty():
                continue
            if item.hasHeightForWidth():
                total += item.heightForWidth(width) + spacing
            else:
                total += item.sizeHint().height() + spacing
        return total

    def _refit(self) -> None:
        total = self.height()
        changed = total != self._total
        self._total = total
        window = self._window
        if changed and window.isVisible() and self._height_without:
            # Qt has already grown the window to its new minimum by now, pushing things
            # up: set the height from the one it had without notices.
            layout, inner = window.layout(), self._container.layout()
            if layout is not None and inner is not None:  # a notice went: minimum shrinks
                inner.invalidate()
                layout.invalidate()
                layout.activate()
            floor = window.minimumSizeHint().height()
            window.resize(window.width(), max(floor, self._height_without + total))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        window = getattr(self, "_window", None)  # (None while being built)
        container = getattr(self, "_container", None)
        if not (shiboken6.isValid(window) and shiboken6.isValid(container)):
            return False  # the window is being deleted: its children hide one by one
        kind = event.type()
        if watched is self._window:
            if kind == QEvent.Type.Resize and all(item.isEmpty() for item in self._items):
                self._height_without = self._window.height()
        elif isinstance(watched, QWidget) and (
            kind == QEvent.Type.Show or (kind == QEvent.Type.Hide and watched.isHidden())
        ):  # a notice came or went (not: the whole window hiding)
            self._refit()
        return False


class ConnectionNotice(QLabel):
    """The "connection lost" line of one window: shown while the monitor is offline."""

    def __init__(self, ctx: AppContext, text: str = CONNECTION_LOST_TEXT) -> None:
        super().__init__(text)
        self.setObjectName("connection_notice")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setStyleSheet(_WARNING_STYLE)
        self.setAccessibleName("Connection lost")
        self.setVisible(not ctx.connection.online)
        self.space: NoticeSpace | None = None
        # A bound method of this QObject: Qt drops the connection when it is deleted.
        ctx.connection.online_changed.connect(self.follow)

    def follow(self, online: bool) -> None:
        self.setVisible(not online)


def add_connection_notice(
    ctx: AppContext,
    window: QWidget,
    *,
    container: QWidget | None = None,
    text: str = CONNECTION_LOST_TEXT,
) -> ConnectionNotice:
    """Give ``window`` its "connection lost" notice at the bottom of ``container``'s
    (by default the window's own) box layout, kept from moving anything."""
    holder = container or window
    layout = holder.layout()
    assert isinstance(layout, QBoxLayout), "the notice goes at the bottom of a box layout"
    notice = ConnectionNotice(ctx, text)
    layout.addWidget(notice)
    notice.space = NoticeSpace(window, holder)  # (held: Qt calls back into it)
    notice.space.add(notice)
    return notice
