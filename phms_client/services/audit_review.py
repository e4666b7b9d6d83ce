"""The auditor's review of the audit trail (no Qt).

Every call goes through an ``audit.review_*`` function of the database, which
records the query in ``audit.review_log`` before it answers: an auditor cannot
read the trail without leaving a trace, whatever client they use.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = [
    "FLAGS_PAGE",
    "FLAG_TITLES",
    "PAGE_SIZE",
    "REPORT_ROWS",
    "ActivityFilter",
    "ActivityRow",
    "Cursor",
    "EventDetail",
    "FieldChange",
    "Flag",
    "PatientMatch",
    "access_report",
    "access_report_csv",
    "access_report_html",
    "activity",
    "event_detail",
    "find_patients",
    "flags",
]

PAGE_SIZE: Final = 200
#: Flags are computed newest first, a day at a time, until this many are found.
FLAGS_PAGE: Final = 500
#: Most rows one access report holds (the database refuses more in one call).
REPORT_ROWS: Final = 5000
#: Plain words for each flag kind.
FLAG_TITLES: Final = {
    "no_reason": "No appointment, no record",
    "many_charts": "Many charts in one hour",
    "after_hours": "Outside clinic hours",
    "own_name": "Own family name",
}
OPERATION_WORDS: Final = {
    "OPEN": "opened the chart",
    "INSERT": "added",
    "UPDATE": "changed",
    "DELETE": "deleted",
}


@dataclass(frozen=True)
class ActivityFilter:
    staff: str | None = None
    patient: str | None = None  # a name, a patient ID or the internal id
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    table: str | None = None
    operation: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this (time, kind, id)."""

    at: dt.datetime
    kind: str
    id: int


@dataclass(frozen=True)
class ActivityRow:
    kind: str  # "event" (a write) or "chart" (a chart opening)
    id: int
    at: dt.datetime
    staff: str
    table_name: str
    operation: str
    row_key: str | None
    patient_id: int | None
    patient_code: str | None
    patient_name: str | None
    client_addr: str | None
    application_name: str | None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.kind, self.id)

    @property
    def action(self) -> str:
        """What happened, in words: "opened the chart", "changed medication"."""
        verb = OPERATION_WORDS.get(self.operation, self.operation.lower())
        return verb if self.kind == "chart" else f"{verb} {self.table_name}"


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str
    new: str
    changed: bool


@dataclass(frozen=True)
class EventDetail:
    row: ActivityRow
    txid: int | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None

    def fields(self) -> list[FieldChange]:
        """Every field of the old and the new row, side by side."""
        old, new = self.old_values or {}, self.new_values or {}
        names = list(dict.fromkeys([*old, *new]))
        return [
            FieldChange(
                n,
                _shown(old.get(n)) if self.old_values is not None else "",
                _shown(new.get(n)) if self.new_values is not None else "",
                self.old_values is not None
                and self.new_values is not None
                and old.get(n) != new.get(n),
            )
            for n in names
        ]


@dataclass(frozen=True)
class PatientMatch:
    id: int
    patient_code: str
    family_name: str
    given_name: str
    birth_date: dt.date

    @property
    def label(self) -> str:
        return (
            f"{self.family_name}, {self.given_name} ({self.patient_code}, "
            f"born {self.birth_date.isoformat()})"
        )


