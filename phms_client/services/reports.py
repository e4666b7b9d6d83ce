"""Reports: templates (admins edit, staff use) and rendered reports.

Every function takes a Session for one short unit of work and returns frozen
data. The render contexts (what a template may show) are built by
:mod:`.report_context`; its names are also importable from here.

Who may do what is decided by the database:

- templates: admins write; clinicians read all; auditors read statistical ones
  only (row-level security);
- an individual report reads the chart (and logs the chart access like opening
  it): clinicians and admins;
- a statistical report reads only the aggregates of
  ``phms.cohort_statistics``: clinicians, admins and auditors. Auditors never
  see an individual chart.

Every render is bounded in time and memory (:mod:`phms_client.reports.bounded`),
and a template is saved only after it rendered within those bounds over sample
data of its kind (:func:`check_template`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from phms_client.db.errors import refused_constraint, register_constraint_messages
from phms_client.reports.bounded import render_bounded
from phms_client.reports.engine import TemplateProblem
from phms_client.services import input_rules
from phms_client.services.report_context import (
    CohortStatistics,
    Count,
    WalkYear,
    cohort_statistics,
    freeze,
    individual_context,
    statistical_context,
)
from phms_client.services.report_samples import EMPTY_SAMPLE, sample_contexts
from phms_schema import ReportTemplate
from phms_schema.ddl_templates import DEFAULT_KEPT
from phms_schema.limits import text_limit
from phms_schema.report_template import MAX_BODY

__all__ = [
    "MAX_BODY",
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "CohortStatistics",
    "Count",
    "RenderedReport",
    "StaleTemplate",
    "TemplateInfo",
    "TemplateInput",
    "TemplateIsDefault",
    "TemplateNotFound",
    "WalkYear",
    "check_template",
    "cohort_statistics",
    "create_template",
    "delete_template",
    "duplicate_template",
    "freeze",
    "get_template",
    "individual_context",
    "list_templates",
    "rename_template",
    "render_individual",
    "render_statistical",
    "set_default_template",
    "statistical_context",
    "update_template",
]

#: Longest template name and description accepted (characters).
MAX_NAME: Final = text_limit("report_template", "name").max_length
MAX_DESCRIPTION: Final = text_limit("report_template", "description").max_length
Kind = Literal["individual", "statistical"]
KINDS: tuple[Kind, ...] = ("individual", "statistical")
TEMPLATE: sa.Table = ReportTemplate.__table__  # type: ignore[assignment]

# ------------------------------------------------------------------ templates


@dataclass(frozen=True)
class TemplateInput:
    name: str
    kind: str
    body: str
    description: str = ""


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    kind: str
    description: str
    body: str
    version: int
    updated_at: dt.datetime
    updated_by: str
    #: The template reports of this kind open with (individual: the site's default letter).
    is_default: bool = False


class TemplateNotFound(LookupError):
    """No such template, or not one this login may see."""


class StaleTemplate(StaleDataError):
    """Someone saved the template after it was loaded; ``theirs`` is the server's copy."""

    def __init__(self, theirs: TemplateInfo) -> None:
        super().__init__(f"template {theirs.name!r} was changed by {theirs.updated_by}")
        self.theirs = theirs


_INFO_COLUMNS = [TEMPLATE.c[f.name] for f in dataclasses.fields(TemplateInfo)]


def _info(row: Any) -> TemplateInfo:
    return TemplateInfo(**{f.name: row._mapping[f.name] for f in dataclasses.fields(TemplateInfo)})


def list_templates(session: Session, kind: str | None = None) -> list[TemplateInfo]:
    """Templates this login may see, by kind then name."""
    query = sa.select(*_INFO_COLUMNS).order_by(TEMPLATE.c.kind, sa.func.lower(TEMPLATE.c.name))
    if kind is not None:
        query = query.where(TEMPLATE.c.kind == kind)
    return [_info(r) for r in session.execute(query)]


def get_template(session: Session, template_id: int) -> TemplateInfo:
    row = session.execute(sa.select(*_INFO_COLUMNS).where(TEMPLATE.c.id == template_id)).first()
    if row is None:
        raise TemplateNotFound(f"No report template with id {template_id}")
    return _info(row)


def check_template(kind: str, body: str, name: str | None = None) -> None:
    """Raise :class:`TemplateProblem` (naming ``name``) unless ``body`` renders within
    the time and memory limits over sample data of ``kind``: once with every field
    filled and once for a patient (or period) with nothing recorded."""
    if len(body) > MAX_BODY:
        raise TemplateProblem(
            f"the text is {len(body):,} characters long (the limit is {MAX_BODY:,})",
            template=name,
        )
    full, empty = sample_contexts(kind)
    render_bounded(body, full, template=name)
    try:
        render_bounded(body, empty, template=name)
    except TemplateProblem as exc:
        raise TemplateProblem(
            f"it does not work for {EMPTY_SAMPLE[kind]}: {exc.message}", exc.line, name
        ) from exc


def _values(data: TemplateInput) -> dict[str, str]:
    if data.kind not in KINDS:
        raise ValueError(f"Unknown report kind {data.kind!r}")
    values = {
        "name": data.name.strip(),
        "kind": data.kind,
        "body": input_rules.clean_text(data.body),
        "description": input_rules.clean_text(data.description.strip()),
    }
    input_rules.check_row("report_template", values)
    # A template that does not render over sample data within the limits is never saved.
    check_template(data.kind, values["body"], values["name"] or None)
    return values


