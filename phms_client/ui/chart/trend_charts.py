"""Trend charts for the patient chart: 6MWD, natriuretic peptides, WHO-FC, mPAP, PVR, risk.

``TrendCharts.set_chart(chart)`` takes the frozen :class:`~phms_client.services.chart.Chart`
the chart window already loaded; nothing here queries. Dates are on the x axis
(``pyqtgraph.DateAxisItem``); dashed lines mark the COMPERA 2.0 cut-offs (6MWD
440 / 165 m, NT-proBNP 300 / 1100 pg/mL, BNP 50 / 800 pg/mL) and the PH
definition (mPAP 20 mmHg, PVR 2 WU). Peptides use a logarithmic axis (they span
two orders of magnitude).

Plotting is pyqtgraph: maintained, works with PySide6-Essentials, fast, and has
a date axis; Qt's QtCharts would need the much larger PySide6-Addons.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QShowEvent
from PySide6.QtWidgets import QGridLayout, QWidget

from phms_client.services.chart import Chart, course_of

__all__ = ["TrendCharts", "TrendSeries", "month_ticks", "trend_series", "x_margin", "y_range"]

Point = tuple[dt.date, float]

RISK_LABELS: Final = {1: "low", 2: "int.-low", 3: "int.-high", 4: "high"}
#: Where a stratum at diagnosis sits on the risk chart's axis: intermediate between
#: intermediate-low and intermediate-high (the four strata split it).
DIAGNOSIS_Y: Final = {1: 1.0, 2: 2.5, 3: 4.0}
DIAGNOSIS_TEXT: Final = {1: "low", 2: "intermediate", 3: "high"}
_DIAGNOSIS_STRATUM: Final = {y: stratum for stratum, y in DIAGNOSIS_Y.items()}
TREND_MARK: Final = {"escalation": "↑ ", "de-escalation": "↓ ", "switch": "⇄ "}
SHORT_LEVEL: Final = {0: "none", 1: "mono", 2: "double", 3: "triple"}
GREEN: Final = "#2e7d32"
ROMAN: Final = {1: "I", 2: "II", 3: "III", 4: "IV"}
BLUE: Final = "#1f77b4"
ORANGE: Final = "#d9661f"
GREY: Final = "#8a8a8a"
#: Plain labels on the peptides' log axis (pyqtgraph would write 2·10³ and crowd them).
PEPTIDE_TICKS: Final = (10, 30, 100, 200, 300, 500, 1000, 2000, 5000, 10000, 30000, 100000)
#: The least y span each chart shows (peptides in decades of the log axis), so one
#: measurement, or a flat course, is not drawn against a meaningless 53.6–54.4 scale.
MIN_SPAN: Final = {"walk": 100.0, "peptide": 0.6, "mpap": 10.0, "pvr": 2.0}
#: Up to this many days the x axis names months (pyqtgraph would often label just a year).
MONTH_TICKS_UP_TO_DAYS: Final = 2 * 366
#: Room right of each plot for the last date label (half a label overhangs its tick).
RIGHT_MARGIN: Final = 16
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class TrendSeries:
    """What the charts show, oldest first (also handy for tests)."""

    walk_m: tuple[Point, ...] = ()
    nt_probnp: tuple[Point, ...] = ()
    bnp: tuple[Point, ...] = ()
    who_fc: tuple[Point, ...] = ()
    mpap: tuple[Point, ...] = ()
    pvr: tuple[Point, ...] = ()
    #: Four strata at follow-up (1–4).
    risk: tuple[Point, ...] = ()
    #: Three strata at diagnosis, placed on the same axis: low 1, intermediate 2.5, high 4.
    risk_at_diagnosis: tuple[Point, ...] = ()
    #: Days the PAH therapy changed, with a short label ("↑ double").
    therapy_changes: tuple[tuple[dt.date, str], ...] = ()
    dates: tuple[dt.date, ...] = field(default=())


def trend_series(chart: Chart) -> TrendSeries:
    """The chart's course as the charts draw it; empty while a long chart's whole course
    is not loaded yet (``services.chart.course_of``)."""
    course = course_of(chart)
    if course is None:
        return TrendSeries()
    assessments = course.assessments  # oldest first
    walks = course.walks
    risk_course = course.risk_course

    def points(values: Sequence[tuple[dt.date, object]]) -> tuple[Point, ...]:
        return tuple((d, float(v)) for d, v in values if v is not None)  # type: ignore[arg-type]

    series = TrendSeries(
        walk_m=points([(w.study_date, w.distance_m) for w in walks]),
        nt_probnp=points([(a.study_date, a.nt_probnp_pg_ml) for a in assessments]),
        bnp=points([(a.study_date, a.bnp_pg_ml) for a in assessments]),
        who_fc=points([(a.study_date, a.who_fc) for a in assessments]),
        mpap=points([(a.study_date, a.mpap_mmhg) for a in assessments]),
        pvr=points([(a.study_date, a.pvr_wu) for a in assessments]),
        risk=points([(r.study_date, r.stratum) for r in risk_course if not r.at_diagnosis]),
        risk_at_diagnosis=points(
            [
                (r.study_date, DIAGNOSIS_Y[r.stratum])
                for r in risk_course
                if r.at_diagnosis and r.stratum is not None
            ]
        ),
        therapy_changes=tuple(
            (c.day, f"{TREND_MARK[c.direction]}{SHORT_LEVEL.get(c.after.n_classes, 'combination')}")
            for c in chart.therapy_changes
        ),
    )
    every = sorted(
        {
            d
            for s in (series.walk_m, series.nt_probnp, series.bnp, series.who_fc, series.mpap)
            for d, _ in s
        }
        | {d for d, _ in series.pvr + series.risk + series.risk_at_diagnosis}
    )
    return TrendSeries(**{**series.__dict__, "dates": tuple(every)})


def _stamp(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


def x_margin(first: dt.date, last: dt.date) -> float:
    """Seconds either side of the dates: 8 % of the course, at least 30 days, so the
    first and last points (and their symbols) sit inside the plot, not on its edge."""
    return max(30 * 86400.0, (_stamp(last) - _stamp(first)) * 0.08)


def y_range(values: Sequence[float], min_span: float, log: bool = False) -> tuple[float, float]:
    """The y range for ``values``: at least ``min_span`` (and ±10 % of a single value on a
    linear axis) centred on them, plus 10 % padding; log10 units when ``log``."""
    ys = [math.log10(v) for v in values if v > 0] if log else list(values)
    if not ys:
        return (0.0, 1.0)
    low, high = min(ys), max(ys)
    middle = (low + high) / 2
    span = max(high - low, min_span, 0.0 if log else 0.2 * abs(middle))
    if span > high - low:
        low, high = middle - span / 2, middle + span / 2
    pad = span * 0.1
    return (low - pad, high + pad)


def month_ticks(start: float, end: float) -> list[tuple[float, str]] | None:
    """Month ticks between two timestamps (``Nov 2025``, ``Feb 2026``, ``May`` …), every
    1, 2, 3 or 6 months so there are at most 6; None for longer spans (years suffice)."""
    if end - start > MONTH_TICKS_UP_TO_DAYS * 86400.0:
        return None
    first = dt.datetime.fromtimestamp(start, dt.UTC)
    last = dt.datetime.fromtimestamp(end, dt.UTC)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    step = next((s for s in (1, 2, 3, 6) if months / s <= 6), 12)
    ticks: list[tuple[float, str]] = []
    year, month = first.year, first.month
    shown_year: int | None = None
    while (year, month) <= (last.year, last.month):
        stamp = dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()
        if (month - 1) % step == 0 and start <= stamp <= end:
            label = MONTHS[month - 1]
            if year != shown_year:
                label, shown_year = f"{label} {year}", year
            ticks.append((stamp, label))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ticks


#: What an empty plot says.
NO_VALUES: Final = "No values recorded"


class TrendCharts(QWidget):
    """Six small charts in a grid; call :meth:`set_chart` whenever the chart reloads.

    The plots are made when the widget is first shown: six pyqtgraph plots took
    250 ms, most of the time a chart window took to open, for a tab most openings
    never look at. Until then :meth:`set_chart` only keeps the series.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series = TrendSeries()
        self._empty_text = NO_VALUES
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.setMinimumSize(560, 420)

    def showEvent(self, event: QShowEvent) -> None:
        if not self.plots:
            self._make_plots()
            self._draw(self._empty_text)
            # Shown and laid out with this widget, not a turn of the event loop later
            # (children added now would be shown by their layout only then).
            for plot in self.plots.values():
                plot.show()
            self.layout().activate()
        super().showEvent(event)

    def _make_plots(self) -> None:
        layout = self.layout()
        assert isinstance(layout, QGridLayout)
        specs = [
            ("walk", "6-minute walk distance", "m"),
            ("peptide", "NT-proBNP / BNP", "pg/mL"),
            ("who_fc", "WHO functional class", ""),
            ("mpap", "mPAP", "mmHg"),
            ("pvr", "PVR", "WU"),
            ("risk", "Risk: ★ at diagnosis · ● follow-up", ""),
        ]
        for i, (key, title, unit) in enumerate(specs):
            plot = self._make_plot(title, unit)
            self.plots[key] = plot
            layout.addWidget(plot, i // 2, i % 2)
        self._set_ticks(self.plots["who_fc"], ROMAN, (0.6, 4.4))
        self._set_ticks(self.plots["risk"], RISK_LABELS, (0.6, 4.4))
        # Room for "int.-high": pyqtgraph sizes the axis by the labels it drew first and
        # drops those that do not fit.
        self.plots["risk"].getPlotItem().getAxis("left").setWidth(56)
        self.plots["peptide"].setLogMode(x=False, y=True)
        self.plots["peptide"].getPlotItem().getAxis("left").setTicks(
            [[(math.log10(v), f"{v:,}".replace(",", " ")) for v in PEPTIDE_TICKS], []]
        )

    # ------------------------------------------------------------------ public

    def set_chart(self, chart: Chart) -> None:
        """Draw the chart's course, or say it is on its way (a long chart's whole course
        comes with a statement of its own when these charts are first looked at)."""
        if course_of(chart) is None:
            self.set_waiting()
        else:
            self.set_series(trend_series(chart))

    def set_waiting(self, text: str = "Loading the whole course…") -> None:
        self.series = TrendSeries()
        self._draw(empty=text)

    def set_series(self, series: TrendSeries) -> None:
        self.series = series
        self._draw()

    # --------------------------------------------------------------- building

    def _make_plot(self, title: str, unit: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w", axisItems={"bottom": pg.DateAxisItem()})
        plot.setMinimumHeight(130)
        item = plot.getPlotItem()
        item.setTitle(f"<span style='color:#1f3b57;font-size:10pt'><b>{title}</b></span>")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        item.hideButtons()
        # pyqtgraph lays the plot out to the widget's very edge: the right column's
        # charts ran into the window's edge and a last date label near it was cut off.
        # A closed frame and room on the right keep every chart whole.
        item.layout.setContentsMargins(2, 2, RIGHT_MARGIN, 2)
        item.showAxis("right")
        item.getAxis("right").setStyle(showValues=False, tickLength=0)
        item.getAxis("right").setGrid(False)  # the left axis draws the grid
        item.getAxis("right").setTicks([[], []])
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        for name in ("left", "bottom", "right"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen("#666666"))
            axis.setTextPen(pg.mkPen("#333333"))
            axis.setStyle(tickFont=font)
        if unit:
            item.setLabel("left", unit, color="#333333")
        plot.setMouseEnabled(x=False, y=False)
        return plot

    @staticmethod
    def _set_ticks(
        plot: pg.PlotWidget, labels: dict[int, str], y_range: tuple[float, float]
    ) -> None:
        item = plot.getPlotItem()
        item.getAxis("left").setTicks([[(float(k), v) for k, v in labels.items()]])
        item.setYRange(*y_range, padding=0)

    # ---------------------------------------------------------------- drawing

    def _line(self, plot: pg.PlotWidget, points: Sequence[Point], colour: str, name: str) -> None:
        if not points:
            return
        x = [_stamp(d) for d, _ in points]
        y = [v for _, v in points]
        plot.plot(
            x,
            y,
            pen=pg.mkPen(colour, width=2),
            symbol="o",
            symbolSize=7,
            symbolBrush=colour,
            symbolPen=pg.mkPen("w"),
            name=name,
        )

    def _cut_off(self, plot: pg.PlotWidget, value: float, log: bool = False) -> None:
        pos = math.log10(value) if log else value
        line = pg.InfiniteLine(
            pos=pos, angle=0, pen=pg.mkPen(GREY, width=1, style=Qt.PenStyle.DashLine)
        )
        plot.addItem(line, ignoreBounds=True)

    def _therapy_mark(self, plot: pg.PlotWidget, day: dt.date, text: str) -> None:
        """A vertical line the day the PAH therapy changed, labelled at the top."""
        line = pg.InfiniteLine(
            pos=_stamp(day),
            angle=90,
            pen=pg.mkPen(GREEN, width=1, style=Qt.PenStyle.DotLine),
            label=text,
            labelOpts={"position": 0.93, "color": GREEN, "anchors": [(0, 0.5), (0, 0.5)]},
        )
        plot.addItem(line, ignoreBounds=True)

    def _empty(self, plot: pg.PlotWidget, text: str = NO_VALUES) -> None:
        label = pg.TextItem(text, color=QColor(GREY), anchor=(0.5, 0.5))
        plot.addItem(label)
        label.setPos(0.5, 0.5)
        plot.getPlotItem().getViewBox().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        plot.getPlotItem().getAxis("bottom").setStyle(showValues=False)

    def _draw(self, empty: str = NO_VALUES) -> None:
        self._empty_text = empty
        if not self.plots:
            return  # drawn when first shown
        s = self.series
        for plot in self.plots.values():
            plot.clear()
            item = plot.getPlotItem()
            if item.legend is not None:
                item.legend.scene().removeItem(item.legend)
                item.legend = None
            item.getAxis("bottom").setStyle(showValues=True)
            item.enableAutoRange()
        dates = s.dates
        x_range = None
        ticks = None
        if dates:
            margin = x_margin(dates[0], dates[-1])
            x_range = (_stamp(dates[0]) - margin, _stamp(dates[-1]) + margin)
            ticks = month_ticks(*x_range)
        for plot in self.plots.values():
            plot.getPlotItem().getAxis("bottom").setTicks(None if ticks is None else [ticks])

        def finish(key: str, points: Sequence[Point], *lines: float, log: bool = False) -> None:
            plot = self.plots[key]
            if not points:
                self._empty(plot, empty)
                return
            for value in lines:
                self._cut_off(plot, value, log)
            if x_range is not None:
                plot.setXRange(*x_range, padding=0)
            if key in MIN_SPAN:
                values = [v for _, v in points]
                plot.setYRange(*y_range(values, MIN_SPAN[key], log), padding=0)

        self._line(self.plots["walk"], s.walk_m, BLUE, "6MWD")
        finish("walk", s.walk_m, 440, 165)

        peptide = self.plots["peptide"]
        if s.nt_probnp and s.bnp:
            peptide.addLegend(offset=(-5, 5), labelTextColor="#333333")
        self._line(peptide, s.nt_probnp, BLUE, "NT-proBNP")
        self._line(peptide, s.bnp, ORANGE, "BNP")
        cut_offs = (300.0, 1100.0) if s.nt_probnp else (50.0, 800.0)
        finish("peptide", s.nt_probnp + s.bnp, *cut_offs, log=True)

        self._line(self.plots["who_fc"], s.who_fc, BLUE, "WHO-FC")
        finish("who_fc", s.who_fc)
        self._line(self.plots["mpap"], s.mpap, BLUE, "mPAP")
        finish("mpap", s.mpap, 20)
        self._line(self.plots["pvr"], s.pvr, BLUE, "PVR")
        finish("pvr", s.pvr, 2)
        risk = self.plots["risk"]
        self._line(risk, s.risk, ORANGE, "risk")
        for day, y in s.risk_at_diagnosis:
            risk.plot([_stamp(day)], [y], pen=None, symbol="star", symbolSize=14,
                      symbolBrush=ORANGE, symbolPen=pg.mkPen("#7a3a10"))  # fmt: skip
            label = pg.TextItem(
                f"at diagnosis: {DIAGNOSIS_TEXT[_DIAGNOSIS_STRATUM[y]]}",
                color=QColor("#7a3a10"),
                anchor=(0, 1.2) if y <= 1 else (0, -0.1),  # below the star, unless at low
                fill=pg.mkBrush(255, 255, 255, 210),
            )
            risk.addItem(label)
            label.setPos(_stamp(day), y)
        for day, text in s.therapy_changes:
            self._therapy_mark(risk, day, text)
        finish("risk", s.risk + s.risk_at_diagnosis)
        for key, points in (("who_fc", s.who_fc), ("risk", s.risk + s.risk_at_diagnosis)):
            if points:
                self.plots[key].setYRange(0.6, 4.4, padding=0)
