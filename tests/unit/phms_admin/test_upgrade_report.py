"""The tables phms-admin db upgrade prints: each migration's time and the row checks."""

from __future__ import annotations

from types import SimpleNamespace

from phms_admin.upgrade_report import (
    Step,
    StepClock,
    migrations_table,
    row_checks_table,
    seconds,
)


def test_step_clock_times_each_migration_from_the_previous_one() -> None:
    ticks = iter([10.0, 10.5, 13.0])
    clock = StepClock(clock=lambda: next(ticks))
    clock.start()
    for rev, doc in (("0016", "Staff rights.\n\nMore text."), ("0017", None)):
        step = SimpleNamespace(up_revision_id=rev, up_revision=SimpleNamespace(doc=doc))
        clock(ctx=None, step=step, heads=set(), run_args={})
    assert [(s.revision, s.description, s.seconds) for s in clock.steps] == [
        ("0016", "Staff rights.", 0.5),
        ("0017", "", 2.5),
    ]
    assert clock.finished_at == 13.0


def test_migrations_table_lines_up_times_and_totals() -> None:
    lines = migrations_table([Step("0016", "Rights", 1.234)], total=2.0, commit=0.25)
    assert lines[0].split() == ["REVISION", "MIGRATION", "TIME"]
    assert lines[2].startswith("0016") and lines[2].endswith("1.23 s")
    assert "commit" in lines[3] and lines[3].endswith("0.25 s")
    assert lines[4].endswith("2.00 s")
    assert len({len(line) for line in lines[:2]}) == 1  # header and rule line up


def test_row_checks_mark_lost_new_and_changed_tables() -> None:
    before = {"phms.patient": 40, "phms.value_tally": 9, "audit.event": 100, "phms.old": 3}
    after = {"phms.patient": 39, "phms.value_tally": 7, "audit.event": 102, "phms.new": 0}
    lines = row_checks_table(
        before, after, lost={"phms.patient", "phms.old"}, may_shrink=frozenset({"phms.value_tally"})
    )
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["phms.patient"].endswith("LOST ROWS")
    assert rows["phms.old"].endswith("TABLE GONE")
    assert rows["phms.new"].split()[1:] == ["-", "0", "new", "table"]
    assert rows["audit.event"].endswith("+2")
    assert "allowed" in rows["phms.value_tally"]


def test_seconds_are_readable() -> None:
    assert [seconds(0.0123), seconds(42.42), seconds(600)] == ["0.01 s", "42.4 s", "10.0 min"]
