"""The chart's clinical part: the timeline of records, the latest values, the risk course.

Models hold the rows they are given and never query (Vorta's style); the chart
window loads the chart (``services.chart.load_chart``) and hands it over. The
timeline lists every assessment, followup, vasodilator challenge and 6-minute
walk, newest first, with who entered each record and who changed it last.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import format_day
from phms_client.services.chart import (
    Chart,
    Measured,
    RiskPoint,
    TimelineEntry,
)
from phms_client.ui.record_forms.common import (
    ROMAN,
    format_derived,
    show_number,
)
from phms_client.ui.table_view import RowsTableModel, setup_list_view

__all__ = [
    "ENTRY_ROLE",
    "KIND_TEXT",
    "RISK_COLOURS",
    "LatestValuesView",
    "RiskCourseModel",
    "TimelineModel",
    "TimelineView",
    "risk_text",
]

AnyIndex = QModelIndex | QPersistentModelIndex
ENTRY_ROLE: Final = Qt.ItemDataRole.UserRole + 1
KIND_TEXT: Final = {
    "assessment": "Assessment",
    "followup": "Followup",
    "vasodilator_challenge": "Vasodilator challenge",
    "six_minute_walk": "6-minute walk",
}
#: Background per risk stratum (light tints; text stays black).
RISK_COLOURS: Final = {
    1: QColor(200, 230, 201),
    2: QColor(255, 243, 196),
    3: QColor(255, 224, 178),
    4: QColor(255, 205, 210),
}


def risk_text(point: RiskPoint | None) -> str:
    if point is None or point.risk_stratum is None:
        return "not enough data"
    return f"{point.risk_label} ({point.risk_stratum})"


def _when(moment: dt.datetime) -> str:
    local = moment.astimezone()
    return f"{format_day(local.date())} {local:%H:%M}"


class TimelineModel(RowsTableModel):
    """Date | Record | Summary | Entered by | Last changed."""

    HEADERS: Final = ("Date", "Record", "Summary", "Entered by", "Last changed")

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._rows: list[TimelineEntry] = []

    def set_entries(self, entries: tuple[TimelineEntry, ...] | list[TimelineEntry]) -> None:
        self.beginResetModel()
        self._rows = list(entries)
        self.endResetModel()

    def entry(self, row: int) -> TimelineEntry:
        return self._rows[row]

    def row_of(self, kind: str, record_id: int) -> int | None:
        table = "assessment" if kind in ("assessment", "followup") else kind
        for n, e in enumerate(self._rows):
            e_table = "assessment" if e.kind in ("assessment", "followup") else e.kind
            if e_table == table and e.record_id == record_id:
                return n
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        e = self._rows[index.row()]
        if role == ENTRY_ROLE:
            return e
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return format_day(e.study_date)
            if column == 1:
                return KIND_TEXT[e.kind]
            if column == 2:
                return e.summary
            if column == 3:
                return e.created_by
            if e.record.stamp.version == 1:
                return ""
            return f"{e.updated_by}, {format_day(e.updated_at.astimezone().date())}"
        if role == Qt.ItemDataRole.ToolTipRole:
            stamp = e.record.stamp
            text = f"Entered by {stamp.created_by} on {_when(stamp.created_at)}"
            if stamp.version > 1:
                text += f"; last changed by {stamp.updated_by} on {_when(stamp.updated_at)}"
            return f"{e.summary}\n{text}. Double-click or Enter to open."
        if role == Qt.ItemDataRole.FontRole and column == 1 and e.kind == "assessment":
            font = QFont()
            font.setBold(True)
            return font
        return None


class RiskCourseModel(RowsTableModel):
    """The risk stratum per assessment over time (newest first): the course."""

    HEADERS: Final = ("Date", "Visit", "WHO-FC", "6MWD", "BNP / NT-proBNP", "Risk")

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._rows: list[RiskPoint] = []

    def set_points(self, points: tuple[RiskPoint, ...] | list[RiskPoint]) -> None:
        self.beginResetModel()
        self._rows = sorted(points, key=lambda p: (p.study_date, p.assessment_id), reverse=True)
        self.endResetModel()

    def point(self, row: int) -> RiskPoint:
        return self._rows[row]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        p = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return format_day(p.study_date)
            if column == 1:
                return KIND_TEXT[p.kind]
            if column == 2:
                return "—" if p.who_fc is None else f"{ROMAN[p.who_fc]} → {p.fc_grade}"
            if column == 3:
                if p.six_mwd_m is None:
                    return "—"
                return f"{show_number(p.six_mwd_m)} m → {p.walk_grade}"
            if column == 4:
                if p.peptide is None:
                    return "—"
                return f"{p.peptide} {show_number(p.peptide_value)} → {p.peptide_grade}"
            return risk_text(p)
        if role == Qt.ItemDataRole.ToolTipRole and column == 3 and p.walk_date is not None:
            return f"Walk of {format_day(p.walk_date)} (nearest within 14 days)"
        if role == Qt.ItemDataRole.ToolTipRole and column == 5 and p.mean_grade is not None:
            return f"Mean of {p.n_variables} grades: {show_number(p.mean_grade, 2)}"
        if role == Qt.ItemDataRole.BackgroundRole and column == 5 and p.risk_stratum:
            return QBrush(RISK_COLOURS[p.risk_stratum])
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and p.risk_stratum:
            return QBrush(QColor(0, 0, 0))
        return None


def _table(model: QAbstractTableModel, name: str, spoken: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setAccessibleName(spoken)
    view.setModel(model)
    setup_list_view(view)
    return view


class TimelineView(QWidget):
    """The timeline table; activating a row asks to open that record."""

    #: Carries the :class:`TimelineEntry` to open.
    open_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = TimelineModel(self)
        self.table = _table(self.model, "timeline", "Clinical records")
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.activated.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_entries(self, entries: tuple[TimelineEntry, ...]) -> None:
        keep = self.current()
        self.model.set_entries(entries)
        if keep is not None:
            row = self.model.row_of(keep.kind, keep.record_id)
            if row is not None:
                self.table.selectRow(row)

    def current(self) -> TimelineEntry | None:
        index = self.table.currentIndex()
        return self.model.entry(index.row()) if index.isValid() else None

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(self.model.entry(index.row()))


def risk_course_table(parent: QWidget | None = None) -> tuple[RiskCourseModel, QTableView]:
    model = RiskCourseModel(parent)
    view = _table(model, "risk_course", "Risk course")
    view.horizontalHeader().setStretchLastSection(True)
    return model, view


class LatestValuesView(QWidget):
    """The latest derived values: label | value | date of the record it comes from."""

    ROWS: Final = (
        ("risk", "Risk (COMPERA 2.0)"),
        ("ph_class", "Haemodynamics"),
        ("pvr_wu", "PVR"),
        ("cardiac_index_l_min_m2", "Cardiac index"),
        ("tpg_mmhg", "TPG"),
        ("dpg_mmhg", "DPG"),
        ("bsa_m2", "Body surface area"),
        ("walk", "6-minute walk"),
        ("vasoreactivity", "Vasoreactivity"),
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("latest_values")
        self.values: dict[str, QLabel] = {}
        self.dates: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        for row, (name, label) in enumerate(self.ROWS):
            value = QLabel("—")
            value.setObjectName(f"latest_{name}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            date = QLabel()
            date.setStyleSheet("color: palette(placeholder-text);")
            self.values[name], self.dates[name] = value, date
            grid.addWidget(QLabel(label + ":"), row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(date, row, 2, Qt.AlignmentFlag.AlignRight)
        grid.setColumnStretch(1, 1)

    def set(self, name: str, text: str | None, day: dt.date | None = None) -> None:
        self.values[name].setText(text or "—")
        self.dates[name].setText(format_day(day) if text and day else "")

    def text(self, name: str) -> str:
        """The value and, after it, the date it is from (as read aloud)."""
        date = self.dates[name].text()
        return f"{self.values[name].text()}  ·  {date}" if date else self.values[name].text()

    def set_chart(self, chart: Chart) -> None:
        latest = chart.latest
        risk = latest.risk
        if risk is None:
            self.set("risk", "not enough data yet")
            self.values["risk"].setStyleSheet("")
        else:
            self.set("risk", risk_text(risk), risk.study_date)
            colour = RISK_COLOURS[risk.risk_stratum or 1]
            self.values["risk"].setStyleSheet(
                f"background: {colour.name()}; color: black; padding: 2px 6px;"
                " border-radius: 3px; font-weight: bold;"
            )
        for name in ("pvr_wu", "cardiac_index_l_min_m2", "tpg_mmhg", "dpg_mmhg", "bsa_m2"):
            m: Measured | None = getattr(latest, name)
            self.set(
                name, None if m is None else _measured(name, m), None if m is None else m.study_date
            )
        pvr, dyn = latest.pvr_wu, latest.pvr_dyn_s_cm5
        if pvr is not None and dyn is not None:
            self.set(
                "pvr_wu",
                f"{_measured('pvr_wu', pvr)} ({_measured('pvr_dyn_s_cm5', dyn)})",
                pvr.study_date,
            )
        ph = latest.ph_class
        self.set(
            "ph_class", None if ph is None else str(ph.value), None if ph is None else ph.study_date
        )
        walk = latest.walk_distance_m
        if walk is None:
            self.set("walk", None)
        else:
            text = _measured("walk_distance_m", walk)
            percent = latest.walk_percent_predicted
            if percent is not None:
                text += f" ({_measured('walk_percent_predicted', percent)})"
            self.set("walk", text, walk.study_date)
        challenge = latest.vasoreactivity
        if challenge is None:
            self.set("vasoreactivity", None)
        else:
            result = challenge.result
            if challenge.positive_step_no is not None:
                result += f" (step {challenge.positive_step_no})"
            self.set("vasoreactivity", result, challenge.data.study_date)


def _measured(name: str, m: Measured) -> str:
    return format_derived(name, m.value)  # type: ignore[arg-type]
