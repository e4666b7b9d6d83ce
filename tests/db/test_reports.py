"""Reports against a real server: templates and their rights, letters, cohort statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_admin import embedded
from phms_client.reports.engine import TemplateProblem
from phms_client.services import reports
from phms_client.services.reports import StaleTemplate, TemplateInput
from tests.db.clinical_data import insert
from tests.db.reports_data import add_person, migrated_database
from tests.harness import PgDatabase

TODAY = dt.date.today()


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture(scope="module")
def own_db(db: PgDatabase, pg_server: embedded.ServerInfo) -> Iterator[PgDatabase]:
    with migrated_database(pg_server) as database:
        yield database


@pytest.fixture(scope="module")
def engines(own_db: PgDatabase) -> Iterator[dict[str, sa.Engine]]:
    engines = {u: own_db.engine_for(u) for u in ("t_clerk", "t_clinician", "t_admin", "t_auditor")}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(scope="module")
def cohort(engines: dict[str, sa.Engine]) -> dict[str, int]:
    """Four patients with known records; returns their ids by nickname."""
    with engines["t_clinician"].begin() as conn:
        zoe = add_person(
            conn,
            family_name="Łukasiewicz-Müller",
            given_name="Zoë",
            sex="female",
            birth_date=dt.date(1958, 2, 27),
            address="12 Rue de l'Église, 75001 Paris",
            phone="+33 1 23 45 67 89",
            ph_group=1,
            ph_subtype="idiopathic",
        )["id"]
        insert(
            conn,
            "assessment",
            patient_id=zoe,
            kind="assessment",
            study_date=ago(400),
            who_fc=3,
            height_cm=Decimal(160),
            weight_kg=Decimal(88),
            nt_probnp_pg_ml=Decimal(1500),
            rap_mmhg=Decimal(9),
            mpap_mmhg=Decimal(52),
            pawp_mmhg=Decimal(10),
            co_l_min=Decimal("3.5"),
            svo2_pct=Decimal(61),
        )
        insert(conn, "six_minute_walk", patient_id=zoe, study_date=ago(399), distance_m=300)
        insert(
            conn,
            "assessment",
            patient_id=zoe,
            kind="followup",
            study_date=ago(30),
            who_fc=2,
            nt_probnp_pg_ml=Decimal(250),
        )
        insert(conn, "six_minute_walk", patient_id=zoe, study_date=ago(29), distance_m=460)
        insert(
            conn,
            "medication",
            patient_id=zoe,
            name="macitentan",
            details="10 mg once daily",
            started_on=ago(390),
            therapy_class="era",
        )
        insert(conn, "allergy", patient_id=zoe, name="penicillin", started_on=ago(5000))

        slim = add_person(conn, family_name="Slim", given_name="Sam", sex="male", ph_group=1)["id"]
        insert(
            conn,
            "assessment",
            patient_id=slim,
            kind="assessment",
            study_date=ago(200),
            who_fc=2,
            height_cm=Decimal(180),
            weight_kg=Decimal(75),
            bnp_pg_ml=Decimal(40),
        )
        insert(conn, "six_minute_walk", patient_id=slim, study_date=ago(200), distance_m=500)

        cteph = add_person(conn, family_name="Group", given_name="Four", ph_group=4)["id"]
        insert(
            conn,
            "assessment",
            patient_id=cteph,
            kind="assessment",
            study_date=ago(100),
            who_fc=4,
            bnp_pg_ml=Decimal(900),
        )
        insert(conn, "six_minute_walk", patient_id=cteph, study_date=ago(100), distance_m=150)

        never_seen = add_person(conn, family_name="Registered", given_name="Only")["id"]
    return {"zoe": zoe, "slim": slim, "cteph": cteph, "never_seen": never_seen}


def template_id(session: Session, name: str) -> int:
    return next(t.id for t in reports.list_templates(session) if t.name == name)


# ----------------------------------------------------------------- templates


def test_default_templates_ship_with_the_migration(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_clinician"]) as s:
        found = {(t.name, t.kind) for t in reports.list_templates(s)}
    assert found == {("Clinic letter", "individual"), ("Cohort report", "statistical")}


def test_auditors_see_statistical_templates_only(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_auditor"]) as s:
        kinds = {t.kind for t in reports.list_templates(s)}
        everything = s.execute(sa.text("SELECT count(*) FROM phms.report_template")).scalar()
        individual = s.execute(
            sa.text("SELECT count(*) FROM phms.report_template WHERE kind = 'individual'")
        ).scalar()
    assert kinds == {"statistical"}
    assert everything == 1 and individual == 0


def test_clerks_see_no_templates(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_clerk"]) as s, pytest.raises(sa.exc.ProgrammingError) as info:
        reports.list_templates(s)
    assert "permission denied" in str(info.value.orig)


def test_admin_edits_a_template_versioned_and_audited(
    engines: dict[str, sa.Engine], own_db: PgDatabase
) -> None:
    data = TemplateInput("Short note", "individual", "<p>{{ patient.name }}</p>", "test")
    with Session(engines["t_admin"]) as s, s.begin():
        created = reports.create_template(s, data)
    assert created.version == 1 and created.updated_by == "t_admin"
    with Session(engines["t_admin"]) as s, s.begin():
        changed = reports.update_template(
            s, created.id, 1, TemplateInput("Short note", "individual", "<p>{{ patient.code }}</p>")
        )
    assert changed.version == 2 and "patient.code" in changed.body
    with Session(engines["t_admin"]) as s, s.begin(), pytest.raises(StaleTemplate) as stale:
        reports.update_template(s, created.id, 1, data)
    assert stale.value.theirs.version == 2
    admin = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        trail = conn.execute(
            sa.text(
                "SELECT operation, session_user_name, new_values ->> 'body' FROM audit.event"
                " WHERE table_name = 'report_template' AND row_key = :k ORDER BY id"
            ),
            {"k": str(created.id)},
        ).all()
    admin.dispose()
    assert [(op, who) for op, who, _ in trail] == [("INSERT", "t_admin"), ("UPDATE", "t_admin")]
    assert trail[-1][2] == "<p>{{ patient.code }}</p>"
    with Session(engines["t_admin"]) as s, s.begin():
        reports.delete_template(s, created.id, 2)
    with Session(engines["t_admin"]) as s, pytest.raises(reports.TemplateNotFound):
        reports.get_template(s, created.id)


def test_a_template_that_does_not_compile_is_never_saved(engines: dict[str, sa.Engine]) -> None:
    broken = TemplateInput("Broken", "individual", "<p>{% if patient.name %}no end</p>")
    with Session(engines["t_admin"]) as s, pytest.raises(TemplateProblem, match="not well formed"):
        reports.create_template(s, broken)


@pytest.mark.parametrize("user", ["t_clinician", "t_auditor"])
def test_only_admins_write_templates(engines: dict[str, sa.Engine], user: str) -> None:
    data = TemplateInput(f"By {user}", "statistical", "<p>x</p>")
    with Session(engines[user]) as s, pytest.raises(sa.exc.ProgrammingError) as info:
        reports.create_template(s, data)
    assert "permission denied" in str(info.value.orig)


# ------------------------------------------------------------ individual report


def test_clinic_letter_shows_the_chart_and_marks_obesity(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    with Session(engines["t_clinician"]) as s, s.begin():
        letter = reports.render_individual(
            s, template_id(s, "Clinic letter"), cohort["zoe"], hospital_id="RBH"
        )
    html = letter.html
    assert "Zoë Łukasiewicz-Müller" in html and "Zoë Łukasiewicz-Müller" in letter.title
    assert "RBH — Clinic letter" in html
    assert "Rue de l&#39;Église" in html  # autoescaped, accents intact
    assert "Group 1 — Pulmonary arterial hypertension (PAH), idiopathic" in html
    # 88 kg at 160 cm: Devine ideal weight 52.4 kg, ratio 1.68 > 1.5.
    assert "weight 88.0 kg (Obese), BMI 34.4 kg/m²" in html
    assert "macitentan — 10 mg once daily" in html
    assert "penicillin" in html
    assert "<td>52 mmHg</td>" in html and "<td>12.0 WU</td>" in html  # (52-10)/3.5
    assert "pre-capillary" in html
    assert "460 m on" in html  # the latest walk
    assert "Latest: <b>low</b>" in html  # FC II, 460 m, NT-proBNP 250
    assert "Latest: <b>low</b>, COMPERA 2.0 follow-up risk (4 strata)" in html
    # The first assessment is at diagnosis: three strata (FC III 2, 300 m 2, NT 1500 3,
    # RAP 9 2, CI 1.77 3, SvO2 61 2 -> 2.33 -> intermediate), before macitentan started.
    assert (
        "<td>ESC/ERS 2022 risk at diagnosis (3 strata)</td>\n<td>intermediate</td><td>none</td>"
        in html
    )
    followup = "<td>COMPERA 2.0 follow-up risk (4 strata)</td>\n<td>low</td>"
    assert followup + "<td>monotherapy (ERA)</td>" in html
    assert "intermediate-high" not in html  # its four strata are not shown at diagnosis
    assert "<b>PAH therapy:</b> monotherapy (ERA) (as of" in html
    assert "by t_clinician" in html


def test_no_obesity_mark_below_the_threshold(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    with Session(engines["t_clinician"]) as s, s.begin():
        html = reports.render_individual(s, template_id(s, "Clinic letter"), cohort["slim"]).html
    assert "weight 75.0 kg, BMI 23.1 kg/m²" in html
    assert "(Obese)" not in html
    assert "Pulmonary hypertension clinic — Clinic letter" in html  # no hospital id given


def test_the_context_is_plain_frozen_data(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    with Session(engines["t_clinician"]) as s, s.begin():
        context = reports.individual_context(s, cohort["zoe"])

    def walk(value: object) -> None:
        if isinstance(value, tuple):
            for v in value:
                walk(v)
            return
        if hasattr(value, "keys"):
            assert type(value).__name__ == "mappingproxy", type(value)
            for v in value.values():  # type: ignore[attr-defined]
                walk(v)
            return
        assert isinstance(value, str | int | Decimal | dt.date | type(None)), type(value)

    walk(context)
    assert context["body"]["ideal_weight_kg"] == Decimal("52.4")
    with pytest.raises(TypeError):
        context["patient"]["name"] = "changed"  # type: ignore[index]


def test_rendering_a_letter_is_logged_as_chart_access(
    engines: dict[str, sa.Engine], cohort: dict[str, int], own_db: PgDatabase
) -> None:
    admin = sa.create_engine(own_db.admin_url, poolclass=sa.pool.NullPool)
    count = sa.text("SELECT count(*) FROM audit.chart_access WHERE patient_id = :p")
    with admin.connect() as conn:
        before = conn.execute(count, {"p": cohort["slim"]}).scalar()
    with Session(engines["t_clinician"]) as s, s.begin():
        reports.render_individual(s, template_id(s, "Clinic letter"), cohort["slim"])
    with admin.connect() as conn:
        after = conn.execute(count, {"p": cohort["slim"]}).scalar()
    admin.dispose()
    assert after == (before or 0) + 1


def test_auditors_never_get_an_individual_chart(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    with Session(engines["t_clinician"]) as s:
        letter_id = template_id(s, "Clinic letter")
    with Session(engines["t_auditor"]) as s, pytest.raises(sa.exc.DBAPIError) as info:
        reports.individual_context(s, cohort["zoe"])
    assert "permission denied" in str(info.value.orig)
    with Session(engines["t_auditor"]) as s, pytest.raises(reports.TemplateNotFound):
        reports.render_individual(s, letter_id, cohort["zoe"])


def test_a_stored_template_cannot_escape_the_sandbox(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    body = "<p>{{ patient.name }}</p>\n{{ ''.__class__.__mro__[1].__subclasses__() }}"
    evil = TemplateInput("Escape attempt", "individual", body)
    with (
        Session(engines["t_admin"]) as s,
        pytest.raises(TemplateProblem, match=r"“Escape attempt”, line 2: .*may not do"),
    ):
        reports.create_template(s, evil)  # the check before saving renders it: refused
    with engines["t_admin"].begin() as conn:  # as an older client (or psql) could have
        saved_id = conn.execute(
            sa.text(
                "INSERT INTO phms.report_template (name, kind, body)"
                " VALUES ('Escape attempt', 'individual', :b) RETURNING id"
            ),
            {"b": body},
        ).scalar_one()
    with (
        Session(engines["t_clinician"]) as s,
        s.begin(),
        pytest.raises(
            TemplateProblem, match=r"“Escape attempt”, line 2: .*may not do.*__class__"
        ) as info,
    ):
        reports.render_individual(s, saved_id, cohort["zoe"])
    assert info.value.line == 2 and info.value.template == "Escape attempt"


def test_a_letter_template_is_not_run_as_a_statistical_one(engines: dict[str, sa.Engine]) -> None:
    with Session(engines["t_clinician"]) as s, pytest.raises(ValueError, match="individual"):
        reports.render_statistical(s, template_id(s, "Clinic letter"))


# ------------------------------------------------------------ statistical report


@pytest.mark.parametrize("user", ["t_clinician", "t_auditor"])
def test_cohort_statistics(
    engines: dict[str, sa.Engine], cohort: dict[str, int], user: str
) -> None:
    with Session(engines[user]) as s:
        stats = reports.cohort_statistics(s)
    # Other tests of this module add patients of their own; count ours by what we know.
    assert stats.registered >= 4
    by_group = {c.value: c.n for c in stats.by_group}
    assert by_group[1] >= 2 and by_group[4] >= 1
    assert sum(c.n for c in stats.by_group) == stats.seen
    fc = {c.value: c.n for c in stats.who_fc}
    assert fc[2] >= 2 and fc[4] >= 1  # Zoë's latest FC is II (the followup), not III


def test_cohort_statistics_for_a_period(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    with Session(engines["t_auditor"]) as s:
        stats = reports.cohort_statistics(s, ago(250), ago(50))
    # Only Sam (200 days ago) and Group Four (100 days ago) were seen in this period.
    assert stats.seen == 2
    assert {c.label: c.n for c in stats.who_fc} == {"WHO-FC II": 1, "WHO-FC IV": 1}
    # Both visits are first assessments: counted on the three strata at diagnosis
    # (Sam FC II, 500 m, BNP 40: low; Group Four FC IV, 150 m, BNP 900: high), not on the
    # four strata, which are validated at follow-up only.
    assert stats.risk == ()
    assert {c.label: c.n for c in stats.risk_at_diagnosis} == {"low": 1, "high": 1}
    assert {c.label: c.percent for c in stats.risk_at_diagnosis} == {"low": 50, "high": 50}
    years = {y.year: y for y in stats.walks_by_year}
    assert sum(y.walks for y in years.values()) == 2
    assert min(y.min_m for y in years.values()) == 150
    assert max(y.max_m for y in years.values()) == 500


def test_walk_distances_by_year(engines: dict[str, sa.Engine], cohort: dict[str, int]) -> None:
    with Session(engines["t_clinician"]) as s:
        stats = reports.cohort_statistics(s, ago(401), ago(1))
    walks = sorted(
        [(ago(399), 300), (ago(29), 460), (ago(200), 500), (ago(100), 150)], key=lambda w: w[0]
    )
    for year in stats.walks_by_year:
        distances = sorted(d for day, d in walks if day.year == year.year)
        assert year.walks == len(distances)
        assert year.min_m == distances[0] and year.max_m == distances[-1]
        assert year.mean_m == pytest.approx(Decimal(sum(distances)) / len(distances))


def test_cohort_report_renders_and_names_nobody(
    engines: dict[str, sa.Engine], cohort: dict[str, int]
) -> None:
    with Session(engines["t_auditor"]) as s:
        report = reports.render_statistical(
            s, template_id(s, "Cohort report"), date_from=ago(250), date_to=ago(50)
        )
    assert report.statistics is not None and report.statistics.seen == 2
    assert "Patients seen in the period: <b>2</b>" in report.html
    assert "Group 4 — PH associated with pulmonary artery obstructions" in report.html
    assert "WHO-FC IV" in report.html and "intermediate-high" not in report.html
    for name in ("Łukasiewicz", "Slim", "Four", "Registered"):
        assert name not in report.html
    titles = [t.title for t in report.statistics.tables()]
    assert titles[:2] == ["Cohort", "By PH group"] and "6MWD by year" in titles
    assert "Risk at diagnosis (3 strata)" in titles
    assert "<h3>Risk at diagnosis (ESC/ERS 2022, 3 strata; first assessment in the period)" in (
        report.html
    )
    assert "<td>high</td><td>1</td>" in report.html.replace("\n", "")
