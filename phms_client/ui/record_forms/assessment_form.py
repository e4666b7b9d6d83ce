"""Assessment and followup: one visit's WHO-FC, vitals, labs, echo and right heart catheter.

A **followup** is an assessment with fewer fields (no right heart catheter) and
needs an earlier assessment of the same patient: the form says so as soon as the
patient and the study date are known, and again if the database refuses.

Derived values are computed live from what is typed (``phms_client.clinical``),
never fetched: BSA, cardiac index, TPG, DPG, PVR in Wood units and dyn·s·cm⁻⁵,
the haemodynamic PH class, and the COMPERA 2.0 risk stratum (WHO-FC, the
6-minute walk nearest in date within 14 days, NT-proBNP or BNP). The database
stores its own copy of each; they agree by construction (tested).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Final

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from phms_client.clinical import formulas
from phms_client.clinical.demographics import format_day
from phms_client.clinical.ranges import FIELD_RANGES
from phms_client.services import chart as chart_service
from phms_client.services.chart import AssessmentInput, AssessmentRecord
from phms_client.ui.context import AppContext
from phms_client.ui.record_forms.base import RecordForm
from phms_client.ui.record_forms.common import (
    ROMAN,
    DecimalField,
    DerivedRows,
    describe_risk,
    format_derived,
    nearest_walk,
)

__all__ = ["PH_CLASS_TEXT", "AssessmentForm"]

_RANGES = FIELD_RANGES["assessment"]

#: Section -> fields (column, label shown in the form).
SECTIONS: Final = {
    "Clinical": (
        ("height_cm", "Height"),
        ("weight_kg", "Weight"),
        ("heart_rate_bpm", "Heart rate"),
        ("spo2_pct", "SpO2"),
    ),
    "Laboratory": (
        ("bnp_pg_ml", "BNP"),
        ("nt_probnp_pg_ml", "NT-proBNP"),
        ("creatinine_umol_l", "Creatinine"),
    ),
    "Echocardiography": (
        ("tapse_mm", "TAPSE"),
        ("ra_area_cm2", "RA area"),
    ),
    "Right heart catheter": (
        ("rap_mmhg", "RAP"),
        ("spap_mmhg", "sPAP"),
        ("dpap_mmhg", "dPAP"),
        ("mpap_mmhg", "mPAP"),
        ("pawp_mmhg", "PAWP"),
        ("co_l_min", "Cardiac output"),
        ("svo2_pct", "SvO2"),
        ("rhc_heart_rate_bpm", "Heart rate"),
    ),
}
FOLLOWUP_SECTIONS: Final = ("Clinical", "Laboratory", "Echocardiography")

PH_CLASS_TEXT: Final = {
    formulas.NO_PH: "no PH (mPAP ≤ 20 mmHg)",
    formulas.PRE_CAPILLARY: "pre-capillary PH (PAWP ≤ 15 mmHg, PVR > 2 WU)",
    formulas.ISOLATED_POST_CAPILLARY: "isolated post-capillary PH (PAWP > 15 mmHg, PVR ≤ 2 WU)",
    formulas.COMBINED: "combined post- and pre-capillary PH (PAWP > 15 mmHg, PVR > 2 WU)",
    formulas.UNCLASSIFIED: "unclassified PH (mPAP > 20 mmHg, PAWP ≤ 15 mmHg, PVR ≤ 2 WU)",
}
_EFFUSION = (("not recorded", None), ("no", False), ("yes", True))


class AssessmentForm(RecordForm):
    """New or existing assessment (``kind="assessment"``) or followup (``"followup"``)."""

    TABLE = "assessment"

    def __init__(
        self,
        ctx: AppContext,
        record_id: int | None = None,
        *,
        kind: str = "assessment",
        **kw: Any,
    ):
        if kind not in ("assessment", "followup"):
            raise ValueError(f"unknown assessment kind {kind!r}")
        self.kind = kind
        self.WHAT = kind  # type: ignore[misc]
        super().__init__(ctx, record_id, **kw)
        self.resize(900 if kind == "assessment" else 760, 760)

    def title_text(self) -> str:
        return "Assessment" if self.kind == "assessment" else "Followup"

    # ----------------------------------------------------------------- building

    def build_body(self) -> QWidget:
        body = QWidget()
        self.who_combo = QComboBox()
        self.who_combo.setObjectName("who_fc")
        self.who_combo.addItem("not assessed", None)
        for number, roman in ROMAN.items():
            self.who_combo.addItem(f"WHO-FC {roman}", number)
        self.who_combo.currentIndexChanged.connect(lambda _: self.update_derived())
        self.effusion_combo = QComboBox()
        self.effusion_combo.setObjectName("pericardial_effusion")
        for text, value in _EFFUSION:
            self.effusion_combo.addItem(text, value)

        sections = (
            SECTIONS
            if self.kind == "assessment"
            else {name: SECTIONS[name] for name in FOLLOWUP_SECTIONS}
        )
        boxes: dict[str, QGroupBox] = {}
        captions: list[QLabel] = []
        for title, columns in sections.items():
            box = QGroupBox(title)
            form = QFormLayout(box)
            if title == "Clinical":
                caption = QLabel("&WHO functional class:")
                caption.setBuddy(self.who_combo)
                form.addRow(caption, self.who_combo)
                captions.append(caption)
            for column, label in columns:
                field = DecimalField(_RANGES[column], label=_RANGES[column].label)
                field.setObjectName(column)
                self.fields[column] = field
                caption = QLabel(label + ":")
                form.addRow(caption, field)
                captions.append(caption)
            if title == "Echocardiography":
                caption = QLabel("Pericardial effusion:")
                form.addRow(caption, self.effusion_combo)
                captions.append(caption)
            boxes[title] = box
        # One label column for every section, so the fields line up.
        width = max(c.sizeHint().width() for c in captions)
        for caption in captions:
            caption.setMinimumWidth(width)
        self.who_combo.setMaximumWidth(width + 40)
        self.effusion_combo.setMaximumWidth(width + 40)

        self.derived = DerivedRows(
            [
                ("bsa_m2", "Body surface area"),
                *(
                    [
                        ("cardiac_index_l_min_m2", "Cardiac index"),
                        ("tpg_mmhg", "TPG"),
                        ("dpg_mmhg", "DPG"),
                        ("pvr_wu", "PVR"),
                        ("pvr_dyn_s_cm5", "PVR × 80"),
                        ("ph_class", "Haemodynamics"),
                    ]
                    if self.kind == "assessment"
                    else []
                ),
                ("risk", "Risk (COMPERA 2.0)"),
                ("risk_detail", "From"),
            ]
        )
        derived_box = QGroupBox("Derived values (as you type)")
        derived_box.setObjectName("derived_box")
        QVBoxLayout(derived_box).addWidget(self.derived)
        self.derived_box = derived_box

        if self.kind == "assessment":
            columns = (
                ("Clinical", "Laboratory", "Echocardiography"),
                ("Right heart catheter", "derived"),
            )
        else:
            columns = (("Clinical", "Laboratory"), ("Echocardiography", "derived"))
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, 0, 0)
        for n, titles in enumerate(columns):
            column = QVBoxLayout()
            for title in titles:
                column.addWidget(derived_box if title == "derived" else boxes[title])
            column.addStretch(1)
            grid.addLayout(column, 0, n)
            grid.setColumnStretch(n, 1)
        return body

    def focus_first_field(self) -> None:
        self.who_combo.setFocus()

    # ----------------------------------------------------------------- contents

    def snapshot(self) -> tuple[object, ...]:
        base = super().snapshot()
        if not hasattr(self, "who_combo"):
            return base
        return (*base, self.who_combo.currentData(), self.effusion_combo.currentData())

    def fill(self, record: AssessmentRecord) -> None:
        data = record.data
        self.who_combo.setCurrentIndex(max(0, self.who_combo.findData(data.who_fc)))
        index = next(i for i, (_, v) in enumerate(_EFFUSION) if v is data.pericardial_effusion)
        self.effusion_combo.setCurrentIndex(index)
        for name, field in self.fields.items():
            field.set_value(getattr(data, name))
        self.update_derived()

    def values(self) -> dict[str, Decimal | None]:
        return {name: field.value() for name, field in self.fields.items()}

    def collect(self, patient_id: int, study_date: dt.date) -> AssessmentInput:
        values: dict[str, Any] = {
            **self.values(),
            "who_fc": self.who_combo.currentData(),
            "pericardial_effusion": self.effusion_combo.currentData(),
        }
        if self.record is not None:  # keep what this form does not show (a followup's RHC)
            return dataclasses.replace(self.record.data, study_date=study_date, **values)
        return AssessmentInput(patient_id, study_date, kind=self.kind, **values)

    def extra_problems(self) -> dict[str, str]:
        v = self.values()
        dpap, mpap, spap = v.get("dpap_mmhg"), v.get("mpap_mmhg"), v.get("spap_mmhg")
        if mpap is not None and spap is not None and mpap > spap:
            return {"mpap_mmhg": "The mean PA pressure cannot be above the systolic."}
        if dpap is not None and mpap is not None and dpap > mpap:
            return {"dpap_mmhg": "The diastolic PA pressure cannot be above the mean."}
        if dpap is not None and spap is not None and dpap > spap:
            return {"dpap_mmhg": "The diastolic PA pressure cannot be above the systolic."}
        return {}

    def prerequisite_problem(self) -> str | None:
        context = self.patient
        if self.kind != "followup" or context is None:
            return None
        day = self.header.study_date()
        assessments = [
            e
            for e in context.chart.timeline
            if e.kind == "assessment" and e.record_id != self.record_id
        ]
        if any(e.study_date < day for e in assessments):
            return None
        text = (
            f"A followup needs an earlier assessment of this patient, and there is none "
            f"before {format_day(day)}."
        )
        same_day = [e for e in assessments if e.study_date == day]
        if same_day:
            text += " The assessment of that day does not count: a followup comes after it."
        elif assessments:
            first = min(e.study_date for e in assessments)
            text += f" The first assessment is of {format_day(first)}."
        return text + " Enter the assessment first, or enter this visit as an assessment."

    # ----------------------------------------------------------------- derived

    def update_derived(self) -> None:
        if not hasattr(self, "derived"):
            return
        v = self.values()
        height, weight = v["height_cm"], v["weight_kg"]
        self.derived.set("bsa_m2", format_derived("bsa_m2", formulas.bsa(height, weight)))
        if self.kind == "assessment":
            mpap, pawp, co = v["mpap_mmhg"], v["pawp_mmhg"], v["co_l_min"]
            shown = {
                "cardiac_index_l_min_m2": formulas.cardiac_index(co, height, weight),
                "tpg_mmhg": formulas.tpg(mpap, pawp),
                "dpg_mmhg": formulas.dpg(v["dpap_mmhg"], pawp),
                "pvr_wu": formulas.pvr_wood(mpap, pawp, co),
                "pvr_dyn_s_cm5": formulas.pvr_dyn(mpap, pawp, co),
            }
            for name, value in shown.items():
                self.derived.set(name, format_derived(name, value))
            ph = formulas.ph_class(mpap, pawp, co)
            if ph is None and mpap is not None:
                self.derived.set("ph_class", "PH (mPAP > 20 mmHg): PAWP and CO needed to classify")
            else:
                self.derived.set("ph_class", PH_CLASS_TEXT.get(ph or "", None))
        context = self.patient
        walk = nearest_walk(context, self.header.study_date()) if context else None
        stratum, how = describe_risk(
            self.who_combo.currentData(), walk, v["bnp_pg_ml"], v["nt_probnp_pg_ml"]
        )
        self.derived.set("risk", stratum)
        self.derived.set("risk_detail", how)

    # ----------------------------------------------------------------- service

    def conflict_rows(
        self, theirs: AssessmentRecord, mine: AssessmentInput
    ) -> list[tuple[str, str, str]]:
        rows = [
            ("Study date", format_day(theirs.data.study_date), format_day(mine.study_date)),
            ("WHO-FC", _roman(theirs.data.who_fc), _roman(mine.who_fc)),
        ]
        for columns in SECTIONS.values():
            for column, label in columns:
                limits = _RANGES[column]
                unit = f" {limits.unit}" if limits.unit else ""
                a, b = getattr(theirs.data, column), getattr(mine, column)
                rows.append(
                    (
                        label if column != "rhc_heart_rate_bpm" else "Heart rate (catheter)",
                        "—" if a is None else f"{_plain(a)}{unit}",
                        "—" if b is None else f"{_plain(b)}{unit}",
                    )
                )
        rows.append(
            (
                "Pericardial effusion",
                _effusion(theirs.data.pericardial_effusion),
                _effusion(mine.pericardial_effusion),
            )
        )
        return rows

    def service_get(self, session: Any, record_id: int) -> AssessmentRecord:
        return chart_service.get_assessment(session, record_id)

    def service_create(self, session: Any, data: AssessmentInput) -> AssessmentRecord:
        return chart_service.create_assessment(session, data)

    def service_update(
        self, session: Any, record_id: int, version: int, data: AssessmentInput
    ) -> AssessmentRecord:
        return chart_service.update_assessment(session, record_id, version, data)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _roman(who_fc: int | None) -> str:
    return "—" if who_fc is None else ROMAN[who_fc]


def _effusion(value: bool | None) -> str:
    return next(text for text, v in _EFFUSION if v is value)
