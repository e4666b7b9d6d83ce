"""Idle lock: after some minutes without keyboard or mouse input, cover every window.

:class:`IdleLock` watches the whole application (an event filter on the
``QApplication``). When the site's idle time (``SiteSettings.idle_lock_minutes``) has
passed without input, every visible PHMS window gets an opaque cover and its content
is disabled; the main window's cover is the :class:`LockScreen`, which names who is
logged in and asks for that person's password again. The password is checked by a
real connection attempt on the task runner. Nothing is closed or hidden, so unsaved
work stays as it was; windows that open while locked are covered too.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import ErrorKind, classify
from phms_client.ui.shared.tasks import TaskRunner

__all__ = ["IdleLock", "LockScreen"]

log = logging.getLogger(__name__)

_ACTIVITY = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)
_NOT_COVERED = frozenset({Qt.WindowType.Popup, Qt.WindowType.ToolTip, Qt.WindowType.SplashScreen})


class LockScreen(QFrame):
    """The main window's cover: who is logged in, a password field, Unlock and Quit."""

    unlock_requested = Signal(str)
    quit_requested = Signal()

    def __init__(self, user: str, group: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self.setStyleSheet("#lockScreen { background: palette(window); }")
        self.setAutoFillBackground(True)

        title = QLabel("PHMS is locked")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.who_label = QLabel(f"Logged in: <b>{html.escape(user)}</b> ({html.escape(group)})")
        self.who_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        note = QLabel(
            "Locked after a time without activity. Unsaved work is kept; only "
            f"{html.escape(user)} can unlock with their password."
        )
        note.setWordWrap(True)
        note.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("Password")
        self.password_edit.returnPressed.connect(self._unlock_clicked)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self._unlock_clicked)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.message_label.setStyleSheet("color: #b71c1c;")
        self.message_label.setVisible(False)
        self.quit_button = QPushButton("Quit PHMS…")
        self.quit_button.setFlat(True)
        self.quit_button.clicked.connect(self._quit_clicked)
        self._quit_armed = False

        entry = QHBoxLayout()
        entry.addWidget(self.password_edit, 1)
        entry.addWidget(self.unlock_button)

        panel = QFrame()
        panel.setObjectName("lockPanel")
        panel.setStyleSheet(
            "#lockPanel { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        # A fixed width, so that the wrapped texts get the height they need.
        panel.setFixedWidth(440)
        inner = QVBoxLayout(panel)
        inner.setContentsMargins(24, 20, 24, 16)
        inner.setSpacing(10)
        inner.addWidget(title)
        inner.addWidget(self.who_label)
        inner.addWidget(note)
        inner.addSpacing(4)
        inner.addLayout(entry)
        inner.addWidget(self.message_label)
        inner.addWidget(self.quit_button, 0, Qt.AlignmentFlag.AlignHCenter)

        # Centred by stretches, not alignment flags: an aligned widget gets its plain
        # sizeHint height, and its wrapped texts would be cut off.
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(panel)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def set_busy(self, busy: bool) -> None:
        self.unlock_button.setEnabled(not busy)
        self.password_edit.setEnabled(not busy)
        self.unlock_button.setText("Checking…" if busy else "Unlock")
        if not busy:
            self.password_edit.setFocus()

    def _unlock_clicked(self) -> None:
        password = self.password_edit.text()
        if not password:
            self.show_message("Please type the password.")
            return
        self.unlock_requested.emit(password)

    def _quit_clicked(self) -> None:
        # Two steps, no message box: a new window would be covered by the lock itself.
        if not self._quit_armed:
            self._quit_armed = True
            self.quit_button.setText("Click again to quit — unsaved changes will be lost")
            QTimer.singleShot(8000, self._disarm_quit)
            return
        self.quit_requested.emit()

    def _disarm_quit(self) -> None:
        if shiboken6.isValid(self):
            self._quit_armed = False
            self.quit_button.setText("Quit PHMS…")


class _Cover(QWidget):
    """An opaque lock screen over a whole window; the content below is disabled."""

    def __init__(self, window: QWidget, screen: LockScreen) -> None:
        super().__init__(window)
        self.setObjectName("phmsLockCover")
        self.setAutoFillBackground(True)
        self.lock_screen = screen
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(screen)
        self.disabled: list[QWidget] = []
        direct = Qt.FindChildOption.FindDirectChildrenOnly
        for child in window.findChildren(QWidget, options=direct):
            if child is self or child.isWindow() or not child.isEnabledTo(window):
                continue
            child.setEnabled(False)
            self.disabled.append(child)
        # A small window (a message box) grows so that the password field fits.
        hint = screen.minimumSizeHint()
        if window.width() < hint.width() or window.height() < hint.height():
            window.resize(max(window.width(), hint.width()), max(window.height(), hint.height()))
        self.setGeometry(window.rect())
        self.raise_()
        self.show()

    def remove(self) -> None:
        for child in self.disabled:
            if shiboken6.isValid(child):
                child.setEnabled(True)
        self.hide()
        self.deleteLater()


class IdleLock(QObject):
    """Locks all windows after ``timeout_ms`` without input; ``timeout_ms <= 0`` never does.

    ``verify(password)`` runs on the task runner and must raise when the password is
    wrong (e.g. :func:`phms_client.db.probe.verify_password`).
    """

    locked_changed = Signal(bool)
    quit_requested = Signal()

    def __init__(
        self,
        main_window: QWidget,
        *,
        user: str,
        group: str,
        tasks: TaskRunner,
        verify: Callable[[str], None],
        timeout_ms: int,
        address: Callable[[], str] = lambda: "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._window = main_window
        self._user = user
        self._group = group
        self._tasks = tasks
        self._verify = verify
        self._address = address
        self._timeout_ms = 0
        self._last_input = time.monotonic()
        self._covers: dict[QWidget, _Cover] = {}
        self._focus: QWidget | None = None
        self._key = ("unlock", id(self))
        self._asking: LockScreen | None = None  # the lock screen whose password is checked
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._check_idle)
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        self.set_timeout(timeout_ms)

    # ----------------------------------------------------------------- public

    @property
    def locked(self) -> bool:
        return bool(self._covers)

    @property
    def lock_screen(self) -> LockScreen | None:
        """The main window's lock screen while locked."""
        cover = self._covers.get(self._window)
        return cover.lock_screen if cover is not None else None

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    def set_timeout(self, timeout_ms: int) -> None:
        self._timeout_ms = timeout_ms
        self._last_input = time.monotonic()
        if timeout_ms > 0:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def lock(self) -> None:
        if self.locked:
            return
        log.info("screen locked (%d s without input)", time.monotonic() - self._last_input)
        popup = QApplication.activePopupWidget()
        while popup is not None:  # open menus would stay on top of the cover
            popup.close()
            popup = QApplication.activePopupWidget()
        self._focus = QApplication.focusWidget()
        self._cover(self._window)
        for widget in QApplication.topLevelWidgets():
            self._cover_if_window(widget)
        # A modal window blocks the others: the password is typed into the top one.
        modal = QApplication.activeModalWidget()
        top = self._covers.get(modal) if modal is not None else None
        (top or self._covers[self._window]).lock_screen.password_edit.setFocus()
        self.locked_changed.emit(True)

    def unlock(self) -> None:
        if not self.locked:
            return
        self._tasks.cancel(self._key)
        for window, cover in self._covers.items():
            if shiboken6.isValid(window) and shiboken6.isValid(cover):
                cover.remove()
        self._covers.clear()
        self._asking = None
        if self._focus is not None and shiboken6.isValid(self._focus):
            self._focus.setFocus()
        self._focus = None
        log.info("screen unlocked")
        self.set_timeout(self._timeout_ms)
        self.locked_changed.emit(False)

    def stop(self) -> None:
        """Stop watching (at log-out / quit)."""
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    # ----------------------------------------------------------------- internals

    def _cover(self, window: QWidget) -> None:
        screen = LockScreen(self._user, self._group)
        screen.unlock_requested.connect(lambda password: self._unlock_requested(screen, password))
        screen.quit_requested.connect(self.quit_requested)
        self._covers[window] = _Cover(window, screen)

    def _cover_if_window(self, widget: QWidget) -> None:
        if (
            widget in self._covers
            or not widget.isWindow()
            or not widget.isVisible()
            or widget.windowType() in _NOT_COVERED
        ):
            return
        self._cover(widget)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in _ACTIVITY:
            self._last_input = time.monotonic()
        elif self._covers and isinstance(watched, QWidget):
            if kind == QEvent.Type.Show and watched.isWindow():
                QTimer.singleShot(0, lambda: self._cover_new(watched))
            elif kind == QEvent.Type.Resize and watched in self._covers:
                self._covers[watched].setGeometry(watched.rect())
        return False

    def _cover_new(self, widget: QWidget) -> None:
        if self.locked and shiboken6.isValid(widget):
            self._cover_if_window(widget)

    def _check_idle(self) -> None:
        if self._timeout_ms <= 0 or self.locked:
            return
        idle_ms = int((time.monotonic() - self._last_input) * 1000)
        if idle_ms >= self._timeout_ms:
            self.lock()
        else:
            self._timer.start(self._timeout_ms - idle_ms)

    def _unlock_requested(self, screen: LockScreen, password: str) -> None:
        self._asking = screen
        screen.show_message("")
        screen.set_busy(True)
        self._tasks.run(
            lambda: self._verify(password),
            on_success=lambda _none: self.unlock(),
            on_error=self._unlock_failed,
            key=self._key,
        )

    def _unlock_failed(self, exc: BaseException) -> None:
        screen = self._asking
        if screen is None or not shiboken6.isValid(screen):
            return
        error = classify(exc, address=self._address())
        log.warning("unlock failed (%s)", error.kind.value)
        screen.set_busy(False)
        screen.password_edit.clear()
        if error.kind is ErrorKind.AUTH_FAILED:
            screen.show_message(f"Wrong password. Only {self._user} can unlock this screen.")
        elif error.kind in (ErrorKind.UNREACHABLE, ErrorKind.CONNECTION_LOST):
            screen.show_message(
                "PHMS cannot check the password because the database server cannot be "
                "reached. Please try again in a moment."
            )
        else:
            screen.show_message(f"{error.title}. {error.message}")
