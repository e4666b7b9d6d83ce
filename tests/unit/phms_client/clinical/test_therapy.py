"""PAH therapy: classes of list medicines, the regimen on a date, its changes."""

from __future__ import annotations

import datetime as dt

import pytest

from phms_client.clinical import therapy
from phms_client.clinical.therapy import Treatment, regimen_on
from phms_schema import ddl_diagnosis

DAY = dt.date(2026, 1, 1)


def later(days: int) -> dt.date:
    return DAY + dt.timedelta(days=days)


def test_the_database_knows_the_same_classes() -> None:
    assert dict(therapy.KNOWN_MEDICINES) == ddl_diagnosis.KNOWN_MEDICINES
    assert therapy.CLASSES == ddl_diagnosis.THERAPY_CLASSES


@pytest.mark.parametrize(
    ("name", "cls"),
    [("bosentan", "era"), (" Tadalafil ", "pde5i"), ("riociguat", "sgc"),
     ("selexipag", "prostacyclin"), ("sotatercept", "activin"), ("amlodipine", "ccb"),
     ("warfarin", "other")],
)  # fmt: skip
def test_class_of_listed(name: str, cls: str) -> None:
    assert therapy.class_of_listed(name) == cls


def test_list_entry_and_suggestion() -> None:
    listed = ["bosentan", "ambrisentan", "macitentan", "sildenafil"]
    assert therapy.list_entry("  BOSENTAN ", listed) == "bosentan"
    assert therapy.list_entry("Bosen", listed) is None
    assert therapy.suggestion("Bosen", listed) == "bosentan"
    assert therapy.suggestion("sildenafill", listed) == "sildenafil"
    assert therapy.suggestion("xyz", listed) is None


def t(name: str, cls: str | None, start: int, stop: int | None = None) -> Treatment:
    return Treatment(name, cls, later(start), None if stop is None else later(stop))


@pytest.mark.parametrize(
    ("entries", "text"),
    [
        ([], "none"),
        ([t("bosentan", "era", 0)], "monotherapy (ERA)"),
        ([t("bosentan", "era", 0), t("tadalafil", "pde5i", 0)],
         "double combination (ERA + PDE5i)"),
        ([t("macitentan", "era", 0), t("tadalafil", "pde5i", 0), t("selexipag", "prostacyclin", 0)],
         "triple combination (ERA + PDE5i + prostacyclin pathway)"),
        ([t("bosentan", "era", 0), t("ambrisentan", "era", 0)], "monotherapy (ERA)"),
        ([t("amlodipine", "ccb", 0)], "monotherapy (CCB)"),
        ([t("amlodipine", "ccb", 0), t("sildenafil", "pde5i", 0)],
         "monotherapy (PDE5i) with calcium-channel blocker"),
        ([t("Bosen", None, 0), t("warfarin", "other", 0)], "none"),  # free text, other
        ([t("bosentan", "era", 0, 5)], "none"),  # stopped on day 5 (before day 10)
        ([t("bosentan", "era", 20)], "none"),  # not started yet
    ],
)  # fmt: skip
def test_regimen_on_day_10(entries: list[Treatment], text: str) -> None:
    assert regimen_on(entries, later(10)).text == text


def test_changes_escalation_switch_and_de_escalation() -> None:
    entries = [
        t("bosentan", "era", 0, 30),
        t("macitentan", "era", 30),  # switch within the class: no change of regimen
        t("tadalafil", "pde5i", 60),
        t("selexipag", "prostacyclin", 90, 120),
    ]
    assert [(c.day, c.direction, c.after.level) for c in therapy.changes(entries)] == [
        (later(0), "escalation", "monotherapy"),
        (later(60), "escalation", "double combination"),
        (later(90), "escalation", "triple combination"),
        (later(120), "de-escalation", "double combination"),
    ]
    ccb_to_targeted = [t("amlodipine", "ccb", 0), t("sildenafil", "pde5i", 30)]
    change = therapy.changes(ccb_to_targeted)[1]
    assert change.direction == "switch" and change.text == (
        "switch: monotherapy (CCB) → monotherapy (PDE5i) with calcium-channel blocker"
    )
