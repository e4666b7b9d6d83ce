"""The clinical part of a patient's chart, as the chart window embeds it.

Buttons to enter each kind of record for this patient; the latest derived values
and the risk stratum with its course over time (a table, and the trend charts);
the timeline of records (open one to see or correct it, with who entered and
changed it); the medications, allergies and secondary diseases panel.

A long chart opens with its first screen (the newest records, the latest values of
all of them); older records come a page at a time as the person scrolls the
timeline or asks for them, and the whole course (risk table, trend charts) when one
of those tabs is first looked at: each one statement.

Live: notifications about clinical rows are collected for a moment; if one names
a row shown here the chart reloads, otherwise one small query asks whose rows
they were (``services.chart_live``) and the chart reloads only for its own
patient. Every load is an audited chart access, so other patients' records never
cause one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.services import chart as chart_service
from phms_client.services import chart_live, chart_risk
from phms_client.services.chart import Chart, TimelineEntry
from phms_client.ui.chart.chart_timeline import (
    LatestValuesView,
    TimelineView,
    risk_course_table,
)
from phms_client.ui.chart.record_forms.chart_items_panel import ChartItemsPanel
from phms_client.ui.chart.record_forms.common import HINT_STYLE, can_edit_clinical
from phms_client.ui.chart.record_forms.launcher import RECORD_KINDS
from phms_client.ui.chart.trend_charts import TrendCharts
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.guard import while_alive

__all__ = ["LIVE_DELAY_MS", "ClinicalChartView"]

log = logging.getLogger(__name__)

#: How long notifications are collected before the chart asks whether to reload.
LIVE_DELAY_MS: Final = 250
_BUTTON_TEXT: Final = {
    "assessment": "New &assessment…",
    "followup": "New &followup…",
    "vasodilator_challenge": "New &vasodilator challenge…",
    "six_minute_walk": "New 6-minute &walk…",
}


class ClinicalChartView(QWidget):
    """Timeline, items, latest values and risk course of one patient."""

    #: Open this timeline entry in its form.
    open_requested = Signal(object)
    #: Enter a new record of this kind for this patient (and the panel's study date).
    new_requested = Signal(str)
    #: The chart was (re)loaded and shown; carries :class:`Chart`.
    chart_shown = Signal(object)

    def __init__(self, ctx: AppContext, patient_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("clinical_chart")
        self.ctx = ctx
        self.patient_id = patient_id
        self.chart: Chart | None = None
        self._editable = ctx.connection.online
        self._changes: list[Mapping[str, Any]] = []
        self._reload_wanted = False
        self._key = ("clinical_chart", id(self))
        self._older_key = ("clinical_chart_older", id(self))
        self._course_key = ("clinical_chart_course", id(self))
        self._older_loading = False
        self._course_loading = False
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DELAY_MS)
        self._live_timer.timeout.connect(self._consider_changes)
        self._build()
        ctx.live.changed.connect(self._on_live_change)
        self._listening = True
        self.set_editable(self._editable)

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        self.new_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        for kind in RECORD_KINDS:
            button = QPushButton(_BUTTON_TEXT[kind])
            button.setAutoDefault(False)
            button.setToolTip(RECORD_KINDS[kind][1].split(";")[0] + " for this patient")
            button.clicked.connect(lambda _=False, k=kind: self.new_requested.emit(k))
            self.new_buttons[kind] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.loaded_label = QLabel()
        self.loaded_label.setStyleSheet(HINT_STYLE)
        buttons.addWidget(self.loaded_label)

        # Left: where the patient stands now. Right: how they got there.
        self.latest = LatestValuesView()
        latest_box = QGroupBox("Latest values")
        QVBoxLayout(latest_box).addWidget(self.latest)
        self.items = ChartItemsPanel(self.ctx, self.patient_id, autoload=False)
        self.items.changed.connect(lambda _: self.schedule_reload())
        self.items.as_of_changed.connect(lambda _: self.reload())
        items_box = QGroupBox("Medications, allergies and secondary diseases")
        QVBoxLayout(items_box).addWidget(self.items)
        left = QWidget()
        left.setMinimumWidth(440)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(latest_box)
        left_layout.addWidget(items_box, 1)

        self.timeline = TimelineView()
        self.timeline.open_requested.connect(self.open_requested)
        self.timeline.older_requested.connect(self.load_older)
        self.risk_model, self.risk_table = risk_course_table(self)
        self.risk_waiting = QLabel("Loading the whole course…")
        self.risk_waiting.setStyleSheet(HINT_STYLE)
        self.risk_waiting.hide()
        risk_page = QWidget()
        risk_layout = QVBoxLayout(risk_page)
        risk_layout.setContentsMargins(0, 0, 0, 0)
        risk_layout.addWidget(self.risk_waiting)
        risk_layout.addWidget(self.risk_table, 1)
        self.trend = TrendCharts()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("chart_tabs")
        self.tabs.addTab(self.timeline, "&Records (newest first; double-click to open)")
        self.tabs.addTab(risk_page, "Risk &course (at diagnosis · at follow-up)")
        self.tabs.addTab(self.trend, "&Trends")
        self._course_tabs = (risk_page, self.trend)
        self.tabs.currentChanged.connect(lambda _: self._want_course())

        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(self.tabs)
        main.setChildrenCollapsible(False)
        main.setStretchFactor(0, 0)
        main.setStretchFactor(1, 1)
        self.splitter = main

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(main, 1)

    def sizeHint(self) -> QSize:
        """What fits a chart window on a 1080-line screen; the tables and the trend
        charts scroll or shrink inside it (their own hints would ask for a wall)."""
        return QSize(1100, 600)

    def hasHeightForWidth(self) -> bool:
        return False  # the hint above, not the wrapped labels', decides the height

    # ----------------------------------------------------------------- state

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        allowed = editable and can_edit_clinical(self.ctx)
        for button in self.new_buttons.values():
            button.setEnabled(allowed)
        self.items.set_editable(editable)
        if editable and self._reload_wanted and self.chart is not None:
            self.reload()  # a reload failed while the connection was away

    def set_chart(self, chart: Chart) -> None:
        self.chart = chart
        self.message.hide()
        self.latest.set_chart(chart)
        self._show_course(chart)
        self.timeline.set_entries(chart.timeline, chart.older_records)
        self.items.set_chart(chart)
        self._show_count(chart)
        self.chart_shown.emit(chart)
        self._want_course()

    def _show_count(self, chart: Chart) -> None:
        n = len(chart.timeline)
        total = n + chart.older_records
        text = f"{total} record{'s' if total != 1 else ''}"
        self.loaded_label.setText(text if chart.whole else f"newest {n} of {text}")

    def _show_course(self, chart: Chart) -> None:
        """The risk table and the trend charts, once the whole course is there."""
        waiting = chart_service.course_of(chart) is None
        self.risk_waiting.setVisible(waiting)
        if waiting:
            self.risk_model.set_points(())
        else:
            self.risk_model.set_points(chart.risk_course, chart_risk.therapy_course(chart))
        self.trend.set_chart(chart)

    # ----------------------------------------------------------------- loading

    def reload(self) -> None:
        """Load the chart again (as of the panel's study date): one statement, with as
        many records as the timeline holds now (at least a first screen's; all of them
        if it holds all)."""
        self._reload_wanted = False
        db, pid, day = self.ctx.db, self.patient_id, self.items.as_of
        shown = self.chart
        newest: int | None = chart_service.FIRST_SCREEN_RECORDS
        if shown is not None and len(shown.timeline) > chart_service.FIRST_SCREEN_RECORDS:
            # every record loaded stays: the whole chart again if it was whole
            newest = None if shown.whole else len(shown.timeline)
        self.ctx.tasks.cancel(self._older_key)  # the reload brings the records anew
        self.ctx.tasks.cancel(self._course_key)
        self._older_loading = self._course_loading = False

        def work() -> Chart:
            with db.session() as s:
                return chart_service.load_chart(s, pid, as_of=day, newest=newest)

        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, self.set_chart),
            on_error=while_alive(self, self._failed),
            key=self._key,
        )

    def load_older(self) -> None:
        """The next page of older records, at the timeline's end: one statement."""
        chart = self.chart
        if chart is None or chart.whole or not chart.timeline or self._older_loading:
            return
        self._older_loading = True
        self.timeline.set_older(chart.older_records, loading=True)
        db, pid, last = self.ctx.db, self.patient_id, chart.timeline[-1]

        def work() -> chart_service.OlderRecords:
            with db.session() as s:
                return chart_service.load_older(s, pid, last)

        def loaded(page: chart_service.OlderRecords) -> None:
            self._older_loading = False
            if self.chart is not chart:  # reloaded meanwhile: that load holds them
                return
            self.chart = chart.with_older(page)
            self.timeline.append_entries(page.entries, page.older_records)
            self._show_count(self.chart)
            if self.chart.whole and self.chart.course is None:
                self._show_course(self.chart)  # every record is here now

        def failed(exc: BaseException) -> None:
            self._older_loading = False
            self.timeline.set_older(chart.older_records)
            self._failed(exc)

        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, loaded),
            on_error=while_alive(self, failed),
            key=self._older_key,
        )

    def _want_course(self) -> None:
        """Load the whole course if a tab that shows it is in view and it is missing."""
        chart = self.chart
        if (
            chart is None
            or self._course_loading
            or self.tabs.currentWidget() not in self._course_tabs
            or chart_service.course_of(chart) is not None
        ):
            return
        self._course_loading = True
        db, pid = self.ctx.db, self.patient_id

        def work() -> chart_service.ChartCourse:
            with db.session() as s:
                return chart_service.load_course(s, pid)

        def loaded(course: chart_service.ChartCourse) -> None:
            self._course_loading = False
            if self.chart is not chart:
                self._want_course()  # reloaded meanwhile: ask again for the new one
                return
            self.chart = chart.with_course(course)
            self._show_course(self.chart)

        def failed(exc: BaseException) -> None:
            self._course_loading = False
            self._failed(exc)

        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, loaded),
            on_error=while_alive(self, failed),
            key=self._course_key,
        )

    def schedule_reload(self) -> None:
        """Reload soon, once (own saves and their notifications arrive together)."""
        self._reload_wanted = True
        self._live_timer.start()

    def _failed(self, exc: BaseException) -> None:
        if self.ctx.connection.handle_error(exc):
            self._reload_wanted = True  # reloads on the next change or reconnect
            return
        error = classify(exc, address=self.ctx.db.address)
        self.message.setText(f"Could not load the clinical records. {error.title}: {error.message}")
        self.message.show()

    def cancel(self) -> None:
        """The window closes: no more loading, no more listening."""
        if self._listening:
            self._listening = False
            self.ctx.live.changed.disconnect(self._on_live_change)
        self._live_timer.stop()
        self.ctx.tasks.cancel(self._key)
        self.ctx.tasks.cancel(self._older_key)
        self.ctx.tasks.cancel(self._course_key)
        self.ctx.tasks.cancel(("affected", id(self)))
        self.items.cancel()

    # ----------------------------------------------------------------- live

    def _shown_rows(self) -> set[tuple[str, int]]:
        chart = self.chart
        if chart is None:
            return set()
        rows: set[tuple[str, int]] = set()
        for e in chart.timeline:
            table = "assessment" if e.kind in ("assessment", "followup") else e.kind
            rows.add((table, e.record_id))
        for item in (
            *chart.medications,
            *chart.allergies,
            *chart.comorbidities,
            *chart.stopped_items,
            *chart.later_items,
        ):
            rows.add((item.kind, item.id))
        return rows

    def _on_live_change(self, payload: Mapping[str, Any]) -> None:
        if payload.get("table") in chart_live.CLINICAL_TABLES:
            self._changes.append(payload)
            self._live_timer.start()
        elif payload.get("table") == "patient" and payload.get("key") == str(self.patient_id):
            self.schedule_reload()  # e.g. the date of birth: ages and % predicted change

    def _consider_changes(self) -> None:
        changes = chart_live.clinical_changes(self._changes)
        self._changes.clear()
        if self._reload_wanted:
            self.reload()
            return
        if not changes:
            return
        shown = self._shown_rows()
        if any((table, key) in shown for table, keys in changes.items() for key in keys):
            self.reload()
            return
        db, pid = self.ctx.db, self.patient_id

        def work() -> bool:
            with db.session() as s:
                return pid in chart_live.affected_patients(s, changes)

        def decided(affected: bool) -> None:
            if affected:
                self.reload()

        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, decided),
            on_error=while_alive(self, self._affected_failed),
            key=("affected", id(self)),
        )

    def _affected_failed(self, exc: BaseException) -> None:
        if not self.ctx.connection.handle_error(exc):
            log.warning("live check failed: %s", classify(exc, address=self.ctx.db.address).detail)

    def open_entry(self, entry: TimelineEntry) -> None:
        self.open_requested.emit(entry)
