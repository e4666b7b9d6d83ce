"""Task callbacks for widgets that may be gone by the time the answer arrives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QObject

__all__ = ["while_alive"]

T = TypeVar("T")


def while_alive(owner: QObject, callback: Callable[[T], object]) -> Callable[[T], None]:
    """``callback``, skipped once ``owner`` has been deleted (a window closed, or its parent
    window destroyed, while its query was still running)."""

    def call(value: T) -> None:
        if shiboken6.isValid(owner):
            callback(value)

    return call