def create_template(session: Session, data: TemplateInput) -> TemplateInfo:
    """Admins only (the database refuses others)."""
    row = session.execute(
        sa.insert(TEMPLATE).values(**_values(data)).returning(*_INFO_COLUMNS)
    ).one()
    return _info(row)


def update_template(
    session: Session, template_id: int, version: int, data: TemplateInput
) -> TemplateInfo:
    """Save over the ``version`` the admin loaded; StaleTemplate if it moved on."""
    row = session.execute(
        sa.update(TEMPLATE)
        .where(TEMPLATE.c.id == template_id, TEMPLATE.c.version == version)
        .values(**_values(data))
        .returning(*_INFO_COLUMNS)
    ).first()
    if row is None:
        raise StaleTemplate(get_template(session, template_id))
    return _info(row)


DEFAULT_KEPT_MESSAGE: Final = (
    "This template is the default for its kind of report (for individual reports: the "
    "site's default letter), so it cannot be deleted. Make another template the default "
    "first."
)
register_constraint_messages(
    {
        DEFAULT_KEPT: DEFAULT_KEPT_MESSAGE,
        "uq_report_template_name": "Another template already has this name: choose another.",
    }
)


class TemplateIsDefault(ValueError):
    """The default template of a kind cannot be deleted (the database refuses too)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"“{name}” is the default template. {DEFAULT_KEPT_MESSAGE}")


def delete_template(session: Session, template_id: int, version: int) -> None:
    """Remove a template (its text stays in the audit trail); never the default."""
    template = get_template(session, template_id)
    if template.is_default:
        raise TemplateIsDefault(template.name)
    try:
        with session.begin_nested():
            gone = session.execute(
                sa.delete(TEMPLATE)
                .where(TEMPLATE.c.id == template_id, TEMPLATE.c.version == version)
                .returning(TEMPLATE.c.id)
            ).first()
    except sa.exc.DBAPIError as exc:  # made the default meanwhile: the trigger said no
        if refused_constraint(exc) == DEFAULT_KEPT:
            raise TemplateIsDefault(template.name) from exc
        raise
    if gone is None:
        raise StaleTemplate(get_template(session, template_id))


def duplicate_template(session: Session, template_id: int, name: str) -> TemplateInfo:
    """A new template with ``name`` and a copy of the text and description (admins)."""
    original = get_template(session, template_id)
    return create_template(
        session, TemplateInput(name, original.kind, original.body, original.description)
    )


def rename_template(session: Session, template_id: int, version: int, name: str) -> TemplateInfo:
    """Change only the name (StaleTemplate if the template moved on)."""
    current = get_template(session, template_id)
    if current.version != version:
        raise StaleTemplate(current)
    return update_template(
        session,
        template_id,
        version,
        TemplateInput(name, current.kind, current.body, current.description),
    )


def set_default_template(session: Session, template_id: int) -> TemplateInfo:
    """Make this template the one its kind of report opens with (admins)."""
    template = get_template(session, template_id)
    session.execute(
        sa.update(TEMPLATE)
        .where(
            TEMPLATE.c.kind == template.kind, TEMPLATE.c.is_default, TEMPLATE.c.id != template_id
        )
        .values(is_default=False)
    )
    row = session.execute(
        sa.update(TEMPLATE)
        .where(TEMPLATE.c.id == template_id)
        .values(is_default=True)
        .returning(*_INFO_COLUMNS)
    ).one()
    return _info(row)


# -------------------------------------------------------------- rendered reports


@dataclass(frozen=True)
class RenderedReport:
    title: str
    kind: str
    html: str
    #: The numbers behind a statistical report (for CSV / XLSX); None for individual ones.
    statistics: CohortStatistics | None = None


def _template_of_kind(session: Session, template_id: int, kind: Kind) -> TemplateInfo:
    template = get_template(session, template_id)
    if template.kind != kind:
        raise ValueError(f"“{template.name}” is a {template.kind} report template, not {kind}")
    return template


def render_individual(
    session: Session,
    template_id: int,
    patient_id: int,
    *,
    as_of: dt.date | None = None,
    hospital_id: str = "",
) -> RenderedReport:
    """Raises ``engine.TemplateProblem`` (naming the template) when it cannot be
    rendered within the limits."""
    template = _template_of_kind(session, template_id, "individual")
    context = individual_context(session, patient_id, as_of=as_of, hospital_id=hospital_id)
    patient = context["patient"]
    return RenderedReport(
        title=f"{template.name} — {patient['name']} ({patient['code']})",
        kind="individual",
        html=render_bounded(template.body, context, template=template.name),
    )


def render_statistical(
    session: Session,
    template_id: int,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    hospital_id: str = "",
) -> RenderedReport:
    template = _template_of_kind(session, template_id, "statistical")
    context, stats = statistical_context(
        session, date_from=date_from, date_to=date_to, hospital_id=hospital_id
    )
    return RenderedReport(
        title=f"{template.name} — {stats.period_label}",
        kind="statistical",
        html=render_bounded(template.body, context, template=template.name),
        statistics=stats,
    )
