"""Assessment and followup: one visit's WHO-FC, vitals, labs, echo and right heart catheter.

A **followup** is an assessment with fewer fields (no right heart catheter) and
needs an earlier assessment of the same patient: the form says so as soon as the
patient and the study date are known, and again if the database refuses.

Derived values are computed live from what is typed (``phms_client.clinical``),
never fetched: BSA, cardiac index, TPG, DPG, PVR in Wood units and dyn·s·cm⁻⁵,
stroke volume index, TAPSE/sPAP, the haemodynamic PH class, and the risk on the
scale that applies: the ESC/ERS 2022 three strata with the grade of each variable
for the patient's first assessment (``risk_preview``), the COMPERA 2.0 four strata
(WHO-FC, the 6-minute walk nearest in date within 14 days, NT-proBNP or BNP) for
every later visit. The database stores its own copy of each; they agree by
construction (tested). Pressures that do not add up (PAWP above mPAP, mPAP 0, the
order dPAP ≤ mPAP ≤ sPAP) are said as they are typed.
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
from phms_client.clinical import risk_diagnosis as rd
from phms_client.clinical.consistency import pressure_problems
from phms_client.clinical.demographics import format_day
from phms_client.clinical.ranges import FIELD_RANGES
from phms_client.services import chart as chart_service
from phms_client.services.chart import AssessmentInput, AssessmentRecord
from phms_client.services.chart_risk import FOLLOWUP_SCALE
from phms_client.ui.chart.record_forms.base import RecordForm
from phms_client.ui.chart.record_forms.common import ROMAN, format_derived, show_number
from phms_client.ui.chart.record_forms.fields import DecimalField, DerivedRows
from phms_client.ui.chart.record_forms.risk_preview import (
    CHOICES,
    choice_text,
    describe_risk,
    describe_risk_at_diagnosis,
    is_at_diagnosis,
    nearest_walk,
)
from phms_client.ui.shared.context import AppContext

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
        ("echo_spap_mmhg", "sPAP (echo)"),
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
    "Exercise test (CPET, optional)": (
        ("peak_vo2_ml_min_kg", "Peak VO2"),
        ("ve_vco2_slope", "VE/VCO2 slope"),
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
#: Signs and symptoms (assessments only): column -> combo, from ``risk_preview.CHOICES``.
SIGNS: Final = ("rhf_signs", "symptom_progression", "syncope")
_PRESSURES: Final = ("spap_mmhg", "dpap_mmhg", "mpap_mmhg", "pawp_mmhg")


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
        self.choices: dict[str, QComboBox] = {}
        for column in ("pericardial_effusion", *SIGNS):
            combo = QComboBox()
            combo.setObjectName(column)
            for text, value in CHOICES[column][1]:
                combo.addItem(text, value)
            combo.currentIndexChanged.connect(lambda _: self.update_derived())
            self.choices[column] = combo
        self.effusion_combo = self.choices["pericardial_effusion"]

        sections: dict[str, Any] = (
            {"Signs and symptoms": (), **SECTIONS}
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
            if title == "Signs and symptoms":
                for column in SIGNS:
                    caption = QLabel(CHOICES[column][0] + ":")
                    caption.setBuddy(self.choices[column])
                    form.addRow(caption, self.choices[column])
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
        for combo in self.choices.values():
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

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
                        ("svi_ml_m2", "Stroke volume index"),
                        ("ph_class", "Haemodynamics"),
                    ]
                    if self.kind == "assessment"
                    else []
                ),
                ("tapse_spap", "TAPSE/sPAP"),
                *(
                    [("risk3", rd.SCALE), ("risk3_detail", "Grades")]
                    if self.kind == "assessment"
                    else []
                ),
                ("risk", FOLLOWUP_SCALE),
                ("risk_detail", "From"),
            ]
        )
        derived_box = QGroupBox("Derived values (as you type)")
        derived_box.setObjectName("derived_box")
        QVBoxLayout(derived_box).addWidget(self.derived)
        self.derived_box = derived_box

        if self.kind == "assessment":
            columns = (
                ("Clinical", "Signs and symptoms", "Laboratory", "Echocardiography"),
                ("Right heart catheter", "Exercise test (CPET, optional)", "derived"),
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
        return (
            *base,
            self.who_combo.currentData(),
            *(combo.currentData() for combo in self.choices.values()),
        )

    def fill(self, record: AssessmentRecord) -> None:
        data = record.data
        self.who_combo.setCurrentIndex(max(0, self.who_combo.findData(data.who_fc)))
        for column, combo in self.choices.items():
            value = getattr(data, column)
            index = next(
                (n for n, (_, v) in enumerate(CHOICES[column][1])
                 if v is not None and value is not None and type(v) is type(value) and v == value),
                0,
            )  # fmt: skip
            combo.setCurrentIndex(index)
        for name, field in self.fields.items():
            field.set_value(getattr(data, name))
        self.update_derived()

    def values(self) -> dict[str, Decimal | None]:
        return {name: field.value() for name, field in self.fields.items()}

    def collect(self, patient_id: int, study_date: dt.date) -> AssessmentInput:
        values: dict[str, Any] = {
            **self.values(),
            "who_fc": self.who_combo.currentData(),
            **{
                column: combo.currentData()
                for column, combo in self.choices.items()
                if column == "pericardial_effusion" or self.kind == "assessment"
            },
        }
        if self.record is not None:  # keep what this form does not show (a followup's RHC)
            return dataclasses.replace(self.record.data, study_date=study_date, **values)
        return AssessmentInput(patient_id, study_date, kind=self.kind, **values)

    def extra_problems(self) -> dict[str, str]:
        """PAWP ≤ mPAP, mPAP > 0, dPAP ≤ mPAP ≤ sPAP (``clinical.consistency``)."""
        v = self.values()
        return pressure_problems(
            spap=v.get("spap_mmhg"),
            dpap=v.get("dpap_mmhg"),
            mpap=v.get("mpap_mmhg"),
            pawp=v.get("pawp_mmhg"),
        )

    def _show_pressure_problems(self) -> None:
        """Said as typed: a field with no problem of its own shows the rule it breaks."""
        problems = self.extra_problems()
        for column in _PRESSURES:
            field = self.fields.get(column)
            if field is None or field.problem() is not None:
                continue
            if field.shown_problem() != problems.get(column, ""):
                field.show_problem(problems.get(column))

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
            if {"mpap_mmhg", "pawp_mmhg"} & set(self.extra_problems()):
                # Refused, not classified: a negative TPG is a typing error.
                for name in ("tpg_mmhg", "pvr_wu", "pvr_dyn_s_cm5", "ph_class"):
                    self.derived.set(name, "— (the pressures do not add up)")
            elif ph is None and mpap is not None:
                self.derived.set("ph_class", "PH (mPAP > 20 mmHg): PAWP and CO needed to classify")
            else:
                self.derived.set("ph_class", PH_CLASS_TEXT.get(ph or "", None))
        self._update_diagnosis_values(v)
        if self.kind == "assessment":
            self._show_pressure_problems()
        context = self.patient
        day = self.header.study_date()
        walk = nearest_walk(context, day) if context else None
        at_diagnosis = self.kind == "assessment" and (
            context is None or is_at_diagnosis(context.chart.timeline, day, self.record_id)
        )
        if at_diagnosis:
            inputs = self._diagnosis_inputs(v, walk)
            stratum3, grades = describe_risk_at_diagnosis(inputs, walk)
            self.derived.set("risk3", stratum3)
            self.derived.set("risk3_detail", grades)
            self.derived.set("risk", "not shown: the four strata are validated at follow-up only")
            self.derived.set("risk_detail", "this is the patient's first assessment")
            return
        if self.kind == "assessment":
            self.derived.set("risk3", "applies to the patient's first assessment only")
            self.derived.set("risk3_detail", None)
        stratum, how = describe_risk(
            self.who_combo.currentData(), walk, v["bnp_pg_ml"], v["nt_probnp_pg_ml"]
        )
        self.derived.set("risk", stratum)
        self.derived.set("risk_detail", how)

    def _diagnosis_inputs(self, v: dict[str, Decimal | None], walk: Any) -> rd.DiagnosisInputs:
        def choice(column: str) -> Any:
            return self.choices[column].currentData()

        return rd.DiagnosisInputs(
            rhf_signs=choice("rhf_signs"),
            symptom_progression=choice("symptom_progression"),
            syncope=choice("syncope"),
            who_fc=self.who_combo.currentData(),
            walk_m=None if walk is None else walk.data.distance_m,
            pericardial_effusion=choice("pericardial_effusion"),
            **{
                name: v.get(name)
                for name in (
                    "bnp_pg_ml", "nt_probnp_pg_ml", "ra_area_cm2", "tapse_mm", "echo_spap_mmhg",
                    "peak_vo2_ml_min_kg", "ve_vco2_slope", "rap_mmhg", "co_l_min", "height_cm",
                    "weight_kg", "rhc_heart_rate_bpm", "svo2_pct",
                )
            },
        )  # fmt: skip

    def _update_diagnosis_values(self, v: dict[str, Decimal | None]) -> None:
        """Stroke volume index and TAPSE/sPAP, as the database derives them."""
        tapse, spap = v.get("tapse_mm"), v.get("echo_spap_mmhg")
        ratio = None if tapse is None or spap is None else tapse / spap
        self.derived.set("tapse_spap", show_number(ratio, 2, "mm/mmHg") if ratio else None)
        if self.kind == "assessment":
            svi = rd.stroke_volume_index(
                v["co_l_min"], v["height_cm"], v["weight_kg"], v["rhc_heart_rate_bpm"]
            )
            self.derived.set("svi_ml_m2", None if svi is None else show_number(svi, 1, "mL/m²"))

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
        for column in ("pericardial_effusion", *SIGNS):
            rows.append(
                (
                    CHOICES[column][0],
                    choice_text(column, getattr(theirs.data, column)),
                    choice_text(column, getattr(mine, column)),
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
