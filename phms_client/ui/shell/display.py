"""Whether PHMS can draw on this display at all.

Qt draws only on displays with at least 16-bit colour. On an 8-bit X display (such as
``xvfb-run``'s default ``-screen 0 640x480x8``) every window opens and stays black,
with nothing said. PHMS says so instead, and how to get a display it can use.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

__all__ = ["MIN_DEPTH", "display_problem"]

MIN_DEPTH = 16


def display_problem(app: QGuiApplication | None = None) -> str | None:
    """A message for the person starting PHMS when it cannot draw here, else None."""
    app = app or QGuiApplication.instance()  # type: ignore[assignment]
    screen = app.primaryScreen() if isinstance(app, QGuiApplication) else None
    if screen is None:
        return "PHMS found no screen to show its windows on."
    depth = screen.depth()
    if depth >= MIN_DEPTH:
        return None
    return (
        f"PHMS cannot draw on this display: it has {depth}-bit colour and PHMS needs at "
        f"least {MIN_DEPTH}-bit (its windows would stay black). Set the display to more "
        "colours; on a virtual X display start Xvfb with e.g. '-screen 0 1280x1024x24' "
        '(xvfb-run -s "-screen 0 1280x1024x24" …).'
    )