@dataclass(frozen=True)
class Flag:
    flag: str
    at: dt.datetime
    staff: str
    patient_id: int | None
    patient_code: str | None
    patient_name: str | None
    client_addr: str | None
    detail: str

    @property
    def title(self) -> str:
        return FLAG_TITLES.get(self.flag, self.flag)


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _blank(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


_ACTIVITY = sa.text(
    "SELECT * FROM audit.review_activity(:staff, :patient, :start, :end, :table, :operation,"
    " :after_at, :after_kind, :after_id, :limit)"
)


def activity(
    session: Session,
    filters: ActivityFilter,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> list[ActivityRow]:
    """One page of writes and chart openings, newest first, after ``after``."""
    params = {
        "staff": _blank(filters.staff),
        "patient": _blank(filters.patient),
        "start": filters.start,
        "end": filters.end,
        "table": _blank(filters.table),
        "operation": _blank(filters.operation),
        "after_at": after.at if after else None,
        "after_kind": after.kind if after else None,
        "after_id": after.id if after else None,
        "limit": limit,
    }
    return [ActivityRow(**r._mapping) for r in session.execute(_ACTIVITY, params)]


def event_detail(session: Session, kind: str, ident: int) -> EventDetail | None:
    row = session.execute(
        sa.text("SELECT * FROM audit.review_event(:k, :i)"), {"k": kind, "i": ident}
    ).one_or_none()
    if row is None:
        return None
    values = dict(row._mapping)
    txid, old, new = values.pop("txid"), values.pop("old_values"), values.pop("new_values")
    return EventDetail(ActivityRow(**values), txid, old, new)


def find_patients(session: Session, query: str, limit: int = 20) -> list[PatientMatch]:
    rows = session.execute(
        sa.text("SELECT * FROM audit.review_patients(:q, :n)"), {"q": query.strip(), "n": limit}
    )
    return [PatientMatch(**r._mapping) for r in rows]


def flags(
    session: Session, start: dt.datetime, end: dt.datetime, limit: int = FLAGS_PAGE
) -> list[Flag]:
    rows = session.execute(
        sa.text("SELECT * FROM audit.review_flags(:s, :e, :n)"), {"s": start, "e": end, "n": limit}
    )
    return [Flag(**r._mapping) for r in rows]


def access_report(
    session: Session, patient_id: int, start: dt.datetime, end: dt.datetime
) -> list[ActivityRow]:
    """Everyone who opened or changed one patient's chart in the period (newest first)."""
    return activity(
        session, ActivityFilter(patient=str(patient_id), start=start, end=end), limit=REPORT_ROWS
    )


_CSV_HEADER = ("When", "Staff login", "What", "Record", "Workstation", "Application")


def _report_cells(r: ActivityRow) -> tuple[str, ...]:
    return (
        r.at.isoformat(timespec="seconds"),
        r.staff,
        r.action,
        r.row_key or "",
        r.client_addr or "local",
        r.application_name or "",
    )


def access_report_csv(rows: Sequence[ActivityRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_HEADER)
    for r in rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: keep it text.
        writer.writerow(["'" + c if c[:1] in "=+-@" else c for c in _report_cells(r)])
    return out.getvalue()


def access_report_html(
    patient: PatientMatch,
    start: dt.datetime,
    end: dt.datetime,
    rows: Sequence[ActivityRow],
    *,
    made_by: str,
    made_at: dt.datetime,
) -> str:
    esc = html.escape
    people = sorted({r.staff for r in rows})
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _report_cells(r)) + "</tr>" for r in rows
    )
    head = "".join(f"<th>{esc(h)}</th>" for h in _CSV_HEADER)
    truncated = (
        f"<p><b>Only the newest {len(rows)} entries are listed; choose a shorter period.</b></p>"
        if len(rows) >= REPORT_ROWS
        else ""
    )
    return (
        f"<h2>Who accessed the record of {esc(patient.family_name)}, "
        f"{esc(patient.given_name)}</h2>"
        f"<p>Patient ID {esc(patient.patient_code)}, born {patient.birth_date.isoformat()}.<br>"
        f"Period: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}.</p>"
        f"<p>{len(rows)} accesses by {len(people)} staff members"
        f"{': ' + esc(', '.join(people)) if people else ''}.</p>{truncated}"
        f"<table><tr>{head}</tr>{body}</table>"
        f"<p><small>Made by {esc(made_by)} on {made_at:%Y-%m-%d %H:%M} from the PHMS audit "
        "trail. Workstation is the network address the access came from.</small></p>"
    )
