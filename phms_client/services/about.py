"""Help > About and Help > Report a problem (no patient data, ever)."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.database import statement_alone
from phms_client.services import input_rules
from phms_schema import ProblemReport
from phms_schema.ddl_compat import MIN_CLIENT_KEY


@dataclass(frozen=True)
class ServerFacts:
    server_version: str
    schema_revision: str
    user: str
    database: str
    #: The oldest client version the database accepts (None: it records none, before 0016).
    min_client_version: str | None = None


@dataclass(frozen=True)
class ProblemSummary:
    id: int
    reported_by: str
    reported_at: str
    description: str
    client_version: str


_FACTS = sa.text(
    "SELECT current_setting('server_version') AS v, session_user AS u, "
    "current_database() AS d, (SELECT version_num FROM public.alembic_version) AS r, "
    "(SELECT s.value #>> '{}' FROM phms.setting s WHERE s.key = :min_key) AS m"
).bindparams(min_key=MIN_CLIENT_KEY)


def server_facts(session: Session) -> ServerFacts:
    """One statement (a logged-in client has passed the gate: the tables are there)."""
    with statement_alone(session):
        row = session.execute(_FACTS).one()
    return ServerFacts(row.v, row.r or "none", row.u, row.d, row.m)


def report_problem(
    session: Session, *, description: str, client_version: str, log_tail: str
) -> None:
    description = input_rules.clean_text(description)
    input_rules.check_row("problem_report", {"description": description})
    facts = server_facts(session)
    # Plain INSERT: staff may file reports but not read them back (no RETURNING id).
    session.execute(
        sa.text(
            "INSERT INTO phms.problem_report (description, client_version, server_version,"
            " schema_revision, platform, log_tail) VALUES (:d, :c, :v, :r, :p, :l)"
        ),
        {
            "d": description,
            "c": client_version,
            "v": facts.server_version,
            "r": facts.schema_revision,
            "p": platform.platform()[:300],
            "l": log_tail[-100_000:].replace("\x00", ""),
        },
    )


def list_problems(session: Session, limit: int = 100) -> list[ProblemSummary]:
    rows = session.execute(
        sa.select(
            ProblemReport.id,
            ProblemReport.reported_by,
            ProblemReport.reported_at,
            ProblemReport.description,
            ProblemReport.client_version,
        )
        .order_by(ProblemReport.id.desc())
        .limit(limit)
    )
    return [
        ProblemSummary(
            r.id,
            r.reported_by,
            r.reported_at.isoformat(timespec="minutes"),
            r.description,
            r.client_version,
        )
        for r in rows
    ]
