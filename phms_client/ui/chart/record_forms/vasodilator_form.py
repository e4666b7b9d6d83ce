"""Vasodilator challenge: baseline and dose steps, each with its haemodynamics.

Agents, their units and the offered doses come from the ``vasodilator_agents``
site setting (Preferences); a dose may also be typed. Each step is compared
with the baseline as it is typed, and the test's result is shown live with the
ESC/ERS criterion (``phms_client.clinical.vasoreactivity``): positive when mPAP
falls by ≥ 10 mmHg to ≤ 40 mmHg with cardiac output unchanged or higher.
A challenge needs an assessment of the same patient on or before its date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical import vasoreactivity
from phms_client.clinical.demographics import format_day
from phms_client.services import chart as chart_service
from phms_client.services.chart import ChallengeInput, ChallengeRecord, StepInput
from phms_client.ui.chart.record_forms.base import RecordForm
from phms_client.ui.chart.record_forms.common import ERROR_STYLE, HINT_STYLE, plain_number
from phms_client.ui.chart.record_forms.vasodilator_steps import (
    STEP_COLUMNS,
    Agent,
    StepRow,
    configured_agents,
    describe_step,
    dose_problem,
    missing_text,
    order_problem,
    step_response,
)
from phms_client.ui.shared.context import AppContext

__all__ = ["VasodilatorForm"]

CRITERION: Final = (
    "Positive (ESC/ERS) when mPAP falls by ≥ 10 mmHg to ≤ 40 mmHg with cardiac output "
    "unchanged or higher, at any step compared with the baseline."
)
MAX_STEPS: Final = 12


class VasodilatorForm(RecordForm):
    TABLE = "vasodilator_challenge"
    WHAT = "vasodilator challenge"

    def __init__(self, ctx: AppContext, record_id: int | None = None, **kw: Any):
        self.agents = configured_agents(ctx.login.settings.get("vasodilator_agents"))
        self.rows: list[StepRow] = []
        self._rows_connect = False  # rows made while building are connected by the base
        super().__init__(ctx, record_id, **kw)
        self._rows_connect = True
        self.resize(1060, 600)

    # ----------------------------------------------------------------- building

    def build_body(self) -> QWidget:
        body = QWidget()
        self.steps_box = QGroupBox("Steps (baseline, then each dose)")
        self.grid = QGridLayout(self.steps_box)
        self.grid.setHorizontalSpacing(6)
        headers = ["", "Agent", "Dose", "", *(f"{t}\n{u}" for _, t, u in STEP_COLUMNS), "Response"]
        for column, text in enumerate(headers):
            caption = QLabel(text)
            caption.setStyleSheet(HINT_STYLE)
            caption.setAlignment(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft)
            self.grid.addWidget(caption, 0, column)
        self.grid.setColumnStretch(len(headers) - 1, 1)
        self.add_button = QPushButton("&Add step")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_step)
        self.remove_button = QPushButton("&Remove last step")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_step)
        if not self.agents:
            self.add_button.setEnabled(False)
            self.add_button.setToolTip("No vasodilator agents are set in Preferences.")
        self.steps_error = QLabel()
        self.steps_error.setObjectName("steps_error")
        self.steps_error.setWordWrap(True)
        self.steps_error.setStyleSheet(ERROR_STYLE)
        self.steps_error.hide()
        step_buttons = QHBoxLayout()
        step_buttons.addWidget(self.add_button)
        step_buttons.addWidget(self.remove_button)
        step_buttons.addStretch(1)
        steps_layout = QVBoxLayout()
        steps_layout.addLayout(step_buttons)
        steps_layout.addWidget(self.steps_error)

        self.result_label = QLabel()
        self.result_label.setObjectName("vasoreactivity")
        font = self.result_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.result_label.setFont(font)
        self.result_label.setWordWrap(True)
        criterion = QLabel(CRITERION)
        criterion.setWordWrap(True)
        criterion.setStyleSheet(HINT_STYLE)
        result_box = QGroupBox("Acute vasoreactivity (as you type)")
        result_box.setObjectName("derived_box")
        result_layout = QVBoxLayout(result_box)
        result_layout.addWidget(self.result_label)
        result_layout.addWidget(criterion)

        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        outer_steps = QVBoxLayout()
        outer_steps.addWidget(self.steps_box)
        outer_steps.addLayout(steps_layout)
        layout.addLayout(outer_steps)
        layout.addWidget(result_box)
        layout.addStretch(1)
        self._append_row()  # the baseline
        if self.agents:
            self._append_row()  # and a first step, as every challenge has one
        self._update_step_buttons()
        return body

    def focus_first_field(self) -> None:
        self.rows[0].fields["mpap_mmhg"].edit.setFocus()

    def _append_row(self) -> StepRow:
        row = StepRow(len(self.rows), self.agents, self.update_derived)
        if row.number > 1:
            self._continue_from(self.rows[-1], row)
        self.rows.append(row)
        grid_row = row.number + 1
        self.grid.addWidget(row.label, grid_row, 0)
        if row.agent_combo is not None and row.dose_combo is not None:
            self.grid.addWidget(row.agent_combo, grid_row, 1)
            self.grid.addWidget(row.dose_combo, grid_row, 2)
        self.grid.addWidget(row.unit_label, grid_row, 3)
        for column, (name, _, _) in enumerate(STEP_COLUMNS, start=4):
            field = row.fields[name]
            self.grid.addWidget(field, grid_row, column)
            self.fields[f"step{row.number}.{name}"] = field
            if self._rows_connect:
                field.changed.connect(self.update_derived)
        self.grid.addWidget(row.response, grid_row, 4 + len(STEP_COLUMNS))
        return row

    def _continue_from(self, previous: StepRow, row: StepRow) -> None:
        """A new step: the same agent, the next configured dose."""
        agent = previous.agent
        if agent is None or row.agent_combo is None or row.dose_combo is None:
            return
        row.agent_combo.setCurrentIndex(max(0, row.agent_combo.findText(agent.name)))
        dose = previous.dose()
        later = [d for d in agent.doses if dose is None or d > dose]
        row.dose_combo.setCurrentText(plain_number(later[0]) if later else "")

    def add_step(self) -> StepRow | None:
        if not self.agents or len(self.rows) > MAX_STEPS:
            return None
        row = self._append_row()
        self._update_step_buttons()
        self.update_derived()
        (row.dose_combo or row.fields["mpap_mmhg"].edit).setFocus()
        return row

    def remove_step(self) -> None:
        if len(self.rows) <= 1:
            return
        row = self.rows.pop()
        for name, _, _ in STEP_COLUMNS:
            self.fields.pop(f"step{row.number}.{name}", None)
        for widget in row.widgets():
            self.grid.removeWidget(widget)
            widget.deleteLater()
        self._update_step_buttons()
        self.update_derived()

    def _set_step_count(self, count: int) -> None:
        while len(self.rows) > count:
            self.remove_step()
        while len(self.rows) < count:
            self._append_row()
        self._update_step_buttons()

    def _update_step_buttons(self) -> None:
        self.remove_button.setEnabled(len(self.rows) > 1)
        self.add_button.setEnabled(bool(self.agents) and len(self.rows) <= MAX_STEPS)

    # ----------------------------------------------------------------- contents

    def snapshot(self) -> tuple[object, ...]:
        return (self.header.study_date(), *(r.snapshot() for r in self.rows))

    def fill(self, record: ChallengeRecord) -> None:
        steps = sorted(record.data.steps, key=lambda s: s.step_no)
        self._set_step_count(max(1, len(steps)))
        for row, step in zip(self.rows, steps, strict=False):
            if row.agent_combo is not None and row.dose_combo is not None and step.agent:
                index = row.agent_combo.findText(step.agent)
                if index < 0:  # no longer in Preferences: keep showing what was stored
                    unit = step.dose_unit or ""
                    row.agent_combo.addItem(step.agent, Agent(step.agent, unit, ()))
                    index = row.agent_combo.count() - 1
                row.agent_combo.setCurrentIndex(index)
                row.unit_label.setText(step.dose_unit or "")
                row.dose_combo.setCurrentText("" if step.dose is None else plain_number(step.dose))
            for column, field in row.fields.items():
                field.set_value(getattr(step, column))
        self.update_derived()

    def steps(self) -> list[StepInput]:
        return [s for s in (row.values() for row in self.rows) if s is not None]

    def collect(self, patient_id: int, study_date: dt.date) -> ChallengeInput:
        return ChallengeInput(patient_id, study_date, tuple(self.steps()))

    def check_fields(self) -> dict[str, str]:
        problems: dict[str, str] = {}
        for row in self.rows:
            prefix = row.label.text()
            for column, field in row.fields.items():
                problem = field.check()
                if problem:
                    problems[f"step{row.number}.{column}"] = f"{prefix}: {problem}"
            if row.agent_combo is not None:
                if row.agent is None:
                    problems[f"step{row.number}.agent"] = f"{prefix}: choose the agent."
                dose = row.dose()
                if dose is None or dose <= 0:
                    text = row.dose_text()
                    problems[f"step{row.number}.dose"] = (
                        f"{prefix}: “{text}” is not a dose (a number above 0)."
                        if text
                        else f"{prefix}: enter the dose."
                    )
                elif row.agent is not None:
                    problem = dose_problem(row.agent, dose)
                    if problem:
                        problems[f"step{row.number}.dose"] = f"{prefix}: {problem}"
            order = order_problem(row)
            if order:
                problems.setdefault(f"step{row.number}.mpap_mmhg", f"{prefix}: {order}")
        self.steps_error.setText("\n".join(problems.values()))
        self.steps_error.setVisible(bool(problems))
        return problems

    def problems_summary(self, problems: Mapping[str, str]) -> str:
        count = "one value needs" if len(problems) == 1 else f"{len(problems)} values need"
        return f"Not saved: {count} correcting (listed under the steps)."

    def clear_errors(self) -> None:
        super().clear_errors()
        self.steps_error.hide()

    def prerequisite_problem(self) -> str | None:
        context = self.patient
        if context is None:
            return None
        day = self.header.study_date()
        dates = [e.study_date for e in context.chart.timeline if e.kind == "assessment"]
        if any(d <= day for d in dates):
            return None
        text = (
            "A vasodilator challenge needs an assessment of this patient on or before "
            f"{format_day(day)}, and there is none."
        )
        if dates:
            text += f" The first assessment is of {format_day(min(dates))}."
        return text + " Enter the assessment first."

    # ----------------------------------------------------------------- derived

    def update_derived(self) -> None:
        if not hasattr(self, "result_label") or not self.rows:
            return
        baseline_input = self.rows[0].values()
        baseline = (
            None
            if baseline_input is None
            else vasoreactivity.StepValues(0, baseline_input.mpap_mmhg, baseline_input.co_l_min)
        )
        values: list[vasoreactivity.StepValues] = []
        for row in self.rows[1:]:
            step = row.values()
            if step is None:
                row.response.setText("—")
                continue
            current = vasoreactivity.StepValues(row.number, step.mpap_mmhg, step.co_l_min)
            values.append(current)
            row.response.setText(step_response(baseline, current))
        self.rows[0].response.setText("reference" if baseline else "enter the baseline mPAP")
        result = vasoreactivity.assess(baseline, values)
        if result.result == vasoreactivity.POSITIVE:
            text = f"Positive (step {result.positive_step_no})"
        elif result.result == vasoreactivity.NEGATIVE:
            text = "Negative"
        else:
            text = "Insufficient data" + missing_text(baseline, values)
        self.result_label.setText(text)

    # ----------------------------------------------------------------- service

    def conflict_rows(
        self, theirs: ChallengeRecord, mine: ChallengeInput
    ) -> list[tuple[str, str, str]]:
        rows = [("Study date", format_day(theirs.data.study_date), format_day(mine.study_date))]
        a = {s.step_no: s for s in theirs.data.steps}
        b = {s.step_no: s for s in mine.steps}
        for number in sorted(set(a) | set(b)):
            rows.append(
                (
                    "Baseline" if number == 0 else f"Step {number}",
                    describe_step(a.get(number)),
                    describe_step(b.get(number)),
                )
            )
        return rows

    def service_get(self, session: Any, record_id: int) -> ChallengeRecord:
        return chart_service.get_challenge(session, record_id)

    def service_create(self, session: Any, data: ChallengeInput) -> ChallengeRecord:
        return chart_service.create_challenge(session, data)

    def service_update(
        self, session: Any, record_id: int, version: int, data: ChallengeInput
    ) -> ChallengeRecord:
        return chart_service.update_challenge(session, record_id, version, data)
