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
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGridLayout, QWidget

from phms_client.services.chart import AssessmentRecord, Chart, WalkRecord

__all__ = ["TrendCharts", "TrendSeries", "trend_series"]

Point = tuple[dt.date, float]

RISK_LABELS: Final = {1: "low", 2: "int.-low", 3: "int.-high", 4: "high"}
ROMAN: Final = {1: "I", 2: "II", 3: "III", 4: "IV"}
BLUE: Final = "#1f77b4"
ORANGE: Final = "#d9661f"
GREY: Final = "#8a8a8a"
#: Plain labels on the peptides' log axis (pyqtgraph would write 2·10³ and crowd them).
PEPTIDE_TICKS: Final = (10, 30, 100, 200, 300, 500, 1000, 2000, 5000, 10000, 30000, 100000)


@dataclass(frozen=True)
class TrendSeries:
    """What the charts show, oldest first (also handy for tests)."""

    walk_m: tuple[Point, ...] = ()
    nt_probnp: tuple[Point, ...] = ()
    bnp: tuple[Point, ...] = ()
    who_fc: tuple[Point, ...] = ()
    mpap: tuple[Point, ...] = ()
    pvr: tuple[Point, ...] = ()
    risk: tuple[Point, ...] = ()
    dates: tuple[dt.date, ...] = field(default=())


def trend_series(chart: Chart) -> TrendSeries:
    assessments = sorted(
        (e.record for e in chart.timeline if isinstance(e.record, AssessmentRecord)),
        key=lambda a: (a.data.study_date, a.id),
    )
    walks = sorted(
        (e.record for e in chart.timeline if isinstance(e.record, WalkRecord)),
        key=lambda w: (w.data.study_date, w.id),
    )

    def points(values: Sequence[tuple[dt.date, object]]) -> tuple[Point, ...]:
        return tuple((d, float(v)) for d, v in values if v is not None)  # type: ignore[arg-type]

    series = TrendSeries(
        walk_m=points([(w.data.study_date, w.data.distance_m) for w in walks]),
        nt_probnp=points([(a.data.study_date, a.data.nt_probnp_pg_ml) for a in assessments]),
        bnp=points([(a.data.study_date, a.data.bnp_pg_ml) for a in assessments]),
        who_fc=points([(a.data.study_date, a.data.who_fc) for a in assessments]),
        mpap=points([(a.data.study_date, a.data.mpap_mmhg) for a in assessments]),
        pvr=points([(a.data.study_date, a.derived.pvr_wu) for a in assessments]),
        risk=points([(r.study_date, r.risk_stratum) for r in chart.risk_course]),
    )
    every = sorted(
        {
            d
            for s in (series.walk_m, series.nt_probnp, series.bnp, series.who_fc, series.mpap)
            for d, _ in s
        }
        | {d for d, _ in series.pvr + series.risk}
    )
    return TrendSeries(**{**series.__dict__, "dates": tuple(every)})


def _stamp(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


class TrendCharts(QWidget):
    """Six small charts in a grid; call :meth:`set_chart` whenever the chart reloads."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series = TrendSeries()
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.plots: dict[str, pg.PlotWidget] = {}
        specs = [
            ("walk", "6-minute walk distance", "m"),
            ("peptide", "NT-proBNP / BNP", "pg/mL"),
            ("who_fc", "WHO functional class", ""),
            ("mpap", "mPAP", "mmHg"),
            ("pvr", "PVR", "WU"),
            ("risk", "Risk stratum (COMPERA 2.0)", ""),
        ]
        for i, (key, title, unit) in enumerate(specs):
            plot = self._make_plot(title, unit)
            self.plots[key] = plot
            layout.addWidget(plot, i // 2, i % 2)
        self._set_ticks(self.plots["who_fc"], ROMAN, (0.6, 4.4))
        self._set_ticks(self.plots["risk"], RISK_LABELS, (0.6, 4.4))
        self.plots["peptide"].setLogMode(x=False, y=True)
        self.plots["peptide"].getPlotItem().getAxis("left").setTicks(
            [[(math.log10(v), f"{v:,}".replace(",", " ")) for v in PEPTIDE_TICKS], []]
        )
        self.setMinimumSize(560, 420)
        self._draw()

    # ------------------------------------------------------------------ public

    def set_chart(self, chart: Chart) -> None:
        self.set_series(trend_series(chart))

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
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        for name in ("left", "bottom"):
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

    def _empty(self, plot: pg.PlotWidget, text: str = "No values recorded") -> None:
        label = pg.TextItem(text, color=QColor(GREY), anchor=(0.5, 0.5))
        plot.addItem(label)
        label.setPos(0.5, 0.5)
        plot.getPlotItem().getViewBox().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        plot.getPlotItem().getAxis("bottom").setStyle(showValues=False)

    def _draw(self) -> None:
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
        if dates:
            first, last = _stamp(dates[0]), _stamp(dates[-1])
            margin = max(15 * 86400.0, (last - first) * 0.05)
            x_range = (first - margin, last + margin)

        def finish(key: str, points: Sequence[Point], *lines: float, log: bool = False) -> None:
            plot = self.plots[key]
            if not points:
                self._empty(plot)
                return
            for value in lines:
                self._cut_off(plot, value, log)
            if x_range is not None:
                plot.setXRange(*x_range, padding=0)

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
        self._line(self.plots["risk"], s.risk, ORANGE, "risk")
        finish("risk", s.risk)
        for key, points in (("who_fc", s.who_fc), ("risk", s.risk)):
            if points:
                self.plots[key].setYRange(0.6, 4.4, padding=0)
