"""Report templates cannot freeze a workstation: every render and every save is bounded.

Against a real server: a hostile template is refused when it is saved (with the
reason and the template's name), and one that reached the table some other way
is stopped when a report is made. Durations asserted are generous on purpose:
they prove nothing hangs; speed is for the benchmarks.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.reports import bounded
from phms_client.reports.engine import TemplateProblem
from phms_client.services import reports
from phms_client.services.report_samples import sample_contexts
from phms_client.services.reports import TemplateInput
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase

NOT_HANGING_S = 30.0
LOOPS = (
    "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
#: The attack classes tried, with the reason the admin is given.
HOSTILE = {
    "repetition": ("{{ 'a' * 10**9 }}", "line 1: it asks for a text of 1,000,000,000 characters"),
    "power": ("{% if 3**50000000 > 1 %}big{% endif %}", "line 1: it asks for a power too large"),
    "range": ("{{ range(10**7)|length }}", "line 1: it asks for a range of 10,000,000 items"),
    "nested loops": (LOOPS, ": it took longer than 2 s and was stopped"),
    "recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", ": the template calls itself"),
    "memory": ("{{ 'a'|center(10**9) }}", ": it used more than 256 MB and was stopped"),
    "wide format": ("{{ '{:>999999999}'.format(1) }}", ": it used more than 256 MB"),
    "escape": ("{{ ''.__class__.__mro__ }}", "line 1: the template tried something"),
    "output": (
        "{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}",
        ": the report would be longer than 2,000,000 characters",
    ),
}


@pytest.fixture(scope="module")
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    with migrated_database(pg_server) as database:
        yield database
    bounded.shutdown()


@pytest.fixture(scope="module")
def engines(own_db: PgDatabase) -> Iterator[dict[str, sa.Engine]]:
    engines = {u: own_db.engine_for(u) for u in ("t_clinician", "t_admin")}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(scope="module")
def patient(engines: dict[str, sa.Engine]) -> int:
    with engines["t_clinician"].begin() as conn:
        pid: int = add_person(conn, family_name="Bound", given_name="Ada", ph_group=1)["id"]
        insert(
            conn,
            "assessment",
            patient_id=pid,
            kind="assessment",
            study_date=dt.date.today() - dt.timedelta(days=10),
            who_fc=2,
            height_cm=Decimal(170),
            weight_kg=Decimal(70),
            mpap_mmhg=Decimal(40),
            pawp_mmhg=Decimal(10),
            co_l_min=Decimal(4),
        )
    return pid


def store_directly(engine: sa.Engine, name: str, kind: str, body: str) -> int:
    """Write a template past the client's check (as an older client, or psql, could)."""
    with engine.begin() as conn:
        new_id: int = conn.execute(
            sa.text(
                "INSERT INTO phms.report_template (name, kind, body)"
                " VALUES (:n, :k, :b) RETURNING id"
            ),
            {"n": name, "k": kind, "b": body},
        ).scalar_one()
    return new_id


def names(engine: sa.Engine) -> set[str]:
    with Session(engine) as s:
        return {t.name for t in reports.list_templates(s)}


@pytest.mark.parametrize("attack", list(HOSTILE))
def test_a_hostile_template_is_not_saved(engines: dict[str, sa.Engine], attack: str) -> None:
    body, why = HOSTILE[attack]
    start = time.monotonic()
    with Session(engines["t_admin"]) as s, s.begin(), pytest.raises(TemplateProblem) as info:
        reports.create_template(s, TemplateInput(f"Hostile {attack}", "individual", body))
    assert time.monotonic() - start < NOT_HANGING_S
    assert str(info.value).startswith(f"Template “Hostile {attack}”")
    assert why in str(info.value)
    assert f"Hostile {attack}" not in names(engines["t_admin"])


