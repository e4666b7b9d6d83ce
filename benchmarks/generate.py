"""Load a synthetic cohort into an empty, migrated PHMS database, fast (COPY).

    python -m benchmarks.generate --url postgresql+psycopg://postgres:PW@127.0.0.1:PORT/phms \
        --patients 1000000 --seed 2026

What is loaded: ``--patients`` patients (names with accents and the duplicates
a real register has, IDs in the site's format), about five records each
(assessments and followups, six-minute walks, now and then a vasodilator
challenge with its steps, medications, allergies, secondary diseases,
appointments), and one patient whose chart has ``--big-chart`` records. The
rows come from :mod:`benchmarks.cohort`; the same seed, scale and ``--as-of``
date give the same data.

How: as the superuser, in ONE transaction, with
``SET LOCAL session_replication_role = replica``. That skips every row
trigger — the audit trail (not wanted for synthetic data), NOTIFY, the
``stamp_row`` trigger (so the generator fills ``version``, ``created_*`` and
``updated_*`` itself) and the rule triggers (so the rows are valid by
construction, and :func:`verify` checks it afterwards) and the value tally's
triggers (so it is rebuilt from the loaded records at the end). It also skips the
foreign-key triggers; :func:`verify` counts orphans. CHECK constraints, NOT
NULL, unique keys and generated columns are not triggers: they are enforced
and computed as usual. Secondary indexes are dropped before the COPY and
rebuilt after it (a bulk build is much faster than a million inserts into a
trigram index), identity sequences are moved past the loaded ids, and the
tables are VACUUM ANALYZEd. Python draws the rows in one thread while a
second thread streams them to the server, so generation and ingestion overlap.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks.cohort import TABLES, Agent, CohortWriter, SiteLists, copy_columns
from phms_schema import ddl_search

#: Default reference date ("today" of the data); fixed so that a seed means the same rows.
AS_OF = dt.date(2026, 11, 1)
DEFAULT_SEED = 2026
BATCH = 10_000

Progress = Callable[[str], None]


@dataclass
class LoadResult:
    patients: int
    seed: int
    as_of: str
    big_chart_patient: int | None
    big_chart_records: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def conninfo(url: str) -> dict[str, Any]:
    """psycopg keyword arguments for a SQLAlchemy URL."""
    u = sa.engine.make_url(url)
    return {
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
        "sslmode": "disable" if (u.host or "127.0.0.1") in ("127.0.0.1", "localhost") else "prefer",
    }


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    # The load is one long transaction that waits for each batch to be drawn: the
    # server's limit on idle transactions (docs/admin-guide.md section 9) is for staff.
    conn = psycopg.connect(
        **conninfo(url),
        autocommit=autocommit,
        options="-c idle_in_transaction_session_timeout=0",
    )
    try:
        yield conn
    finally:
        conn.close()


def site_lists(conn: psycopg.Connection[Any]) -> SiteLists:
    """The settings that generated rows must agree with."""
    values = dict(conn.execute("SELECT key, value FROM phms.setting").fetchall())
    agents = tuple(
        Agent(a["name"], a["unit"], tuple(float(d) for d in a.get("doses") or (1,)))
        for a in values.get("vasodilator_agents") or ()
    )
    groups = values.get("ph_groups") or ()
    group1: dict[str, Any] = next((g for g in groups if g.get("group") == 1), {})
    defaults = SiteLists()
    return SiteLists(
        id_format=str(values.get("patient_id_format") or defaults.id_format),
        agents=agents or defaults.agents,
        medicines=tuple(values.get("pah_medicines") or defaults.medicines),
        group1_subtypes=tuple(group1.get("subtypes") or defaults.group1_subtypes),
        appointment_kinds=tuple(values.get("appointment_kinds") or defaults.appointment_kinds),
    )


_SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = 'phms' AND t.relname = ANY(%s)
   AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
 ORDER BY 1"""


def _copy_worker(
    conn: psycopg.Connection[Any],
    batches: queue.Queue[dict[str, str] | None],
    errors: list[BaseException],
) -> None:
    statements = {t: f"COPY phms.{t} ({', '.join(copy_columns(t))}) FROM STDIN" for t in TABLES}
    try:
        with conn.cursor() as cur:
            while (batch := batches.get()) is not None:
                for table in TABLES:
                    text = batch.get(table)
                    if text:
                        with cur.copy(statements[table]) as copy:
                            copy.write(text)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)
        while batches.get() is not None:  # let the producer finish
            pass


