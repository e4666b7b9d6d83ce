"""Body measures for reports: BMI and ideal body weight (no Qt, no database).

Ideal body weight is the **Devine formula** (1974), the one most drug-dosing
references use: men ``50 kg + 2.3 kg × (height in inches − 60)``, women
``45.5 kg + 2.3 kg × (height in inches − 60)``, with 1 inch = 2.54 cm. It is
given only for heights 140–250 cm (below that the straight line leaves the
range it was made for) and for sex male or female; otherwise ``None``, and a
template's condition on it (e.g. "(Obese)" when weight / ideal weight > 1.5,
the PHMS example) simply does not apply.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

CM_PER_INCH: Final = Decimal("2.54")
DEVINE_BASE_KG: Final = {"male": Decimal(50), "female": Decimal("45.5")}
DEVINE_KG_PER_INCH: Final = Decimal("2.3")
MIN_HEIGHT_CM: Final = Decimal(140)
MAX_HEIGHT_CM: Final = Decimal(250)


def ideal_weight_kg(sex: str, height_cm: Decimal | None) -> Decimal | None:
    """Devine ideal body weight in kg, to 0.1 kg; None when it does not apply."""
    base = DEVINE_BASE_KG.get(sex)
    if base is None or height_cm is None or not MIN_HEIGHT_CM <= height_cm <= MAX_HEIGHT_CM:
        return None
    inches = height_cm / CM_PER_INCH
    return (base + DEVINE_KG_PER_INCH * (inches - 60)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def bmi(height_cm: Decimal | None, weight_kg: Decimal | None) -> Decimal | None:
    """Body mass index, kg/m² (full precision; round for display)."""
    if height_cm is None or weight_kg is None or height_cm <= 0:
        return None
    metres = height_cm / 100
    return weight_kg / (metres * metres)


def weight_to_ideal(
    sex: str, height_cm: Decimal | None, weight_kg: Decimal | None
) -> Decimal | None:
    """Weight / ideal weight (e.g. > 1.5 is marked obese in the default letter)."""
    ideal = ideal_weight_kg(sex, height_cm)
    if ideal is None or weight_kg is None or ideal <= 0:
        return None
    return weight_kg / ideal
