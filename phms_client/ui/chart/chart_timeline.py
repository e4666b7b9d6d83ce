"""The chart's clinical part: the timeline of records, the latest values, the risk course.

Models hold the rows they are given and never query (Vorta's style); the chart
window loads the chart (``services.chart.load_chart``) and hands it over. The
timeline lists every assessment, followup, vasodilator challenge and 6-minute
walk, newest first, with who entered each record and who changed it last; a long
chart's older records come page by page as the person scrolls or asks for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical.demographics import format_day
from phms_client.clinical.risk_diagnosis import VARIABLES
from phms_client.clinical.therapy import TherapyChange
from phms_client.services.chart import (
    Chart,
    Measured,
    RiskPoint,
    TimelineEntry,
)
from phms_client.services.chart_risk import DIAGNOSIS_SCALE
from phms_client.ui.chart.record_forms.common import (
    ROMAN,
    format_derived,
    show_number,
)
from phms_client.ui.shared.table_view import RowsTableModel, setup_list_view

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
#: The three strata at diagnosis: low, intermediate, high.
RISK3_COLOURS: Final = {1: RISK_COLOURS[1], 2: RISK_COLOURS[3], 3: RISK_COLOURS[4]}
SCALE_SHORT: Final = {True: "diagnosis · 3 strata", False: "follow-up · 4 strata"}
TREND_MARK: Final = {"escalation": "↑ ", "de-escalation": "↓ ", "switch": "⇄ "}


def risk_colour(point: RiskPoint) -> QColor | None:
    """The tint of the point's stratum on its own scale."""
    if point.stratum is None:
        return None
    return (RISK3_COLOURS if point.at_diagnosis else RISK_COLOURS)[point.stratum]


def risk_text(point: RiskPoint | None) -> str:
    """ "intermediate (2 of 3)" at diagnosis, "low (1 of 4)" at follow-up."""
    if point is None or point.stratum is None:
        return "not enough data"
    return f"{point.label} ({point.stratum} of {point.n_strata})"


def diagnosis_grades_text(point: RiskPoint) -> str:
    """Every graded variable of the three strata, one per line (a tooltip)."""
    dx = point.diagnosis
    if dx is None:
        return ""
    lines = [
        f"{VARIABLES[key]}: {grade}" for key, grade in dx.grades().items() if grade is not None
    ]
    mean = "" if dx.mean_grade is None else f", mean {show_number(dx.mean_grade, 2)}"
    return "\n".join([f"{DIAGNOSIS_SCALE}: {dx.n_variables} variables graded{mean}", *lines])


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

    def append_entries(self, entries: tuple[TimelineEntry, ...] | list[TimelineEntry]) -> None:
        """Older records at the end (a page loaded as the person scrolls)."""
        if not entries:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self._rows.extend(entries)
        self.endInsertRows()

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
    """The risk per assessment over time (newest first): the course.

    The first assessment is graded on the three strata at diagnosis, every later
    visit on the four strata at follow-up; the *Scale* column says which, and the
    grades shown are those of that scale. *PAH therapy* is the regimen on the day,
    marked ↑ (escalated), ↓ (de-escalated) or ⇄ (switched) since the visit before.
    """

    #: What matters first (scale, stratum, therapy); the grades after it, then the visit kind.
    HEADERS: Final = (
        "Date", "Scale", "Risk", "PAH therapy", "WHO-FC", "6MWD", "BNP / NT-proBNP", "Visit",
    )  # fmt: skip
    _DATE, _SCALE, _RISK, _THERAPY, _FC, _WALK, _PEPTIDE, _VISIT = range(8)

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._rows: list[RiskPoint] = []
        self._therapy: Mapping[int, tuple[str, tuple[TherapyChange, ...]]] = {}

    def set_points(
        self,
        points: tuple[RiskPoint, ...] | list[RiskPoint],
        therapy: Mapping[int, tuple[str, tuple[TherapyChange, ...]]] | None = None,
    ) -> None:
        self.beginResetModel()
        self._rows = sorted(points, key=lambda p: (p.study_date, p.assessment_id), reverse=True)
        self._therapy = therapy or {}
        self.endResetModel()

    def therapy_text(self, p: RiskPoint) -> str:
        regimen, since = self._therapy.get(p.assessment_id, ("—", ()))
        if not since:
            return regimen
        return TREND_MARK[since[-1].direction] + regimen

    def point(self, row: int) -> RiskPoint:
        return self._rows[row]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        p = self._rows[index.row()]
        column = index.column()
        dx = p.diagnosis if p.at_diagnosis else None
        grades = (
            (p.fc_grade, p.walk_grade, p.peptide_grade)
            if dx is None
            else (dx.fc_grade, dx.walk_grade, dx.peptide_grade)
        )
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(p, column, grades)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(p, column)
        colour = risk_colour(p)
        if role == Qt.ItemDataRole.BackgroundRole and column == self._RISK and colour is not None:
            return QBrush(colour)
        if role == Qt.ItemDataRole.ForegroundRole and column == self._RISK and colour is not None:
            return QBrush(QColor(0, 0, 0))
        return None

    def _text(self, p: RiskPoint, column: int, grades: tuple[int | None, ...]) -> str:
        if column == self._DATE:
            return format_day(p.study_date)
        if column == self._SCALE:
            return SCALE_SHORT[p.at_diagnosis]
        if column == self._RISK:
            return risk_text(p)
        if column == self._THERAPY:
            return self.therapy_text(p)
        if column == self._FC:
            return "—" if p.who_fc is None else f"{ROMAN[p.who_fc]} → {grades[0]}"
        if column == self._WALK:
            return "—" if p.six_mwd_m is None else f"{show_number(p.six_mwd_m)} m → {grades[1]}"
        if column == self._PEPTIDE:
            if p.peptide is None:
                return "—"
            return f"{p.peptide} {show_number(p.peptide_value)} → {grades[2]}"
        return KIND_TEXT[p.kind]

    def _tooltip(self, p: RiskPoint, column: int) -> str | None:
        if column == self._SCALE:
            return p.scale
        if column == self._WALK and p.walk_date is not None:
            return f"Walk of {format_day(p.walk_date)} (nearest within 14 days)"
        if column == self._RISK and p.at_diagnosis:
            return diagnosis_grades_text(p) or None
        if column == self._RISK and p.mean_grade is not None:
            return f"Mean of {p.n_variables} grades: {show_number(p.mean_grade, 2)}"
        if column == self._THERAPY:
            _, since = self._therapy.get(p.assessment_id, ("", ()))
            changes = [f"{format_day(c.day)}: {c.text}" for c in since]
            return "\n".join(["Changed since the visit before:", *changes]) if changes else None
        return None