def load(
    url: str,
    *,
    patients: int,
    seed: int = DEFAULT_SEED,
    as_of: dt.date = AS_OF,
    big_chart_records: int = 500,
    batch: int = BATCH,
    maintenance_work_mem: str = "1GB",
    progress: Progress = print,
    vacuum: bool = True,
    verify_sample: int = 1000,
) -> LoadResult:
    """Load the cohort into the (empty, migrated) database at ``url`` as its superuser."""
    if patients < 1:
        raise ValueError("at least one patient")
    if not 1 <= big_chart_records <= 1000:
        raise ValueError("--big-chart must be 1 to 1000 records")
    big = patients // 2 + 1
    result = LoadResult(patients, seed, as_of.isoformat(), big, big_chart_records)
    started = time.perf_counter()
    with connect(url) as conn:
        if conn.execute("SELECT EXISTS (SELECT FROM phms.patient)").fetchone() != (False,):
            raise RuntimeError("phms.patient is not empty: generate into a new database")
        site = site_lists(conn)
        writer = CohortWriter(
            seed=seed,
            patients=patients,
            as_of=as_of,
            site=site,
            big_chart_patient=big,
            big_chart_records=big_chart_records,
        )
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
        indexes = conn.execute(_SECONDARY_INDEXES, [list(TABLES)]).fetchall()
        for name, _definition in indexes:
            conn.execute(f"DROP INDEX {name}")

        batches: queue.Queue[dict[str, str] | None] = queue.Queue(maxsize=3)
        errors: list[BaseException] = []
        worker = threading.Thread(target=_copy_worker, args=(conn, batches, errors), daemon=True)
        worker.start()
        t0 = time.perf_counter()
        try:
            for first in range(1, patients + 1, batch):
                if errors:
                    break
                last = min(patients, first + batch - 1)
                writer.add_patients(first, last)
                batches.put(writer.take_lines())
                if last % (batch * 10) == 0 or last == patients:
                    rate = last / (time.perf_counter() - t0)
                    progress(f"  {last:>9,} patients drawn ({rate:,.0f}/s)")
        finally:
            batches.put(None)
            worker.join()
        if errors:
            raise errors[0]
        result.seconds["copy"] = time.perf_counter() - t0
        result.rows = {t: writer.next_id[t] - 1 for t in TABLES}

        t0 = time.perf_counter()
        for name, definition in indexes:
            progress(f"  index {name}")
            conn.execute(definition)
        result.seconds["indexes"] = time.perf_counter() - t0
        for table in TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('phms.{table}', 'id'),"
                f" coalesce(max(id), 1), max(id) IS NOT NULL) FROM phms.{table}"
            )
        # The value tally's triggers were skipped too: count the loaded values once.
        t0 = time.perf_counter()
        progress("  value tally")
        tally = conn.execute("SELECT phms.value_tally_rebuild()").fetchone()
        result.rows["value_tally"] = int(tally[0]) if tally else 0
        result.seconds["value_tally"] = time.perf_counter() - t0
        # And the typo search's dictionary (every word of every name, once).
        t0 = time.perf_counter()
        progress("  search words")
        conn.execute(ddl_search.REFILL)
        words = conn.execute("SELECT count(*) FROM phms.search_word").fetchone()
        result.rows["search_word"] = int(words[0]) if words else 0
        result.seconds["search_words"] = time.perf_counter() - t0
        conn.commit()
    if vacuum:
        t0 = time.perf_counter()
        with connect(url, autocommit=True) as conn:
            for table in (*TABLES, "value_tally", "search_word"):
                conn.execute(f"VACUUM (ANALYZE) phms.{table}")
        result.seconds["vacuum_analyze"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result.checks = verify(url, sample=verify_sample, seed=seed, extra=(big,))
    result.seconds["verify"] = time.perf_counter() - t0
    result.seconds["total"] = time.perf_counter() - started
    return result


_ORPHANS = {
    **{
        t: f"SELECT count(*) FROM phms.{t} c"
        " WHERE NOT EXISTS (SELECT FROM phms.patient p WHERE p.id = c.patient_id)"
        for t in TABLES
        if t not in ("patient", "vasodilator_step")
    },
    "vasodilator_step": "SELECT count(*) FROM phms.vasodilator_step s WHERE NOT EXISTS"
    " (SELECT FROM phms.vasodilator_challenge c WHERE c.id = s.challenge_id)",
}
_RULES = {
    # The same conditions as the trigger phms.record_rules, over the whole database.
    "followup_without_earlier_assessment": """SELECT count(*) FROM phms.assessment f
 WHERE f.kind = 'followup' AND NOT f.entered_in_error AND NOT EXISTS (
       SELECT FROM phms.assessment a WHERE a.patient_id = f.patient_id
          AND a.kind = 'assessment' AND NOT a.entered_in_error AND a.study_date < f.study_date)""",
    "challenge_without_assessment": """SELECT count(*) FROM phms.vasodilator_challenge c
 WHERE NOT c.entered_in_error AND NOT EXISTS (
       SELECT FROM phms.assessment a WHERE a.patient_id = c.patient_id
          AND a.kind = 'assessment' AND NOT a.entered_in_error AND a.study_date <= c.study_date)""",
    # phms.step_rules: agent and unit from the site's list.
    "step_agent_not_configured": """SELECT count(*) FROM phms.vasodilator_step s
 WHERE s.agent IS NOT NULL AND NOT EXISTS (
       SELECT FROM phms.setting st CROSS JOIN LATERAL jsonb_array_elements(st.value) e
        WHERE st.key = 'vasodilator_agents' AND e ->> 'name' = s.agent
          AND e ->> 'unit' = s.dose_unit)""",
    "study_date_outside_life": """SELECT count(*) FROM (
       SELECT patient_id, study_date FROM phms.assessment
       UNION ALL SELECT patient_id, study_date FROM phms.six_minute_walk
       UNION ALL SELECT patient_id, study_date FROM phms.vasodilator_challenge) r
  JOIN phms.patient p ON p.id = r.patient_id
 WHERE r.study_date < p.birth_date OR r.study_date > current_date""",
}
#: No-op UPDATEs that make the validating row triggers look at existing rows again.
_TRIGGER_PASSES = (
    ("patient", "UPDATE phms.patient SET patient_code = patient_code WHERE id = ANY(%s)"),
    *(
        (
            t,
            f"UPDATE phms.{t} SET study_date = study_date"
            " WHERE patient_id = ANY(%s) AND NOT entered_in_error",
        )
        for t in ("assessment", "vasodilator_challenge", "six_minute_walk")
    ),
    (
        "vasodilator_step",
        "UPDATE phms.vasodilator_step s SET step_no = s.step_no FROM phms.vasodilator_challenge c"
        " WHERE c.id = s.challenge_id AND c.patient_id = ANY(%s) AND NOT s.entered_in_error",
    ),
    *(
        (t, f"UPDATE phms.{t} SET name = name WHERE patient_id = ANY(%s) AND NOT entered_in_error")
        for t in ("medication", "allergy", "comorbidity")
    ),
)


def verify(
    url: str, *, sample: int = 1000, seed: int = DEFAULT_SEED, extra: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Check what the skipped triggers would have checked; raise if anything is off.

    Whole database: no orphans (foreign keys), the followup and challenge
    prerequisites, configured vasodilator agents, study dates within life.
    A sample of patients: no-op UPDATEs run the real validating triggers
    (patient ID format, dates not in the future, prerequisites, live
    challenge) on their rows, in a transaction that is rolled back.
    """
    checks: dict[str, Any] = {}
    problems: list[str] = []
    with connect(url) as conn:
        for table, sql in _ORPHANS.items():
            n = conn.execute(sql).fetchone()
            checks[f"orphans_{table}"] = n[0] if n else None
        for name, sql in _RULES.items():
            n = conn.execute(sql).fetchone()
            checks[name] = n[0] if n else None
        problems += [k for k, v in checks.items() if v != 0]
        max_id = conn.execute("SELECT coalesce(max(id), 0) FROM phms.patient").fetchone()
        top = int(max_id[0]) if max_id else 0
        step = max(1, top // max(1, sample))
        ids = sorted({*range(1 + seed % step, top + 1, step), *extra})[: sample + len(extra)]
        rows = 0
        try:
            for _table, sql in _TRIGGER_PASSES:
                rows += conn.execute(sql, [ids]).rowcount
        except psycopg.Error as exc:
            problems.append(f"trigger check: {exc}")
        finally:
            conn.rollback()
        checks["trigger_sample_patients"] = len(ids)
        checks["trigger_sample_rows"] = rows
    checks["ok"] = not problems
    if problems:
        raise RuntimeError("generated data failed verification: " + "; ".join(problems))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="superuser SQLAlchemy URL of the database")
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--big-chart", type=int, default=500, help="records in the big chart")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--json", help="also write the load result to this file")
    args = parser.parse_args(argv)
    result = load(
        args.url,
        patients=args.patients,
        seed=args.seed,
        as_of=args.as_of,
        big_chart_records=args.big_chart,
        batch=args.batch,
        progress=lambda m: print(m, flush=True),
    )
    text = json.dumps(asdict(result), indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
