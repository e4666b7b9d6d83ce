"""Screenshots for the docs, taken by the UI tests: one way to grab and check them."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot


def capture(
    qtbot: QtBot,
    widget: QWidget,
    name: str,
    *,
    settle_ms: int = 80,
    step: int = 7,
    same_size: bool = True,
) -> QImage:
    """Render ``widget``; check it is a real picture; with ``PHMS_SCREENSHOTS=DIR`` save it
    there as ``name.png`` (docs/screenshots).

    ``settle_ms``: time for layouts to settle; ``step``: pixel grid sampled for colours;
    ``same_size``: the picture must be exactly the widget's size.
    """
    qtbot.waitExposed(widget)
    qtbot.wait(settle_ms)  # let layouts settle
    image = widget.grab().toImage()
    assert not image.isNull()
    if same_size:
        assert (image.width(), image.height()) == (widget.width(), widget.height())
    colours = {
        image.pixel(x, y)
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    }
    assert len(colours) > 10, f"{name} looks empty"
    folder = os.environ.get("PHMS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        assert image.save(str(Path(folder) / f"{name}.png"))
    return image
