"""Site-editable report templates (individual and statistical).

A template is Jinja text rendered in a sandbox (``phms_client.reports``) over
plain frozen data: it can format and choose what to show, never query. Admins
create and edit templates; clinicians read them (and so can run any report);
auditors see only statistical templates (row-level security), because the only
reports they may run are the statistical aggregates of
``phms.cohort_statistics``. Every change is versioned and audited like any
other table; default templates ship with migration 0005.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId, Str
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

KINDS = ("individual", "statistical")
#: Longest template body accepted (characters); a letter is a few thousand.
MAX_BODY = 200_000


class ReportTemplate(Audited, Base):
    __tablename__ = "report_template"

    id: Mapped[BigId]
    name: Mapped[Str] = mapped_column(unique=True)
    kind: Mapped[Str]
    description: Mapped[Str] = mapped_column(server_default="")
    body: Mapped[Str]
    #: The template a report of this kind opens with (the site's default letter for
    #: individual reports); one per kind, never deleted (migration 0014).
    is_default: Mapped[bool] = mapped_column(server_default=text("false"))

    __table_args__ = (
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        CheckConstraint(f"kind IN {KINDS!r}", name="kind_known"),
        CheckConstraint(f"length(body) <= {MAX_BODY}", name="body_size"),
        *model_checks("report_template"),
        Index(
            "uq_report_template_default",
            "kind",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )
