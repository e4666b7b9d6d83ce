"""The clinical part of a patient's chart, as the chart window embeds it.

Buttons to enter each kind of record for this patient; the latest derived values
and the risk stratum with its course over time (a table, and the trend charts);
the timeline of records (open one to see or correct it, with who entered and
changed it); the medications, allergies and secondary diseases panel.

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
        self.risk_model, self.risk_table = risk_course_table(self)
        self.trend = TrendCharts()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("chart_tabs")
        self.tabs.addTab(self.timeline, "&Records (newest first; double-click to open)")
        self.tabs.addTab(self.risk_table, "Risk &course (at diagnosis · at follow-up)")
        self.tabs.addTab(self.trend, "&Trends")

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
        self.risk_model.set_points(chart.risk_course, chart_risk.therapy_course(chart))
        self.trend.set_chart(chart)
        self.timeline.set_entries(chart.timeline)
        self.items.set_chart(chart)
        n = len(chart.timeline)
        self.loaded_label.setText(f"{n} record{'s' if n != 1 else ''}")
        self.chart_shown.emit(chart)

    # ----------------------------------------------------------------- loading

    def reload(self) -> None:
        """Load the chart again (as of the panel's study date): one statement."""
        self._reload_wanted = False
        db, pid, day = self.ctx.db, self.patient_id, self.items.as_of

        def work() -> Chart:
            with db.session() as s:
                return chart_service.load_chart(s, pid, as_of=day)

        self.ctx.tasks.run(
            work,
            on_success=while_alive(self, self.set_chart),
            on_error=while_alive(self, self._failed),
            key=self._key,
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