@pytest.mark.parametrize("attack", ["repetition", "power", "nested loops", "recursion", "memory"])
def test_a_hostile_template_already_stored_is_stopped_when_printing(
    engines: dict[str, sa.Engine], patient: int, attack: str
) -> None:
    body, why = HOSTILE[attack]
    template_id = store_directly(engines["t_admin"], f"Stored {attack}", "individual", body)
    start = time.monotonic()
    with Session(engines["t_clinician"]) as s, s.begin(), pytest.raises(TemplateProblem) as info:
        reports.render_individual(s, template_id, patient)
    assert time.monotonic() - start < NOT_HANGING_S
    assert str(info.value).startswith(f"Template “Stored {attack}”")
    assert why in str(info.value)
    # The workstation goes on: the clinic letter still prints, in a fresh report process.
    with Session(engines["t_clinician"]) as s, s.begin():
        letter = next(t for t in reports.list_templates(s) if t.name == "Clinic letter")
        html = reports.render_individual(s, letter.id, patient).html
    assert "Ada Bound" in html
    assert len(multiprocessing.active_children()) <= bounded.KEEP_WARM


def test_an_edit_that_breaks_a_template_is_not_saved(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_admin"]) as s, s.begin():
        saved = reports.create_template(
            s, TemplateInput("Good note", "statistical", "<p>{{ cohort.seen }}</p>")
        )
    with Session(engines["t_admin"]) as s, s.begin(), pytest.raises(TemplateProblem) as info:
        reports.update_template(
            s, saved.id, saved.version, TemplateInput("Good note", "statistical", LOOPS)
        )
    assert str(info.value) == "Template “Good note”: it took longer than 2 s and was stopped"
    with Session(engines["t_admin"]) as s:
        assert reports.get_template(s, saved.id).body == "<p>{{ cohort.seen }}</p>"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("<p>{{ patient.nmae }}</p>", "line 1: 'mappingproxy object' has no attribute 'nmae'"),
        # Fine for a patient with a height and weight, broken for a new patient:
        (
            "<p>BMI {{ body.bmi|num(1) }}</p>",
            "line 1: it does not work for a patient with nothing recorded yet: ",
        ),
        ("<p>{{ cohort.seen }}</p>", "'cohort' is undefined"),  # the other kind's field
    ],
)
def test_a_template_that_fails_on_sample_data_is_not_saved(
    engines: dict[str, sa.Engine], body: str, why: str
) -> None:
    with Session(engines["t_admin"]) as s, s.begin(), pytest.raises(TemplateProblem) as info:
        reports.create_template(s, TemplateInput("Sample check", "individual", body))
    assert why in str(info.value)


def test_length_limits_are_checked_before_saving(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_admin"]) as s, pytest.raises(ValueError, match="200,000"):
        reports.create_template(s, TemplateInput("Long", "individual", "x" * 200_001))
    with Session(engines["t_admin"]) as s, pytest.raises(ValueError, match="200 characters"):
        reports.create_template(s, TemplateInput("n" * 201, "individual", "x"))


def paths(value: Any, prefix: str = "") -> set[str]:
    """Every field path in a context (a list's fields through its first item)."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, inner in value.items():
            found.add(prefix + key)
            found |= paths(inner, f"{prefix}{key}.")
    elif isinstance(value, tuple) and value:
        found |= paths(value[0], f"{prefix}[].")
    return found


def test_sample_data_has_every_field_of_real_data(
    engines: dict[str, sa.Engine], patient: int
) -> None:
    with Session(engines["t_clinician"]) as s, s.begin():
        real = reports.individual_context(s, patient)
        cohort, _ = reports.statistical_context(s)
    full, empty = sample_contexts("individual")
    assert paths(real) <= paths(full)
    assert set(real) == set(full) == set(empty)
    for key in ("medications", "allergies", "comorbidities", "risk_course", "walks"):
        assert full[key], f"the full sample has {key}"
    full, empty = sample_contexts("statistical")
    assert paths(cohort) <= paths(full)
    assert set(cohort) == set(full) == set(empty)
