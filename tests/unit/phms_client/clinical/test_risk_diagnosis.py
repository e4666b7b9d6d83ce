"""ESC/ERS 2022 three strata at diagnosis: the guideline's table, edge by edge, in Python.

The database's view is compared with these rules in tests/db/test_clinical_risk_diagnosis.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phms_client.clinical import risk
from phms_client.clinical import risk_diagnosis as rd

D = Decimal

# (grade function, value, grade): both sides of every cut-off named in the table.
EDGES = [
    (rd.grade_walk, 441, 1), (rd.grade_walk, 440, 2), (rd.grade_walk, 165, 2),
    (rd.grade_walk, D("164.9"), 3),
    (rd.grade_bnp, D("49.9"), 1), (rd.grade_bnp, 50, 2), (rd.grade_bnp, 800, 2),
    (rd.grade_bnp, D("800.1"), 3),
    (rd.grade_nt_probnp, D("299.9"), 1), (rd.grade_nt_probnp, 300, 2),
    (rd.grade_nt_probnp, 1100, 2), (rd.grade_nt_probnp, D("1100.1"), 3),
    (rd.grade_ra_area, D("17.9"), 1), (rd.grade_ra_area, 18, 2), (rd.grade_ra_area, 26, 2),
    (rd.grade_ra_area, D("26.1"), 3),
    (rd.grade_peak_vo2, D("15.1"), 1), (rd.grade_peak_vo2, 15, 2), (rd.grade_peak_vo2, 11, 2),
    (rd.grade_peak_vo2, D("10.9"), 3),
    (rd.grade_ve_vco2, D("35.9"), 1), (rd.grade_ve_vco2, 36, 2), (rd.grade_ve_vco2, 44, 2),
    (rd.grade_ve_vco2, D("44.1"), 3),
    (rd.grade_rap, D("7.9"), 1), (rd.grade_rap, 8, 2), (rd.grade_rap, 14, 2),
    (rd.grade_rap, D("14.1"), 3),
    (rd.grade_cardiac_index, D("2.5"), 1), (rd.grade_cardiac_index, D("2.45"), 2),
    (rd.grade_cardiac_index, D("2.0"), 2), (rd.grade_cardiac_index, D("1.99"), 3),
    (rd.grade_svi, D("38.1"), 1), (rd.grade_svi, 38, 2), (rd.grade_svi, 31, 2),
    (rd.grade_svi, D("30.9"), 3),
    (rd.grade_svo2, D("65.1"), 1), (rd.grade_svo2, 65, 2), (rd.grade_svo2, 60, 2),
    (rd.grade_svo2, D("59.9"), 3),
    (rd.grade_who_fc, 1, 1), (rd.grade_who_fc, 2, 1), (rd.grade_who_fc, 3, 2),
    (rd.grade_who_fc, 4, 3),
    (rd.grade_rhf, False, 1), (rd.grade_rhf, True, 3),
    (rd.grade_progression, "none", 1), (rd.grade_progression, "slow", 2),
    (rd.grade_progression, "rapid", 3),
    (rd.grade_syncope, "none", 1), (rd.grade_syncope, "occasional", 2),
    (rd.grade_syncope, "repeated", 3),
    (rd.grade_effusion, "none", 1), (rd.grade_effusion, "minimal", 2),
    (rd.grade_effusion, "moderate or large", 3), (rd.grade_effusion, "present", None),
]  # fmt: skip


@pytest.mark.parametrize(("grade", "value", "expected"), EDGES)
def test_cut_offs(grade: object, value: object, expected: int | None) -> None:
    assert grade(value) == expected  # type: ignore[operator]
    assert grade(None) is None  # type: ignore[operator]


@pytest.mark.parametrize(
    ("tapse", "spap", "expected"),
    # 18/50 = 0.36; 16.1/50 = 0.322; 16/50 = 0.32; 9.5/50 = 0.19; 9.4/50 = 0.188
    [(18, 50, 1), (D("16.1"), 50, 1), (16, 50, 2), (D("9.5"), 50, 2), (D("9.4"), 50, 3)],
)
def test_tapse_spap_is_mm_per_mmhg(tapse: object, spap: object, expected: int) -> None:
    assert rd.grade_tapse_spap(tapse, spap) == expected  # type: ignore[arg-type]
    assert rd.grade_tapse_spap(tapse, None) is None  # type: ignore[arg-type]


def test_stroke_volume_index_is_ci_times_1000_over_heart_rate() -> None:
    # BSA 2 m² (180 cm, 80 kg): CO 3.8 -> CI 1.9 -> at 50/min 38 mL/m².
    assert rd.stroke_volume_index(D("3.8"), 180, 80, 50) == 38
    assert rd.stroke_volume_index(D("3.8"), 180, 80, None) is None
    assert rd.stroke_volume_index(None, 180, 80, 50) is None


IMPOSSIBLE = [
    (rd.grade_who_fc, 5), (rd.grade_who_fc, 0), (rd.grade_walk, -1), (rd.grade_walk, 1001),
    (rd.grade_bnp, -5), (rd.grade_nt_probnp, 100001), (rd.grade_svo2, 101), (rd.grade_rap, 41),
    (rd.grade_progression, "fast"), (rd.grade_syncope, "often"), (rd.grade_effusion, "yes"),
    (rd.grade_cardiac_index, 0), (rd.grade_svi, -1),
    (risk.grade_who_fc, 5), (risk.grade_walk, -1), (risk.grade_bnp, -5),
    (risk.grade_nt_probnp, -1), (risk.grade_walk, D("NaN")),
]  # fmt: skip


@pytest.mark.parametrize(("grade", "value"), IMPOSSIBLE)
def test_impossible_values_are_refused_not_graded(grade: object, value: object) -> None:
    with pytest.raises(rd.ImpossibleValue):
        grade(value)  # type: ignore[operator]


CASES = {
    "two variables are not enough": ({"who_fc": 4, "rap_mmhg": 20}, (None, 2)),
    "three are enough": ({"who_fc": 4, "rap_mmhg": 20, "svo2_pct": 70}, (2, 3)),
    "1.5 rounds up": ({"who_fc": 2, "rap_mmhg": 10, "svo2_pct": 70, "ra_area_cm2": 20}, (2, 4)),
    "2.5 rounds up": ({"who_fc": 3, "rap_mmhg": 20, "svo2_pct": 62, "ra_area_cm2": 30}, (3, 4)),
    "NT-proBNP over BNP": ({"bnp_pg_ml": 30, "nt_probnp_pg_ml": 2000, "who_fc": 4,
                            "rap_mmhg": 20}, (3, 3)),
    "the walk counts": ({"walk_m": 100, "who_fc": 4, "rap_mmhg": 20}, (3, 3)),
}  # fmt: skip


@pytest.mark.parametrize(("values", "expected"), CASES.values(), ids=CASES.keys())
def test_stratum(values: dict[str, object], expected: tuple[int | None, int]) -> None:
    result = rd.assess(rd.DiagnosisInputs(**values))  # type: ignore[arg-type]
    assert (result.stratum, result.n_variables) == expected
    if result.stratum is not None:
        assert result.label == rd.LABELS[result.stratum]


def test_peptide_used_is_named() -> None:
    both = rd.assess(rd.DiagnosisInputs(bnp_pg_ml=30, nt_probnp_pg_ml=2000))
    assert (both.peptide, both.grades["peptide"]) == ("NT-proBNP", 3)
    assert rd.assess(rd.DiagnosisInputs(bnp_pg_ml=30)).peptide == "BNP"


@given(st.lists(st.integers(1, 3), min_size=3, max_size=15))
def test_stratum_is_mean_rounded_half_up(grades: list[int]) -> None:
    mean = Decimal(sum(grades)) / len(grades)
    assert rd.stratum(list(grades)) == int(mean.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
