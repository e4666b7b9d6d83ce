"""Trend charts from a real chart: the series, the dates, and a picture that is not empty."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.services import chart as chart_service
from phms_client.ui.chart.trend_charts import (
    DIAGNOSIS_Y,
    MIN_SPAN,
    RIGHT_MARGIN,
    TrendCharts,
    TrendSeries,
    month_ticks,
    trend_series,
    y_range,
)
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase
from tests.ui.reports_env import capture, story_patient


@pytest.fixture(scope="module")
def charts(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[dict[str, object]]:
    with migrated_database(pg_server) as database:
        engine = database.engine_for("t_clinician")
        with engine.begin() as conn:
            story = story_patient(conn)
            empty = int(add_person(conn, family_name="Nothing", given_name="Yet")["id"])
        with Session(engine) as s, s.begin():
            loaded = {
                "story": chart_service.load_chart(s, story),
                "empty": chart_service.load_chart(s, empty),
            }
        engine.dispose()
        yield loaded


def test_series_follow_the_chart(charts: dict[str, object]) -> None:
    chart = charts["story"]
    assert isinstance(chart, chart_service.Chart)
    series = trend_series(chart)
    assert [v for _, v in series.walk_m] == [290, 345, 410, 450, 472, 495]
    assert [v for _, v in series.who_fc] == [3, 3, 2, 2, 2, 1]
    assert [v for _, v in series.nt_probnp] == [2400, 1150, 620, 380, 260, 190]
    assert series.bnp == ()
    assert [v for _, v in series.mpap] == [54, 41, 33]
    assert [round(v, 2) for _, v in series.pvr] == [13.24, 6.74, 4.62]  # (mPAP-PAWP)/CO
    # The first assessment is on the three strata at diagnosis (a star), the followups on
    # the four strata (the line).
    assert [v for _, v in series.risk] == [3, 2, 1, 1, 1]
    first = chart.risk_course[0]
    assert first.at_diagnosis and first.stratum is not None
    assert series.risk_at_diagnosis == ((first.study_date, DIAGNOSIS_Y[first.stratum]),)
    days = [d for d, _ in series.walk_m]
    assert days == sorted(days) and series.dates[0] == days[0]


def _charts_of(qtbot: QtBot, charts: dict[str, object], name: str) -> TrendCharts:
    """A TrendCharts widget given the chart ``name`` of the fixture."""
    widget = TrendCharts()
    qtbot.addWidget(widget)
    chart = charts[name]
    assert isinstance(chart, chart_service.Chart)
    widget.set_chart(chart)
    return widget


def test_charts_render(qtbot: QtBot, charts: dict[str, object]) -> None:
    widget = _charts_of(qtbot, charts, "story")
    widget.resize(900, 640)
    widget.show()
    capture(qtbot, widget, "trend-charts")
    walk_items = widget.plots["walk"].getPlotItem().listDataItems()
    assert len(walk_items) == 1
    x, y = walk_items[0].getData()
    assert list(y) == [290, 345, 410, 450, 472, 495]
    assert x[0] < x[-1]  # dates, oldest first
    peptide_range = widget.plots["peptide"].getPlotItem().getViewBox().viewRange()[1]
    assert peptide_range[0] < 2.3 < 3.4 < peptide_range[1]  # log10 of 190 and 2400


def test_a_new_patient_shows_empty_charts(qtbot: QtBot, charts: dict[str, object]) -> None:
    widget = _charts_of(qtbot, charts, "empty")
    assert widget.series == TrendSeries()
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    assert len(widget.plots) == 6
    for plot in widget.plots.values():
        assert plot.getPlotItem().listDataItems() == []
    assert not widget.grab().toImage().isNull()


def test_the_plots_are_made_when_first_shown(qtbot: QtBot, charts: dict[str, object]) -> None:
    """Opening a chart window does not pay for the Trends tab until it is looked at."""
    widget = _charts_of(qtbot, charts, "story")
    assert widget.plots == {}  # kept the series only
    widget.show()
    qtbot.waitExposed(widget)
    walk = widget.plots["walk"].getPlotItem().listDataItems()
    assert len(walk) == 1 and list(walk[0].getData()[1]) == [290, 345, 410, 450, 472, 495]


# --------------------------------------------------------------------------- axes

TODAY = dt.date(2026, 11, 24)


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def test_one_value_gets_a_sensible_range() -> None:
    low, high = y_range([43.0], MIN_SPAN["mpap"])
    assert low < 43.0 - 4 and high > 43.0 + 4  # not 42.6–43.4
    assert abs((low + high) / 2 - 43.0) < 1e-9
    low, high = y_range([13.24], MIN_SPAN["pvr"])
    assert high - low >= 0.2 * 13.24  # ±10 % of the value when that is more
    low, high = y_range([1840.0], MIN_SPAN["peptide"], log=True)
    assert high - low >= MIN_SPAN["peptide"] and low < math.log10(1840) < high
    low, high = y_range([290.0, 495.0], MIN_SPAN["walk"])  # a real course: padded only
    assert 250 < low < 290 and 495 < high < 540


def test_months_on_a_short_course_years_on_a_long_one() -> None:
    start, end = (
        dt.datetime(2025, 10, 10, tzinfo=dt.UTC).timestamp(),
        dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp(),
    )
    assert [label for _, label in month_ticks(start, end) or []] == [
        "Jan 2026",
        "Apr",
        "Jul",
        "Oct",
    ]
    few = month_ticks(start, dt.datetime(2026, 1, 20, tzinfo=dt.UTC).timestamp())
    assert [label for _, label in few or []] == ["Nov 2025", "Dec", "Jan 2026"]
    assert month_ticks(start, start + 3 * 366 * 86400.0) is None


def test_single_measurements_and_a_one_year_course(qtbot: QtBot) -> None:
    widget = TrendCharts()
    qtbot.addWidget(widget)
    widget.set_series(
        TrendSeries(
            walk_m=((ago(378), 296.0), (ago(198), 402.0), (ago(29), 468.0)),
            mpap=((ago(380), 43.0),),
            pvr=((ago(380), 13.24),),
            dates=(ago(380), ago(378), ago(198), ago(29)),
        )
    )
    widget.resize(660, 540)
    widget.show()
    qtbot.waitExposed(widget)
    (x0, x1), (y0, y1) = widget.plots["mpap"].getPlotItem().getViewBox().viewRange()
    assert y0 < 43.0 - 4 and y1 > 43.0 + 4
    # The last walk sits well inside the plot, not on its right edge.
    last = dt.datetime(ago(29).year, ago(29).month, ago(29).day, 12, tzinfo=dt.UTC).timestamp()
    assert x1 - last >= 30 * 86400.0 and (x1 - last) / (x1 - x0) > 0.05
    labels = [
        label for _, label in widget.plots["walk"].getPlotItem().getAxis("bottom")._tickLevels[0]
    ]
    assert labels == ["Jan 2026", "Apr", "Jul", "Oct"]
    capture(qtbot, widget, "trend-charts-single-values")


def test_no_chart_runs_into_the_right_edge(qtbot: QtBot, charts: dict[str, object]) -> None:
    """Each plot is framed on the right and leaves room there for the last date label
    (the right column's charts ran into the window's edge)."""
    widget = _charts_of(qtbot, charts, "story")
    widget.resize(760, 560)
    widget.show()
    qtbot.waitExposed(widget)
    for key, plot in widget.plots.items():
        item = plot.getPlotItem()
        assert item.getAxis("right").isVisible(), key  # the frame's right side
        view = item.getViewBox()
        right = plot.mapFromScene(view.mapRectToScene(view.boundingRect())).boundingRect().right()
        assert plot.width() - right >= RIGHT_MARGIN - 2, key  # (less the view's frame)
        bottom = item.getAxis("bottom")
        axis_right = plot.mapFromScene(bottom.mapRectToScene(bottom.boundingRect()))
        assert axis_right.boundingRect().right() <= plot.width(), key