def _table(model: QAbstractTableModel, name: str, spoken: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setAccessibleName(spoken)
    view.setModel(model)
    setup_list_view(view)
    return view


class TimelineView(QWidget):
    """The timeline table; activating a row asks to open that record.

    A long chart comes in pages: below the table *Show older records…* asks for the
    next one (``older_requested``), as does scrolling to the table's end.
    """

    #: Carries the :class:`TimelineEntry` to open.
    open_requested = Signal(object)
    #: The next page of older records is wanted.
    older_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = TimelineModel(self)
        self.table = _table(self.model, "timeline", "Clinical records")
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.activated.connect(self._activated)
        self.older_button = QPushButton()
        self.older_button.setObjectName("timeline_older")
        self.older_button.setAutoDefault(False)
        self.older_button.clicked.connect(self.older_requested)
        self.older_button.hide()
        self._older = 0
        self._loading = False
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.older_button, 0, Qt.AlignmentFlag.AlignLeft)

    def set_entries(self, entries: tuple[TimelineEntry, ...], older: int = 0) -> None:
        keep = self.current()
        self.model.set_entries(entries)
        if keep is not None:
            row = self.model.row_of(keep.kind, keep.record_id)
            if row is not None:
                self.table.selectRow(row)
        self.set_older(older)

    def append_entries(self, entries: tuple[TimelineEntry, ...], older: int) -> None:
        self.model.append_entries(entries)
        self.set_older(older)

    def set_older(self, older: int, *, loading: bool = False) -> None:
        """How many older records are not loaded yet, and whether a page is on its way."""
        self._older, self._loading = older, loading
        if loading:
            self.older_button.setText("Loading older records…")
        else:
            self.older_button.setText(f"Show &older records ({older} more)…")
        self.older_button.setEnabled(not loading)
        self.older_button.setVisible(older > 0)

    def _scrolled(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        if self._older and not self._loading and value >= bar.maximum() > 0:
            self.older_requested.emit()

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
        ("risk", "Risk"),
        ("pah_therapy", "PAH therapy"),
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
        # Which scale the risk is on, right under it: the two are never mistaken.
        self.scale_label = QLabel()
        self.scale_label.setObjectName("latest_risk_scale")
        self.scale_label.setStyleSheet("color: palette(placeholder-text);")
        row = 0
        for name, label in self.ROWS:
            value = QLabel("—")
            value.setObjectName(f"latest_{name}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            date = QLabel()
            date.setStyleSheet("color: palette(placeholder-text);")
            self.values[name], self.dates[name] = value, date
            grid.addWidget(QLabel(label + ":"), row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(date, row, 2, Qt.AlignmentFlag.AlignRight)
            row += 1
            if name == "risk":
                grid.addWidget(self.scale_label, row, 1, 1, 2)
                row += 1
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
        regimen = chart.pah_therapy
        self.set("pah_therapy", None if regimen is None else regimen.text, chart.as_of)
        if regimen is not None and regimen.medicines:
            self.values["pah_therapy"].setToolTip(", ".join(regimen.medicines))
        if risk is None:
            self.set("risk", "not enough data yet")
            self.values["risk"].setStyleSheet("")
            self.values["risk"].setToolTip("")
            self.scale_label.setText("")
        else:
            self.set("risk", risk_text(risk), risk.study_date)
            self.values["risk"].setToolTip(risk.scale)
            self.scale_label.setText(
                "at diagnosis (ESC/ERS 2022, 3 strata)"
                if risk.at_diagnosis
                else "at follow-up (COMPERA 2.0, 4 strata)"
            )
            colour = risk_colour(risk) or RISK_COLOURS[1]
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
