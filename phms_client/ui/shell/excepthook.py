"""What PHMS does with an exception nobody caught: log it, tell the user plainly.

The traceback goes to the log (memory log only, so it reaches a problem report's
log tail); the user sees a plain message, never a traceback.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QApplication, QMessageBox

from phms_client.db.errors import classify

__all__ = ["install_excepthook", "show_unexpected_error", "unexpected_error_hook"]

log = logging.getLogger("phms_client.ui.shell.app_shell")

_error_box: QMessageBox | None = None


def show_unexpected_error(exc: BaseException, *, wait: bool = False) -> QMessageBox | None:
    """A plain message about an unexpected error (one at a time, GUI thread only).

    ``wait``: show it modally and return once it is closed (when PHMS stops after it).
    """
    global _error_box
    app = QApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    if _error_box is not None and _error_box.isVisible():
        return _error_box  # one is enough; the log has every occurrence
    error = classify(exc)
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "PHMS — Unexpected error",
        error.title,
        QMessageBox.StandardButton.Ok,
        QApplication.activeWindow(),
    )
    box.setInformativeText(error.message)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.destroyed.connect(_forget_box)
    _error_box = box
    if wait:
        box.exec()
    else:
        box.open()
    return box


def _forget_box() -> None:
    global _error_box
    _error_box = None


def unexpected_error_hook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """``sys.excepthook``: log the traceback (memory log only) and tell the user plainly."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.critical("unexpected error: %s", classify(exc).detail, exc_info=(exc_type, exc, tb))
    try:
        show_unexpected_error(exc)
    except Exception:  # never let the hook itself fail loudly
        log.exception("could not show the unexpected error")


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.critical(
        "unexpected error in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def install_excepthook() -> Callable[..., Any]:
    """Install the hooks for uncaught exceptions; returns the previous ``sys.excepthook``."""
    previous = sys.excepthook
    sys.excepthook = unexpected_error_hook
    threading.excepthook = _thread_hook
    return previous
