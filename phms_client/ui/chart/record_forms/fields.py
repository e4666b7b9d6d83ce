"""Field widgets of the record forms: a number with its unit, checked against its
plausible range as it is typed (:class:`DecimalField`), and read-only rows of derived
values (:class:`DerivedRows`).

A value outside its plausible range (:mod:`phms_client.clinical.ranges`) is refused
in the form with the range named, the same sentence the database's refusal is shown
with.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.ranges import Range
from phms_client.services.input_rules import limits
from phms_client.ui.chart.record_forms.common import (
    ERROR_STYLE,
    HINT_STYLE,
    MAX_NUMBER_LENGTH,
    parse_decimal,
    plain_number,
)

__all__ = ["DecimalField", "DerivedRows"]


class DecimalField(QWidget):
    """A number with its unit, checked against its plausible range as it is typed.

    The range message appears as soon as the value cannot come back into range by
    typing more digits (above the maximum, or below a negative minimum), and in
    any case when the field is left or the form is saved.
    """

    changed = Signal()

    def __init__(
        self,
        limits: Range | None,
        *,
        label: str | None = None,
        unit: str | None = None,
        whole: bool = False,
        required: bool = False,
        compact: bool = False,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.limits = limits
        self.label = label or (limits.label if limits else "Value")
        self.unit = unit if unit is not None else (limits.unit if limits else "")
        self.whole = whole
        self.required = required
        self.edit = QLineEdit()
        self.edit.setMaxLength(MAX_NUMBER_LENGTH)
        # Read by screen readers (the form's label is the wrapper's buddy, not the edit's).
        self.edit.setAccessibleName(f"{self.label} ({self.unit})" if self.unit else self.label)
        self.edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.edit.textEdited.connect(self._edited)
        self.edit.editingFinished.connect(self.check)
        metrics = self.edit.fontMetrics()
        if compact:
            self.edit.setFixedWidth(metrics.horizontalAdvance("0000.0") + 14)
        else:
            self.edit.setMaximumWidth(metrics.horizontalAdvance("00000.00") + 16)
            self.edit.setMinimumWidth(metrics.horizontalAdvance("0000.0") + 12)
        self.unit_label = QLabel(self.unit)
        self.unit_label.setStyleSheet(HINT_STYLE)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setObjectName("field_error")
        self.error_label.hide()
        if limits is not None:
            self.edit.setToolTip(limits.message.replace(" must be ", " may be "))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.edit)
        if self.unit and not compact:
            row.addWidget(self.unit_label)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(row)
        if not compact:
            layout.addWidget(self.error_label)
        self.setSizePolicy(
            QSizePolicy.Policy.Fixed if compact else QSizePolicy.Policy.Preferred,
            QSizePolicy.Policy.Fixed,
        )

    # -- values

    def text(self) -> str:
        return self.edit.text()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self._edited()

    def raw(self) -> Decimal | None:
        """The number typed, in range or not (None: empty or not a number)."""
        return parse_decimal(self.edit.text(), whole=self.whole)

    def value(self) -> Decimal | None:
        """The number typed when it is acceptable; None otherwise (or when empty)."""
        number = self.raw()
        if number is None or self.problem() is not None:
            return None
        return number

    def set_value(self, value: Decimal | int | None) -> None:
        self.set_text("" if value is None else plain_number(Decimal(value)))

    def problem(self) -> str | None:
        """What is wrong with the contents, in words; None when acceptable."""
        text = self.edit.text().strip()
        if not text:
            return f"Enter the {self.label[0].lower() + self.label[1:]}." if self.required else None
        number = parse_decimal(text, whole=self.whole)
        if number is None:
            kind = "a whole number" if self.whole else "a number"
            return f"{self.label}: “{text}” is not {kind}."
        if self.limits is not None and not self.limits.contains(number):
            return self.limits.message + "."
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > limits.MAX_DECIMALS:
            return f"{self.label}: at most {limits.MAX_DECIMALS} decimal places."
        return None

    def _final_problem(self) -> bool:
        """True when typing more digits cannot bring the value back into range."""
        number = self.raw()
        if number is None or self.limits is None or self.limits.contains(number):
            return False
        if number >= 0:
            return number > self.limits.maximum
        return number < self.limits.minimum

    # -- showing problems

    def check(self) -> str | None:
        """Show (or clear) the problem; returns it."""
        problem = self.problem()
        self.show_problem(problem)
        return problem

    def show_problem(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text) and self.error_label.parent() is self)
        self.edit.setStyleSheet("border: 1px solid #b3261e;" if text else "")
        self.edit.setToolTip(
            text
            if text
            else (self.limits.message.replace(" must be ", " may be ") if self.limits else "")
        )

    def shown_problem(self) -> str:
        return self.error_label.text()

    def _edited(self, *_: Any) -> None:
        problem = self.problem()
        if problem is None:
            self.show_problem(None)
        elif self.shown_problem() or self._final_problem():
            self.show_problem(problem)
        self.changed.emit()

    def set_read_only(self, on: bool) -> None:
        self.edit.setReadOnly(on)


class DerivedRows(QWidget):
    """Read-only rows of derived values, each with an object name for tests and help."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.values: dict[str, QLabel] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for name, label in rows:
            value = QLabel("—")
            value.setObjectName(f"derived_{name}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.values[name] = value
            form.addRow(label + ":", value)

    def set(self, name: str, text: str | None) -> None:
        self.values[name].setText(text or "—")

    def text(self, name: str) -> str:
        return self.values[name].text()
