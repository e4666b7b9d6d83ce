"""6-minute walk: room air or supplemental O2, distance, stops, SpO2/HR/Borg before and after.

Live: the predicted distance (Enright & Sherrill 1998) and the % predicted, with
the height and weight of the assessment nearest in date within 180 days (the
rule of the database view ``phms.six_minute_walk_predicted``) and the age at the
walk; and the distance's COMPERA 2.0 grade.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Final

from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical import formulas, risk
from phms_client.clinical.demographics import SEX_LABELS, format_day
from phms_client.clinical.matching import BODY_WINDOW_DAYS, nearest
from phms_client.clinical.ranges import FIELD_RANGES
from phms_client.services import chart as chart_service
from phms_client.services.chart import AssessmentRecord, WalkInput, WalkRecord
from phms_client.ui.chart.record_forms.base import RecordForm
from phms_client.ui.chart.record_forms.common import HINT_STYLE, format_derived, show_number
from phms_client.ui.chart.record_forms.fields import DecimalField, DerivedRows
from phms_client.ui.chart.record_forms.study_header import PatientContext
from phms_client.ui.shared.context import AppContext

__all__ = ["WalkForm", "body_assessment"]

_RANGES = FIELD_RANGES["six_minute_walk"]
_BEFORE_AFTER: Final = (
    ("SpO2", "spo2_before_pct", "spo2_after_pct", "%"),
    ("Heart rate", "heart_rate_before_bpm", "heart_rate_after_bpm", "/min"),
    ("Borg dyspnoea", "borg_before", "borg_after", "0–10"),
)


def body_assessment(context: PatientContext, day: dt.date) -> AssessmentRecord | None:
    """The assessment whose height and weight the walk of ``day`` uses (180 days)."""
    measured = [
        e.record
        for e in context.chart.timeline
        if isinstance(e.record, AssessmentRecord)
        and e.record.data.height_cm is not None
        and e.record.data.weight_kg is not None
    ]
    return nearest(
        measured,
        day,
        BODY_WINDOW_DAYS,
        date_of=lambda a: a.data.study_date,
        id_of=lambda a: a.id,
    )


class WalkForm(RecordForm):
    TABLE = "six_minute_walk"
    WHAT = "6-minute walk"

    def __init__(self, ctx: AppContext, record_id: int | None = None, **kw: Any):
        super().__init__(ctx, record_id, **kw)
        self.resize(780, 640)

    # ----------------------------------------------------------------- building

    def _field(self, column: str, *, required: bool = False, whole: bool = False) -> DecimalField:
        limits = _RANGES[column]
        field = DecimalField(limits, required=required, whole=whole)
        field.setObjectName(column)
        self.fields[column] = field
        return field

    def build_body(self) -> QWidget:
        body = QWidget()
        self.room_air = QRadioButton("&Room air")
        self.room_air.setChecked(True)
        self.with_oxygen = QRadioButton("With supplemental &O2:")
        group = QButtonGroup(body)
        group.addButton(self.room_air)
        group.addButton(self.with_oxygen)
        oxygen = self._field("oxygen_l_min")
        oxygen.setEnabled(False)
        self.with_oxygen.toggled.connect(self._oxygen_toggled)
        air_row = QHBoxLayout()
        air_row.addWidget(self.room_air)
        air_row.addSpacing(16)
        air_row.addWidget(self.with_oxygen)
        air_row.addWidget(oxygen)
        air_row.addStretch(1)

        walk_box = QGroupBox("Walk")
        form = QFormLayout(walk_box)
        form.addRow("Breathing:", air_row)
        form.addRow("&Distance:", self._field("distance_m", required=True))
        form.addRow("Stops:", self._field("stops", whole=True))

        measures = QGroupBox("Before and after")
        grid = QGridLayout(measures)
        for column, text in ((1, "Before"), (2, "After")):
            caption = QLabel(text)
            caption.setStyleSheet(HINT_STYLE)
            grid.addWidget(caption, 0, column)
        for row, (label, before, after, _) in enumerate(_BEFORE_AFTER, start=1):
            grid.addWidget(QLabel(label + ":"), row, 0)
            grid.addWidget(self._field(before), row, 1)
            grid.addWidget(self._field(after), row, 2)
        # Room for a range message under each value without pushing the columns apart.
        width = measures.fontMetrics().horizontalAdvance(
            "Heart rate must be between 20 and 250 /min."
        )
        grid.setColumnMinimumWidth(1, width)
        grid.setColumnMinimumWidth(2, width)
        grid.setColumnStretch(3, 1)

        self.derived = DerivedRows(
            [
                ("age", "Age at the walk"),
                ("body", "Height and weight"),
                ("predicted_m", "Predicted distance"),
                ("percent_predicted", "Walked"),
                ("walk_grade", "Risk grade of the distance"),
            ]
        )
        derived_box = QGroupBox("Derived values (as you type)")
        derived_box.setObjectName("derived_box")
        QVBoxLayout(derived_box).addWidget(self.derived)

        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(walk_box)
        layout.addWidget(measures)
        layout.addWidget(derived_box)
        layout.addStretch(1)
        return body

    def focus_first_field(self) -> None:
        self.fields["distance_m"].edit.setFocus()

    def _oxygen_toggled(self, on: bool) -> None:
        field = self.fields["oxygen_l_min"]
        field.setEnabled(on)
        field.required = on
        if on:
            field.edit.setFocus()
        else:
            field.show_problem(None)

    # ----------------------------------------------------------------- contents

    def snapshot(self) -> tuple[object, ...]:
        base = super().snapshot()
        return (*base, self.with_oxygen.isChecked()) if hasattr(self, "with_oxygen") else base

    def fill(self, record: WalkRecord) -> None:
        data = record.data
        (self.with_oxygen if data.oxygen_l_min is not None else self.room_air).setChecked(True)
        for name, field in self.fields.items():
            value = getattr(data, name)
            field.set_value(value)
        self.update_derived()

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: f.value() for name, f in self.fields.items()}
        if not self.with_oxygen.isChecked():
            values["oxygen_l_min"] = None
        if values["stops"] is not None:
            values["stops"] = int(values["stops"])
        return values

    def collect(self, patient_id: int, study_date: dt.date) -> WalkInput:
        values = self.values()
        if self.record is not None:
            return dataclasses.replace(self.record.data, study_date=study_date, **values)
        return WalkInput(patient_id, study_date, **values)

    # ----------------------------------------------------------------- derived

    def update_derived(self) -> None:
        if not hasattr(self, "derived"):
            return
        distance = self.fields["distance_m"].value()
        grade = risk.grade_walk(distance)
        self.derived.set("walk_grade", None if grade is None else f"{grade} of 4")
        context = self.patient
        if context is None:
            for name in ("age", "body", "predicted_m", "percent_predicted"):
                self.derived.set(name, None)
            return
        day = self.header.study_date()
        sex, age = context.details.sex, context.age_on(day)
        self.derived.set("age", f"{age} years ({SEX_LABELS.get(sex, sex).lower()})")
        body = body_assessment(context, day)
        if body is None:
            self.derived.set(
                "body", f"no assessment with height and weight within {BODY_WINDOW_DAYS} days"
            )
            height = weight = None
        else:
            height, weight = body.data.height_cm, body.data.weight_kg
            self.derived.set(
                "body",
                f"{show_number(height, 1).removesuffix('.0')} cm, "
                f"{show_number(weight, 1).removesuffix('.0')} kg "
                f"(assessment of {format_day(body.data.study_date)})",
            )
        predicted = formulas.walk_predicted_m(sex, age, height, weight)
        if predicted is None and body is not None and sex not in ("male", "female"):
            self.derived.set("predicted_m", "defined for male and female only")
        else:
            self.derived.set(
                "predicted_m",
                None
                if predicted is None
                else format_derived("predicted_m", predicted) + " (Enright & Sherrill)",
            )
        percent = formulas.walk_percent_predicted(distance, sex, age, height, weight)
        self.derived.set(
            "percent_predicted",
            None if percent is None else format_derived("walk_percent_predicted", percent),
        )

    # ----------------------------------------------------------------- service

    def conflict_rows(self, theirs: WalkRecord, mine: WalkInput) -> list[tuple[str, str, str]]:
        def oxygen(value: Decimal | None) -> str:
            return "room air" if value is None else f"{_plain(value)} L/min O2"

        def plain(value: Decimal | int | None, unit: str = "") -> str:
            if value is None:
                return "—"
            return f"{_plain(Decimal(value))}{' ' + unit if unit else ''}"

        rows = [
            ("Study date", format_day(theirs.data.study_date), format_day(mine.study_date)),
            ("Breathing", oxygen(theirs.data.oxygen_l_min), oxygen(mine.oxygen_l_min)),
            ("Distance", plain(theirs.data.distance_m, "m"), plain(mine.distance_m, "m")),
            ("Stops", plain(theirs.data.stops), plain(mine.stops)),
        ]
        for label, before, after, unit in _BEFORE_AFTER:
            for column, when in ((before, "before"), (after, "after")):
                shown_unit = "" if unit == "0–10" else unit
                rows.append(
                    (
                        f"{label} {when}",
                        plain(getattr(theirs.data, column), shown_unit),
                        plain(getattr(mine, column), shown_unit),
                    )
                )
        return rows

    def service_get(self, session: Any, record_id: int) -> WalkRecord:
        return chart_service.get_walk(session, record_id)

    def service_create(self, session: Any, data: WalkInput) -> WalkRecord:
        return chart_service.create_walk(session, data)

    def service_update(
        self, session: Any, record_id: int, version: int, data: WalkInput
    ) -> WalkRecord:
        return chart_service.update_walk(session, record_id, version, data)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
