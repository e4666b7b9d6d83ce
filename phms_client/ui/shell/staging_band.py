"""On a staging copy, every PHMS window says so: a band at the top and "[STAGING]" in its title.

The database tells the client at login (``LoginInfo.staging``, see
:mod:`phms_schema.environment`); :func:`mark_application` then watches the whole
application (an event filter on the ``QApplication``, installed only on a staging
copy) and marks every main window, chart, form, dialog and message box as it is
polished or shown, and again whenever its title changes.

The band does not go into the window's own layout: the window's top contents margin
is widened by the band's height and the band sits in that space, so any window,
whatever its layout, gets it without knowing about it.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QMargins, QObject, Qt
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

from phms_schema.environment import BAND_TEXT, TITLE_PREFIX

__all__ = ["StagingBand", "StagingMarker", "band_of", "mark_application"]

#: Windows that get a band (not menus, tool tips, splash screens).
_WINDOW_TYPES = frozenset({Qt.WindowType.Window, Qt.WindowType.Dialog, Qt.WindowType.Sheet})
_EVENTS = frozenset({QEvent.Type.Polish, QEvent.Type.Show, QEvent.Type.WindowTitleChange})
_STYLE = (
    "#phmsStagingBand {"
    " color: #000000; font-weight: bold; padding: 6px 12px;"
    " border-bottom: 3px solid #000000;"
    " background: qlineargradient(spread:repeat, x1:0, y1:0, x2:0.025, y2:0.06,"
    " stop:0 #ffc400, stop:0.5 #ffc400, stop:0.51 #ffab00, stop:1 #ffab00); }"
)


class StagingBand(QLabel):
    """The band itself: a child of its window, kept in the window's top margin."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(BAND_TEXT, window)
        self.setObjectName("phmsStagingBand")
        self.setStyleSheet(_STYLE)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "This database is a staging copy made from a backup: changes made here never "
            "reach the clinic's records."
        )
        self.setAccessibleName(BAND_TEXT)
        self._window = window
        self._margins = window.contentsMargins()
        self._height = 0
        window.installEventFilter(self)
        self._place()
        self.show()
        self.raise_()

    def _place(self) -> None:
        window = self._window
        width = max(window.width(), 1)
        height = self.heightForWidth(width)
        if height <= 0:
            height = self.sizeHint().height()
        self.setGeometry(0, 0, width, height)
        if height != self._height:
            self._height = height
            m = self._margins
            window.setContentsMargins(m.left(), m.top() + height, m.right(), m.bottom())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self._window:
            return False
        if event.type() == QEvent.Type.ParentChange and not _wants_band(self._window):
            # Polished while on its own, then put into another window's layout: no band.
            _strip_title(self._window)
            self.remove()
        elif event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.ChildAdded):
            self._place()
            self.raise_()
        return False

    def remove(self) -> None:
        self._window.removeEventFilter(self)
        self._window.setContentsMargins(self._margins)
        self.hide()
        self.setParent(None)  # gone from the window at once, not only when deleted
        self.deleteLater()

    @property
    def original_margins(self) -> QMargins:
        return QMargins(self._margins)


def band_of(window: QWidget) -> StagingBand | None:
    direct = Qt.FindChildOption.FindDirectChildrenOnly
    return window.findChild(StagingBand, "phmsStagingBand", direct)


def _wants_band(widget: QWidget) -> bool:
    return widget.isWindow() and widget.windowType() in _WINDOW_TYPES


def _strip_title(window: QWidget) -> None:
    title = window.windowTitle()
    if title.startswith(TITLE_PREFIX):
        window.setWindowTitle(title.removeprefix(TITLE_PREFIX))


def _with_prefix(title: str) -> str:
    return title if title.startswith(TITLE_PREFIX) else TITLE_PREFIX + (title or "PHMS")


class StagingMarker(QObject):
    """Marks every window of the application while ``active``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        app = QApplication.instance()
        if app is None or active == self._active:
            return
        self._active = active
        windows = [w for w in QApplication.topLevelWidgets() if _wants_band(w)]
        if active:
            app.installEventFilter(self)
            for window in windows:
                self._mark(window)
        else:
            app.removeEventFilter(self)
            for window in windows:
                self._unmark(window)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _EVENTS and isinstance(watched, QWidget) and _wants_band(watched):
            if event.type() == QEvent.Type.WindowTitleChange:
                self._title(watched)
            else:
                self._mark(watched)
        return False

    @staticmethod
    def _title(window: QWidget) -> None:
        title = window.windowTitle()
        wanted = _with_prefix(title)
        if wanted != title:
            window.setWindowTitle(wanted)

    def _mark(self, window: QWidget) -> None:
        if band_of(window) is None:
            StagingBand(window)
        self._title(window)

    @staticmethod
    def _unmark(window: QWidget) -> None:
        band = band_of(window)
        if band is not None:
            band.remove()
        _strip_title(window)


_marker: StagingMarker | None = None


def mark_application(staging: bool) -> StagingMarker | None:
    """Mark (or stop marking) every window of the running application."""
    global _marker
    app = QApplication.instance()
    if app is None:
        return None
    if _marker is None or not shiboken6.isValid(_marker):
        _marker = StagingMarker(app)
    _marker.set_active(staging)
    return _marker
