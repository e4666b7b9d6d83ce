"""Plausible ranges: the hard limits of every clinical number (PH_DOMAIN.md).

One table for the forms (label, unit, limits, the message the user sees). The
database holds the same limits as CHECK constraints named
``ck_<table>_<column>_range`` (migration 0003 copies the values, so the
migration stays a frozen snapshot); ``tests/db/test_clinical_ranges.py`` reads
them back from ``pg_constraint`` and fails if the two ever disagree.

Limits are inclusive. Values not given in PH_DOMAIN.md (sPAP, dPAP, creatinine,
echo, oxygen flow, stops) are PHMS decisions, marked "ours" below.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType


class ImpossibleValue(ValueError):
    """A value outside its plausible range: a preview refuses it instead of grading it."""


@dataclass(frozen=True)
class Range:
    label: str
    unit: str
    minimum: Decimal
    maximum: Decimal

    @property
    def message(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.label} must be between {_show(self.minimum)} and {_show(self.maximum)}{unit}"

    def contains(self, value: Decimal | float | int) -> bool:
        number = Decimal(str(value))
        return number.is_finite() and self.minimum <= number <= self.maximum

    def checked(self, value: Decimal | float | int) -> Decimal:
        """``value`` as a Decimal; :class:`ImpossibleValue` when it is out of range."""
        if isinstance(value, bool) or not self.contains(value):
            raise ImpossibleValue(self.message)
        return value if isinstance(value, Decimal) else Decimal(str(value))


def _show(value: Decimal) -> str:
    return format(value.normalize(), "f").replace("-", "\N{MINUS SIGN}")


def _r(label: str, unit: str, minimum: str, maximum: str) -> Range:
    return Range(label, unit, Decimal(minimum), Decimal(maximum))


HEIGHT = _r("Height", "cm", "30", "250")
WEIGHT = _r("Weight", "kg", "1", "400")
HEART_RATE = _r("Heart rate", "/min", "20", "250")
SPO2 = _r("SpO2", "%", "40", "100")
RAP = _r("Right atrial pressure", "mmHg", "-5", "40")
SPAP = _r("Systolic PA pressure", "mmHg", "0", "250")  # ours
DPAP = _r("Diastolic PA pressure", "mmHg", "0", "150")  # ours
MPAP = _r("Mean PA pressure", "mmHg", "0", "150")
PAWP = _r("PAWP", "mmHg", "0", "60")
CARDIAC_OUTPUT = _r("Cardiac output", "L/min", "0.5", "20")
SVO2 = _r("SvO2", "%", "10", "100")
WALK_DISTANCE = _r("6-minute walk distance", "m", "0", "1000")
BORG = _r("Borg score", "", "0", "10")
BNP = _r("BNP", "pg/mL", "0", "50000")
NT_PROBNP = _r("NT-proBNP", "pg/mL", "0", "100000")
CREATININE = _r("Creatinine", "µmol/L", "5", "3000")  # ours
TAPSE = _r("TAPSE", "mm", "1", "60")  # ours
RA_AREA = _r("Right atrial area", "cm²", "1", "100")  # ours
WHO_FC = _r("WHO functional class", "", "1", "4")
OXYGEN_FLOW = _r("Oxygen flow", "L/min", "0.1", "15")  # ours
STOPS = _r("Number of stops", "", "0", "50")  # ours
ECHO_SPAP = _r("Systolic PA pressure on echo", "mmHg", "5", "250")  # ours (0012)
PEAK_VO2 = _r("Peak VO2", "mL/min/kg", "1", "80")  # ours (0012)
VE_VCO2 = _r("VE/VCO2 slope", "", "10", "100")  # ours (0012)

#: table -> column -> range; every entry is a CHECK constraint in the database.
FIELD_RANGES: MappingProxyType[str, MappingProxyType[str, Range]] = MappingProxyType(
    {
        table: MappingProxyType(columns)
        for table, columns in {
            "assessment": {
                "who_fc": WHO_FC,
                "height_cm": HEIGHT,
                "weight_kg": WEIGHT,
                "heart_rate_bpm": HEART_RATE,
                "spo2_pct": SPO2,
                "bnp_pg_ml": BNP,
                "nt_probnp_pg_ml": NT_PROBNP,
                "creatinine_umol_l": CREATININE,
                "tapse_mm": TAPSE,
                "ra_area_cm2": RA_AREA,
                "rap_mmhg": RAP,
                "spap_mmhg": SPAP,
                "dpap_mmhg": DPAP,
                "mpap_mmhg": MPAP,
                "pawp_mmhg": PAWP,
                "co_l_min": CARDIAC_OUTPUT,
                "svo2_pct": SVO2,
                "rhc_heart_rate_bpm": HEART_RATE,
                "echo_spap_mmhg": ECHO_SPAP,
                "peak_vo2_ml_min_kg": PEAK_VO2,
                "ve_vco2_slope": VE_VCO2,
            },
            "vasodilator_step": {
                "mpap_mmhg": MPAP,
                "pawp_mmhg": PAWP,
                "co_l_min": CARDIAC_OUTPUT,
                "spap_mmhg": SPAP,
                "dpap_mmhg": DPAP,
                "heart_rate_bpm": HEART_RATE,
                "svo2_pct": SVO2,
            },
            "six_minute_walk": {
                "oxygen_l_min": OXYGEN_FLOW,
                "distance_m": WALK_DISTANCE,
                "stops": STOPS,
                "spo2_before_pct": SPO2,
                "spo2_after_pct": SPO2,
                "heart_rate_before_bpm": HEART_RATE,
                "heart_rate_after_bpm": HEART_RATE,
                "borg_before": BORG,
                "borg_after": BORG,
            },
        }.items()
    }
)


def range_for(table: str, column: str) -> Range | None:
    return FIELD_RANGES.get(table, MappingProxyType({})).get(column)


def problem(table: str, column: str, value: Decimal | float | int | None) -> str | None:
    """The message to show for ``value``, or None when it is acceptable (or empty)."""
    limits = range_for(table, column)
    if value is None or limits is None or limits.contains(value):
        return None
    return limits.message
