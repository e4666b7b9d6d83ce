"""The steps of a vasodilator challenge: the agents offered (from Preferences), one row
of the steps grid (:class:`StepRow`: agent, dose and haemodynamics of the baseline or a
dose step), and the texts that describe a step and its response."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from phms_client.clinical import vasoreactivity
from phms_client.clinical.consistency import pressure_problems
from phms_client.clinical.ranges import FIELD_RANGES
from phms_client.services.chart import StepInput
from phms_client.services.input_rules import limits
from phms_client.ui.chart.record_forms.common import (
    HINT_STYLE,
    MAX_NUMBER_LENGTH,
    parse_decimal,
    plain_number,
    show_number,
)
from phms_client.ui.chart.record_forms.fields import DecimalField

__all__ = [
    "STEP_COLUMNS",
    "Agent",
    "StepRow",
    "configured_agents",
    "describe_step",
    "dose_problem",
    "missing_text",
    "order_problem",
    "step_response",
]

_RANGES = FIELD_RANGES["vasodilator_step"]
#: Haemodynamic columns of a step, in the order shown.
STEP_COLUMNS: Final = (
    ("mpap_mmhg", "mPAP", "mmHg"),
    ("pawp_mmhg", "PAWP", "mmHg"),
    ("co_l_min", "CO", "L/min"),
    ("spap_mmhg", "sPAP", "mmHg"),
    ("dpap_mmhg", "dPAP", "mmHg"),
    ("heart_rate_bpm", "HR", "/min"),
    ("svo2_pct", "SvO2", "%"),
)


@dataclass(frozen=True)
class Agent:
    name: str
    unit: str
    doses: tuple[Decimal, ...]


def configured_agents(setting: Any) -> list[Agent]:
    """The agents of the ``vasodilator_agents`` setting (malformed entries skipped)."""
    agents = []
    for entry in setting if isinstance(setting, list) else []:
        if not isinstance(entry, Mapping) or not entry.get("name"):
            continue
        doses = tuple(
            Decimal(str(d)) for d in entry.get("doses") or () if isinstance(d, (int, float, str))
        )
        agents.append(Agent(str(entry["name"]), str(entry.get("unit") or ""), doses))
    return agents


def dose_problem(agent: Agent, dose: Decimal) -> str | None:
    """The database's dose rules (0011) in words: None when ``dose`` is acceptable."""
    highest = max(agent.doses, default=None)
    if highest is not None and dose > limits.DOSE_HEADROOM * highest:
        return (
            f"a dose of {plain_number(dose)} {agent.unit} is more than "
            f"{limits.DOSE_HEADROOM} times the highest dose step of {agent.name} "
            f"({plain_number(highest)} {agent.unit})."
        )
    if dose > limits.DOSE_MAX:
        return f"a dose cannot be more than {limits.DOSE_MAX:,}."
    exponent = dose.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > limits.MAX_DECIMALS:
        return f"a dose may have at most {limits.MAX_DECIMALS} decimal places."
    return None


