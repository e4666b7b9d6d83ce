"""Trend charts from a real chart: the series, the dates, and a picture that is not empty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.services import chart as chart_service
from phms_client.ui.trend_charts import TrendCharts, TrendSeries, trend_series
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
    assert [v for _, v in series.risk] == [3, 3, 2, 1, 1, 1]
    days = [d for d, _ in series.walk_m]
    assert days == sorted(days) and series.dates[0] == days[0]


def test_charts_render(qtbot: QtBot, charts: dict[str, object]) -> None:
    widget = TrendCharts()
    qtbot.addWidget(widget)
    chart = charts["story"]
    assert isinstance(chart, chart_service.Chart)
    widget.set_chart(chart)
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
    widget = TrendCharts()
    qtbot.addWidget(widget)
    chart = charts["empty"]
    assert isinstance(chart, chart_service.Chart)
    widget.set_chart(chart)
    assert widget.series == TrendSeries()
    for plot in widget.plots.values():
        assert plot.getPlotItem().listDataItems() == []
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    assert not widget.grab().toImage().isNull()
