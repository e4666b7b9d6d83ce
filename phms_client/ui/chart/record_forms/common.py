"""Small things the record forms share: who may edit clinical records, the styles and
banners, dates as Qt dates, and numbers as read from a field and as shown (derived
values in forms and chart alike).

Numbers are typed as text and read as exact decimals (``,`` or ``.`` as the
decimal mark); see :class:`~phms_client.ui.chart.record_forms.fields.DecimalField`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QLabel

from phms_client.ui.shared.context import AppContext

__all__ = [
    "BANNER_STYLES",
    "CLINICAL_GROUPS",
    "DERIVED_FORMATS",
    "ERROR_STYLE",
    "HINT_STYLE",
    "MAX_NUMBER_LENGTH",
    "ROMAN",
    "banner",
    "can_edit_clinical",
    "format_derived",
    "from_qdate",
    "parse_decimal",
    "plain_number",
    "show_number",
    "to_qdate",
]

#: Staff groups that may read and write clinical records (the database's GRANTs).
CLINICAL_GROUPS: Final = frozenset({"clinician", "admin"})
ERROR_STYLE: Final = "color: #b3261e;"
HINT_STYLE: Final = "color: palette(placeholder-text);"
BANNER_STYLES: Final = {
    "error": "background: #fde7e9; color: #5f1412; border: 1px solid #e6a5a1;",
    "warning": "background: #fff4ce; color: #4d3b00; border: 1px solid #e6cf7d;",
    "info": "background: #e5f1fb; color: #0b3a5b; border: 1px solid #a7cbe8;",
}

_NUMBER: Final = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
_WHOLE: Final = re.compile(r"^\d+$")
#: Characters a number field takes (``-12345.123`` and room to spare).
MAX_NUMBER_LENGTH: Final = 16


def can_edit_clinical(ctx: AppContext) -> bool:
    return ctx.login.group in CLINICAL_GROUPS


def banner(kind: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(BANNER_STYLES[kind] + " padding: 6px; border-radius: 3px;")
    label.hide()
    return label


def to_qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def from_qdate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())


def parse_decimal(text: str, *, whole: bool = False) -> Decimal | None:
    """The exact number typed (``3,9`` is 3.9); None when it is not a plain number."""
    text = text.strip().replace("\N{MINUS SIGN}", "-")
    if not (_WHOLE if whole else _NUMBER).match(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def show_number(value: Decimal | float | int | None, places: int = 0, unit: str = "") -> str:
    """Rounded half up for display (as the chart does); ``—`` when missing."""
    if value is None:
        return "—"
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(rounded, "f").replace("-", "\N{MINUS SIGN}")
    return f"{text} {unit}" if unit else text


def plain_number(value: Decimal) -> str:
    """The number to put back into a field: a whole one without decimals (``100``, not
    ``100.0`` or ``1E+2``), any other as it is."""
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


#: How derived values are shown everywhere (forms and chart): places, unit.
DERIVED_FORMATS: Final = {
    "bsa_m2": (2, "m²"),
    "cardiac_index_l_min_m2": (2, "L/min/m²"),
    "tpg_mmhg": (None, "mmHg"),
    "dpg_mmhg": (None, "mmHg"),
    "pvr_wu": (2, "WU"),
    "pvr_dyn_s_cm5": (0, "dyn·s·cm⁻⁵"),
    "walk_distance_m": (0, "m"),
    "walk_percent_predicted": (0, "% predicted"),
    "predicted_m": (0, "m"),
}
ROMAN: Final = {1: "I", 2: "II", 3: "III", 4: "IV"}


def format_derived(name: str, value: Decimal | float | None) -> str:
    """A derived value as forms and chart show it. Differences of typed values (TPG,
    DPG) are exact and shown as they are (``39`` or ``12.5``); others are rounded."""
    places, unit = DERIVED_FORMATS[name]
    if places is None and value is not None:
        exact = value if isinstance(value, Decimal) else Decimal(repr(value))
        places = max(0, -exact.normalize().as_tuple().exponent)  # type: ignore[operator]
    return show_number(value, places or 0, unit)
