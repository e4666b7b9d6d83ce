"""Task callbacks for widgets that may be gone by the time the answer arrives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from phms_client.ui.shared.context import AppContext

__all__ = ["OwnedTasks", "while_alive"]

T = TypeVar("T")


def while_alive(owner: QObject, callback: Callable[[T], object]) -> Callable[[T], None]:
    """``callback``, skipped once ``owner`` has been deleted (a window closed, or its parent
    window destroyed, while its query was still running)."""

    def call(value: T) -> None:
        if shiboken6.isValid(owner):
            callback(value)

    return call


class OwnedTasks:
    """The background tasks of one widget: keyed ``(name, widget)``, so a newer task of
    the same name supersedes an older one; callbacks skipped once the widget is gone;
    all dropped at once by :meth:`cancel_all` (the widget closes)."""

    def __init__(self, owner: QObject, ctx: AppContext) -> None:
        self._owner = owner
        self._ctx = ctx
        self._keys: set[object] = set()

    def run(
        self,
        name: str,
        fn: Callable[[], Any],
        on_success: Callable[[Any], object],
        on_error: Callable[[BaseException], object],
    ) -> None:
        key = (name, id(self._owner))
        self._keys.add(key)
        self._ctx.tasks.run(
            fn,
            on_success=while_alive(self._owner, on_success),
            on_error=while_alive(self._owner, on_error),
            key=key,
        )

    def run_in_session(
        self,
        name: str,
        call: Callable[[Session], Any],
        on_success: Callable[[Any], object],
        on_error: Callable[[BaseException], object],
    ) -> None:
        """:meth:`run` ``call(session)`` as one unit of work of the logged-in database.
        It runs on a worker thread: let it capture values, never widgets."""
        db = self._ctx.db

        def work() -> Any:
            with db.session() as s:
                return call(s)

        self.run(name, work, on_success, on_error)

    def cancel_all(self) -> None:
        for key in self._keys:
            self._ctx.tasks.cancel(key)
        self._keys.clear()
