"""Keyboard and screen-reader checks that hold for every form and dialog.

``problems(root)`` lists what a keyboard or screen-reader user would trip over in a
shown window: an input without an accessible name (a screen reader reads the
``accessibleName`` or the text of the label whose buddy it is), a label with a
mnemonic but no buddy (Alt+letter goes nowhere), a button without a mnemonic.
Cancel and Close buttons need no mnemonic: Escape is their key.
``tab_order(root)`` is the order Tab walks through the window's inputs and buttons.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTabBar,
    QTextEdit,
    QWidget,
)

INPUTS = (
    QLineEdit,
    QComboBox,
    QAbstractSpinBox,
    QPlainTextEdit,
    QTextEdit,
    QAbstractItemView,
    QCheckBox,
    QRadioButton,
)

ESCAPE_BUTTONS = ("Cancel", "Close")


def _shown(root: QWidget, widget: QWidget) -> bool:
    return widget.isVisibleTo(root) and widget.window() is root.window()


def _part_of_another_input(widget: QWidget) -> bool:
    """The line edit inside a combo box or date edit is named through its owner, a
    table's header and a cell being edited through the table (and its column)."""
    if isinstance(widget, QHeaderView):
        return True
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, (QComboBox, QAbstractSpinBox, QAbstractItemView)):
            return True
        parent = parent.parentWidget()
    return False


def accessible_name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name).strip() if interface is not None else ""


def problems(root: QWidget) -> list[str]:
    found: list[str] = []
    for widget in root.findChildren(QWidget):
        if not _shown(root, widget):
            continue
        where = f"{type(widget).__name__} {widget.objectName()!r}"
        if (
            isinstance(widget, INPUTS)
            and not _part_of_another_input(widget)
            and not accessible_name(widget)
        ):
            found.append(f"{where} has no accessible name")
        if (
            isinstance(widget, QLabel)
            and "&" in widget.text().replace("&&", "")
            and widget.textFormat() != Qt.TextFormat.RichText
            and widget.buddy() is None
        ):
            found.append(f"label {widget.text()!r} has a mnemonic but no buddy")
        if (
            isinstance(widget, QPushButton)
            and widget.text()
            and "&" not in widget.text().replace("&&", "")
            and widget.text() not in ESCAPE_BUTTONS
        ):
            found.append(f"button {widget.text()!r} has no mnemonic")
    return found


def tab_order(root: QWidget) -> list[QWidget]:
    """The inputs and buttons Tab reaches, in order, starting from the first."""
    order: list[QWidget] = []
    start = root
    widget = root.nextInFocusChain()
    while widget is not start and widget is not None:
        if (
            root.isAncestorOf(widget)
            and widget.isVisible()
            and widget.isEnabled()
            and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            and (isinstance(widget, (*INPUTS, QAbstractButton)))
            and not _part_of_another_input(widget)
        ):
            order.append(widget)
        widget = widget.nextInFocusChain()
    return order


def out_of_reading_order(root: QWidget, order: list[QWidget], slack: int = 8) -> list[str]:
    """Pairs where Tab jumps back up, or to the left within a row (rows within ``slack``
    pixels): in a one-column form or a dialog, Tab reads as the eye does."""
    found: list[str] = []
    for a, b in itertools.pairwise(order):
        pa, pb = a.mapTo(root, a.rect().topLeft()), b.mapTo(root, b.rect().topLeft())
        if pb.y() < pa.y() - slack or (abs(pb.y() - pa.y()) <= slack and pb.x() < pa.x()):
            found.append(f"{_describe(a)} -> {_describe(b)}")
    return found


def _describe(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, (QAbstractButton, QLineEdit)) else ""
    return f"{type(widget).__name__} {widget.objectName() or accessible_name(widget) or text!r}"


def mnemonic(text: str) -> str:
    """The Alt+letter of a text ("" when it has none)."""
    plain = text.replace("&&", "")
    at = plain.find("&")
    return plain[at + 1].lower() if 0 <= at < len(plain) - 1 else ""


def clashes(window: QWidget) -> dict[str, list[str]]:
    """Alt+letters used twice in a window (its menu bar's menus, buttons, tabs, labels)."""
    used: dict[str, list[str]] = {}
    texts: list[str] = []
    bar = window.findChild(QMenuBar)
    if bar is not None:
        texts += [a.text() for a in bar.actions() if a.isVisible()]
    for widget in window.findChildren(QWidget):
        if not _shown(window, widget):
            continue
        if isinstance(widget, QTabBar):
            texts += [widget.tabText(i) for i in range(widget.count())]
        elif isinstance(widget, QAbstractButton) or (
            isinstance(widget, QLabel) and widget.buddy() is not None
        ):
            texts.append(widget.text())
    for text in texts:
        letter = mnemonic(text)
        if letter:
            used.setdefault(letter, []).append(text)
    return {k: v for k, v in used.items() if len(v) > 1}


def fields_without_mnemonic(root: QWidget) -> list[str]:
    """Labels of inputs with no Alt+letter (for dialogs small enough to give every
    field one; the long clinical forms are walked with Tab instead)."""
    found: list[str] = []
    for label in root.findChildren(QLabel):
        buddy = label.buddy()
        if (
            _shown(root, label)
            and buddy is not None
            and isinstance(buddy, INPUTS)
            and label.text().strip()
            and not mnemonic(label.text())
        ):
            found.append(label.text())
    return found
