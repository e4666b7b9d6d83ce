"""Single reads and writes of chart entries: add, edit, stop, delete (entered in error).

Concurrency: every update names the ``version`` the user loaded; when the row
has moved on since, nothing is written and :class:`StaleEntry` (a
``sqlalchemy.orm.exc.StaleDataError``) carries the server's copy for the
compare dialog. Rules the database enforces (ranges, prerequisites, Stop/Del
semantics) surface as ``sqlalchemy.exc.IntegrityError`` naming the constraint.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical.formulas import exact
from phms_client.db.database import statement_alone
from phms_client.services import chart_columns as cols
from phms_client.services import input_rules
from phms_client.services.chart_assembly import _assessment, _challenge, _item, _walk
from phms_client.services.chart_types import (
    ITEM_KINDS,
    RECORD_TABLES,
    STEP_REMOVED,
    AnyRecord,
    AssessmentInput,
    AssessmentRecord,
    ChallengeInput,
    ChallengeRecord,
    ChartItem,
    EntryNotFound,
    ItemInput,
    ItemKind,
    RecordTable,
    Row,
    StaleEntry,
    StepInput,
    WalkInput,
    WalkRecord,
)
from phms_client.services.chart_wire import RowSpec, parse
from phms_schema import Base

# ------------------------------------------------------------- single reads


def _one(session: Session, spec: RowSpec, source: str, alias: str, params: Row) -> Any:
    """One live row by ``:id`` in the chart's compact form, with its patient's id."""
    where = source.format(where=f"{alias}.id = :id")
    found = session.execute(
        sa.text(f"SELECT {alias}.patient_id, {spec.sql()}::text AS row {where}"), params
    ).first()
    if found is None:
        raise EntryNotFound("This entry does not exist or was deleted as entered in error")
    return {**spec.decode(parse(found.row)), "patient_id": found.patient_id}


def get_assessment(session: Session, assessment_id: int) -> AssessmentRecord:
    return _assessment(
        _one(session, cols.ASSESSMENT, cols.ASSESSMENT_FROM, "a", {"id": assessment_id})
    )


def get_walk(session: Session, walk_id: int) -> WalkRecord:
    return _walk(_one(session, cols.WALK, cols.WALK_FROM, "w", {"id": walk_id}))


_STEPS_OF_ONE = cols.STEP.array_sql(cols.STEP_FROM.format(where="c.id = :id"))


def get_challenge(session: Session, challenge_id: int) -> ChallengeRecord:
    where = cols.CHALLENGE_FROM.format(where="c.id = :id")
    found = session.execute(
        sa.text(
            f"SELECT c.patient_id, {cols.CHALLENGE.sql()}::text AS row,"
            f" {_STEPS_OF_ONE} AS steps {where}"
        ),
        {"id": challenge_id},
    ).first()
    if found is None:
        raise EntryNotFound("This entry does not exist or was deleted as entered in error")
    row = f"[{found.row}]"
    return _challenge(cols.challenges(row, found.steps, found.patient_id)[0])


def get_item(session: Session, kind: ItemKind, item_id: int) -> ChartItem:
    kind = _item_kind(kind)
    row = _one(session, cols.ITEMS[kind], cols.item_from(kind), "i", {"id": item_id})
    return _item({"therapy_class": None, **row, "kind": kind})


def current_medications(
    session: Session, patient_id: int, as_of: dt.date | None = None
) -> list[ChartItem]:
    """Medications current on ``as_of`` (default today), in one query, by name."""
    as_of = as_of or dt.date.today()
    table = _table("medication")
    rows = session.execute(
        sa.select(sa.literal("medication").label("kind"), table)
        .where(
            table.c.patient_id == patient_id,
            sa.not_(table.c.entered_in_error),
            table.c.started_on <= as_of,
            sa.or_(table.c.stopped_on.is_(None), table.c.stopped_on > as_of),
        )
        .order_by(sa.func.lower(table.c.name), table.c.started_on, table.c.id)
    ).mappings()
    return [_item(r) for r in rows]


# ------------------------------------------------------------------- writes


def _table(name: str) -> sa.Table:
    return Base.metadata.tables[f"phms.{name}"]


def _item_kind(kind: str) -> ItemKind:
    if kind not in ITEM_KINDS:
        raise ValueError(f"Unknown chart item kind {kind!r}")
    return kind


def _record_table(table: str) -> RecordTable:
    if table not in RECORD_TABLES:
        raise ValueError(f"Unknown record table {table!r}")
    return table


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return input_rules.clean_text(value).strip() or None
    if isinstance(value, float):
        return exact(value)  # the decimal the user typed, not its binary neighbour
    return value


def _values(data: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: _clean(getattr(data, f.name)) for f in fields(data) if f.name not in exclude}


def _current(session: Session, table: str, entry_id: int) -> AnyRecord | ChartItem:
    if table == "assessment":
        return get_assessment(session, entry_id)
    if table == "six_minute_walk":
        return get_walk(session, entry_id)
    if table == "vasodilator_challenge":
        return get_challenge(session, entry_id)
    return get_item(session, _item_kind(table), entry_id)


def _update(session: Session, table_name: str, entry_id: int, version: int, values: Row) -> Row:
    """UPDATE … WHERE id AND version; StaleEntry (with their copy) if it moved on."""
    input_rules.check_row(table_name, values)
    table = _table(table_name)
    row = (
        session.execute(
            sa.update(table)
            .where(table.c.id == entry_id, table.c.version == version)
            .values(**values)
            .returning(*table.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise StaleEntry(table_name, entry_id, _current(session, table_name, entry_id))
    return row


def _insert(session: Session, table_name: str, values: Row) -> Row:
    input_rules.check_row(table_name, values)
    table = _table(table_name)
    return session.execute(sa.insert(table).values(**values).returning(*table.c)).mappings().one()


def create_assessment(session: Session, data: AssessmentInput) -> AssessmentRecord:
    # One statement (its audit and tally rows come from triggers in it), sent alone.
    values = _values(data)
    with statement_alone(session):
        return _assessment(_insert(session, "assessment", values))


def update_assessment(
    session: Session, assessment_id: int, version: int, data: AssessmentInput
) -> AssessmentRecord:
    values = _values(data)
    with statement_alone(session):
        row = _update(session, "assessment", assessment_id, version, values)
    return _assessment(row)


def create_walk(session: Session, data: WalkInput) -> WalkRecord:
    row = _insert(session, "six_minute_walk", _values(data))
    return get_walk(session, row["id"])


def update_walk(session: Session, walk_id: int, version: int, data: WalkInput) -> WalkRecord:
    _update(session, "six_minute_walk", walk_id, version, _values(data))
    return get_walk(session, walk_id)


def _step_values(challenge_id: int, step: StepInput) -> dict[str, Any]:
    values = _values(step)
    input_rules.check_row("vasodilator_step", values)
    return {"challenge_id": challenge_id, **values}


def create_challenge(session: Session, data: ChallengeInput) -> ChallengeRecord:
    row = _insert(session, "vasodilator_challenge", _values(data, exclude=("steps",)))
    if data.steps:
        session.execute(
            sa.insert(_table("vasodilator_step")),
            [_step_values(row["id"], s) for s in data.steps],
        )
    return get_challenge(session, row["id"])


def update_challenge(
    session: Session, challenge_id: int, version: int, data: ChallengeInput
) -> ChallengeRecord:
    """Save the challenge and its steps; the challenge's version guards both.

    Steps are matched by number: existing ones are updated, new ones added,
    missing ones marked entered in error (never deleted).
    """
    _update(
        session, "vasodilator_challenge", challenge_id, version, _values(data, exclude=("steps",))
    )
    steps = _table("vasodilator_step")
    rows = session.execute(
        sa.select(steps.c.step_no, steps.c.id).where(
            steps.c.challenge_id == challenge_id, sa.not_(steps.c.entered_in_error)
        )
    )
    live: dict[int, int] = {no: step_id for no, step_id in rows}
    wanted = {s.step_no: s for s in data.steps}
    gone = [step_id for no, step_id in live.items() if no not in wanted]
    if gone:
        session.execute(
            sa.update(steps)
            .where(steps.c.id.in_(gone))
            .values(entered_in_error=True, error_reason=STEP_REMOVED)
        )
    for no, step in wanted.items():
        if no in live:
            session.execute(
                sa.update(steps)
                .where(steps.c.id == live[no])
                .values(**_step_values(challenge_id, step))
            )
    new = [_step_values(challenge_id, s) for no, s in wanted.items() if no not in live]
    if new:
        session.execute(sa.insert(steps), new)
    return get_challenge(session, challenge_id)


def delete_record(
    session: Session, table: RecordTable, record_id: int, version: int, reason: str
) -> None:
    """Del: mark an assessment, challenge or walk entered in error (hidden, kept, audited)."""
    _update(
        session,
        _record_table(table),
        record_id,
        version,
        {"entered_in_error": True, "error_reason": reason.strip() or None},
    )


def _item_values(kind: ItemKind, data: ItemInput) -> dict[str, Any]:
    """Only medications have a therapy class."""
    return _values(data, exclude=() if kind == "medication" else ("therapy_class",))


def add_item(session: Session, kind: ItemKind, data: ItemInput) -> ChartItem:
    """Add a medication, allergy or secondary disease from ``data.started_on``.

    A medication's ``therapy_class`` says it was picked from the site's list (the
    database refuses a class on a name that is not on it); None = free text."""
    row = _insert(session, _item_kind(kind), _item_values(kind, data))
    return _item({"kind": kind, **row})


def update_item(
    session: Session, kind: ItemKind, item_id: int, version: int, data: ItemInput
) -> ChartItem:
    """Correct an item's name, details or start date."""
    row = _update(session, _item_kind(kind), item_id, version, _item_values(kind, data))
    return _item({"kind": kind, **row})


def stop_item(
    session: Session,
    kind: ItemKind,
    item_id: int,
    version: int,
    stopped_on: dt.date,
    reason: str = "stopped",
) -> ChartItem:
    """Stop: ended as of ``stopped_on`` (kept in the history); e.g. 'cured', 'stopped'."""
    values = {"stopped_on": stopped_on, "stop_reason": reason.strip() or None}
    row = _update(session, _item_kind(kind), item_id, version, values)
    return _item({"kind": kind, **row})


def delete_item(session: Session, kind: ItemKind, item_id: int, version: int, reason: str) -> None:
    """Del: entered in error, with a reason (hidden from the chart, kept and audited)."""
    values = {"entered_in_error": True, "error_reason": reason.strip() or None}
    _update(session, _item_kind(kind), item_id, version, values)