class StepRow:
    """One row of the steps grid: the widgets of step ``number`` (0 = baseline)."""

    def __init__(self, number: int, agents: Sequence[Agent], on_change: Callable[[], None]):
        self.number = number
        self.label = QLabel("Baseline" if number == 0 else f"Step {number}")
        self.agent_combo: QComboBox | None = None
        self.dose_combo: QComboBox | None = None
        self.unit_label = QLabel("")
        self.unit_label.setStyleSheet(HINT_STYLE)
        if number > 0:
            self.agent_combo = QComboBox()
            self.agent_combo.setObjectName(f"step{number}_agent")
            for agent in agents:
                self.agent_combo.addItem(agent.name, agent)
            self.dose_combo = QComboBox()
            self.dose_combo.setObjectName(f"step{number}_dose")
            self.dose_combo.setEditable(True)
            self.dose_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            dose_line = self.dose_combo.lineEdit()
            assert dose_line is not None
            dose_line.setMaxLength(MAX_NUMBER_LENGTH)
            self.dose_combo.setMinimumWidth(
                self.dose_combo.fontMetrics().horizontalAdvance("0000") + 40
            )
            self.agent_combo.currentIndexChanged.connect(lambda _: self._agent_changed())
            self.dose_combo.currentTextChanged.connect(lambda _: on_change())
        self.fields: dict[str, DecimalField] = {}
        for column, _, _ in STEP_COLUMNS:
            field = DecimalField(_RANGES[column], compact=True, required=column == "mpap_mmhg")
            field.setObjectName(f"step{number}_{column}")
            self.fields[column] = field
        self.response = QLabel("—")
        self.response.setObjectName(f"step{number}_response")
        self.response.setWordWrap(True)
        self._on_change = on_change
        if self.agent_combo is not None:
            self._agent_changed()

    def widgets(self) -> list[QWidget]:
        return [
            self.label,
            *(w for w in (self.agent_combo, self.dose_combo) if w is not None),
            self.unit_label,
            *self.fields.values(),
            self.response,
        ]

    @property
    def agent(self) -> Agent | None:
        return None if self.agent_combo is None else self.agent_combo.currentData()

    def _agent_changed(self) -> None:
        agent = self.agent
        assert self.dose_combo is not None
        text = self.dose_combo.currentText()
        self.dose_combo.clear()
        if agent is not None:
            self.dose_combo.addItems([plain_number(d) for d in agent.doses])
            self.unit_label.setText(agent.unit)
        self.dose_combo.setCurrentText(text)
        self._on_change()

    def dose_text(self) -> str:
        return "" if self.dose_combo is None else self.dose_combo.currentText().strip()

    def dose(self) -> Decimal | None:
        return parse_decimal(self.dose_text())

    def snapshot(self) -> tuple[object, ...]:
        agent = self.agent
        return (
            None if agent is None else agent.name,
            self.dose_text(),
            *(f.text().strip() for f in self.fields.values()),
        )

    def values(self) -> StepInput | None:
        """The step as typed, if its mPAP is there (otherwise it cannot be compared)."""
        mpap = self.fields["mpap_mmhg"].value()
        if mpap is None:
            return None
        agent = self.agent
        extra = {c: f.value() for c, f in self.fields.items() if c != "mpap_mmhg"}
        return StepInput(
            step_no=self.number,
            mpap_mmhg=mpap,
            agent=None if agent is None else agent.name,
            dose=None if agent is None else self.dose(),
            dose_unit=None if agent is None else (self.unit_label.text() or None),
            **extra,
        )


def order_problem(row: StepRow) -> str | None:
    """The first consistency rule the step breaks (``clinical.consistency``), if any."""
    v = {c: f.value() for c, f in row.fields.items()}
    problems = pressure_problems(
        spap=v["spap_mmhg"], dpap=v["dpap_mmhg"], mpap=v["mpap_mmhg"], pawp=v["pawp_mmhg"]
    )
    for column in ("mpap_mmhg", "dpap_mmhg", "pawp_mmhg"):
        if column in problems:
            text = problems[column]
            return text[0].lower() + text[1:] if text.startswith("The ") else text
    return None


def missing_text(
    baseline: vasoreactivity.StepValues | None, steps: Sequence[vasoreactivity.StepValues]
) -> str:
    """Why the result is "insufficient data", after a colon."""
    if baseline is None:
        return ": the baseline mPAP is missing"
    if not steps:
        return ": no step with an mPAP yet"
    return ": a cardiac output is missing where the pressure criteria are met"


def step_response(
    baseline: vasoreactivity.StepValues | None, step: vasoreactivity.StepValues
) -> str:
    """A step against the baseline, in the row's Response column."""
    if baseline is None:
        return "—"
    mpap = Decimal(str(step.mpap_mmhg))
    fall = Decimal(str(baseline.mpap_mmhg)) - mpap
    text = f"mPAP {show_number(-fall, 1).removesuffix('.0')} to {plain_number(mpap)}"
    verdict = vasoreactivity.assess(baseline, [step])
    if verdict.result == vasoreactivity.POSITIVE:
        return text + ", CO kept: meets criteria"
    if verdict.result == vasoreactivity.INSUFFICIENT:
        return text + ": CO needed"
    pressure = fall >= vasoreactivity.MIN_FALL and mpap <= vasoreactivity.MAX_MPAP
    return text + (", CO fell: not met" if pressure else ": not met")


def describe_step(step: StepInput | None) -> str:
    """A step in a line, for the compare dialog."""
    if step is None:
        return "—"
    parts = []
    if step.agent:
        unit = step.dose_unit or ""
        dose = "" if step.dose is None else f" {plain_number(step.dose)} {unit}".rstrip()
        parts.append(f"{step.agent}{dose}")
    for column, label, unit in STEP_COLUMNS:
        value = getattr(step, column)
        if value is not None:
            parts.append(f"{label} {plain_number(value)} {unit}")
    return " · ".join(parts)
