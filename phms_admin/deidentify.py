"""De-identify a restored copy in place: names, IDs, contact details and free text.

What happens to each column is decided in :mod:`phms_admin.deidentify_plan`. It all
runs in ONE transaction on a superuser's connection to the copy, with
``session_replication_role = replica``: no row trigger fires, so the audit trail does
not record a million changes, no NOTIFY goes out, and the rows keep their
``updated_at``/``version`` (the dates stay). The copy's audit trail is then redacted
and gets one row saying that the copy was de-identified.

Every replacement is derived from ``sha256(salt, kind, real value)`` with a random
salt that is never stored: the same real value gets the same replacement throughout
the copy, and nobody can compute a replacement back. The work is set-based (a handful
of UPDATEs over temporary mapping tables), so a million patients take minutes, not
hours.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from phms_admin.connection import CommandError
from phms_admin.deidentify_functions import FUNCTIONS
from phms_admin.deidentify_plan import (
    EMPTIED,
    PLAN,
    REFILLED,
    REMOVED,
    Action,
    audit_keys,
    columns,
)
from phms_admin.pgtools import describe_pg_error

Conn = psycopg.Connection[tuple[Any, ...]]
Log = Callable[[str], None]

#: The most rounds of drawing patient IDs before giving up (each round only redraws
#: the IDs that collided; even a format 90 % full needs far fewer).
MAX_ID_ROUNDS = 500
#: The same for made-up names that happen to be a real patient's name (rare).
MAX_NAME_ROUNDS = 16

#: Neutral street and town names for made-up addresses (no person's name among them).
STREETS = (
    "Alder Way",
    "Birch Close",
    "Cedar Road",
    "Elm Grove",
    "Larch Avenue",
    "Maple Drive",
    "Poplar Walk",
    "Sycamore Row",
    "Quarry Lane",
    "Orchard Street",
    "Station Road",
    "Mill Lane",
)
TOWNS = ("Exampleton", "Sampleford", "Testbury", "Mockley", "Placeholm", "Fictiville")


@dataclass(frozen=True)
class Summary:
    patients: int
    names: int
    free_text_rows: int
    audit_rows: int
    seconds: float
    #: (step, seconds) in order: names, ids, patients, free_text, secrets, audit, commit.
    steps: tuple[tuple[str, float], ...] = ()


def _count(conn: Conn, query: str, params: dict[str, Any] | None = None) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


@contextmanager
def _indexes_dropped(conn: Conn, table: str) -> Iterator[None]:
    """Drop ``table``'s secondary indexes for a mass update and build them again after
    (much faster than updating a trigram index a million times). Indexes of constraints
    (primary key, unique) stay. All inside the caller's transaction."""
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
            WHERE i.indrelid = %s::regclass
              AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        (table,),
    ).fetchall()
    for name, _ in rows:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    yield
    for _, definition in rows:
        conn.execute(definition)


#: Types whose columns the plan must cover (as information_schema names them).
PLANNED_TYPES = ["text", "character varying", "character", "jsonb", "json", "bytea", "ARRAY"]

Present = frozenset[tuple[str, str]]


def present_columns(conn: Conn) -> Present:
    """("schema.table", column) of every text, JSON and binary column of the copy."""
    rows = conn.execute(
        """SELECT c.table_schema || '.' || c.table_name, c.column_name
             FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE t.table_type = 'BASE TABLE'
              AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
              AND c.data_type = ANY(%s)""",
        (PLANNED_TYPES,),
    ).fetchall()
    return frozenset((str(t), str(c)) for t, c in rows)


def check_plan(present: Present) -> None:
    """Refuse a copy with a column nobody decided on (a backup of a newer or an older
    schema than this PHMS knows): it would be copied as it is."""
    unknown = sorted(f"{t}.{c}" for t, c in present if c not in PLAN.get(t, {}))
    if unknown:
        raise CommandError(
            "This version of PHMS does not know what to do with "
            + ", ".join(unknown)
            + " in a de-identified copy. Use the PHMS version whose schema revision matches "
            "the backup's, or make the copy without --de-identify."
        )


def _cols(present: Present, table: str, *actions: Action) -> list[str]:
    return [c for c in columns(table, *actions) if (table, c) in present]


def _has_table(present: Present, table: str) -> bool:
    return any(t == table for t, _ in present)


_CLASH = """SELECT count(*) FROM deid_name m
              WHERE EXISTS (SELECT FROM deid_real_name r WHERE r.n = lower(m.fake))"""


def _names(conn: Conn, salt: str) -> int:
    """deid_name: (kind, original) -> a made-up name that is nobody's real name."""
    conn.execute(
        """CREATE TEMP TABLE deid_real_name ON COMMIT DROP AS
             SELECT lower(btrim(family_name)) AS n FROM phms.patient
             UNION SELECT lower(btrim(given_name)) FROM phms.patient"""
    )
    conn.execute("CREATE INDEX ON deid_real_name (n)")
    conn.execute(
        """CREATE TEMP TABLE deid_name ON COMMIT DROP AS
             SELECT 'family'::text AS kind, family_name AS original, NULL::text AS fake
               FROM phms.patient GROUP BY family_name
             UNION ALL
             SELECT 'given', given_name, NULL FROM phms.patient GROUP BY given_name"""
    )
    # In rounds: every name draws once; only the few that hit a real name draw again.
    for attempt in range(MAX_NAME_ROUNDS):
        conn.execute(
            """UPDATE deid_name SET fake = pg_temp.fake_name(pg_temp.h(
                      %(salt)s, kind || %(attempt)s::text, lower(btrim(original))))
                WHERE fake IS NULL"""
            if attempt == 0
            else """UPDATE deid_name m SET fake = pg_temp.fake_name(pg_temp.h(
                      %(salt)s, kind || %(attempt)s::text, lower(btrim(original))))
                     WHERE EXISTS (SELECT FROM deid_real_name r WHERE r.n = lower(m.fake))""",
            {"salt": salt, "attempt": attempt},
        )
        if not _count(conn, _CLASH):
            break
    else:
        raise CommandError("Could not make up names that differ from every real name.")
    conn.execute("CREATE UNIQUE INDEX ON deid_name (kind, original)")
    return _count(conn, "SELECT count(*) FROM deid_name")


_CODE_CLASH = """
  SELECT d.id FROM deid_code d JOIN phms.patient p ON p.patient_code = d.fake
  UNION
  SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY fake ORDER BY id) AS n
                    FROM deid_code) r
   WHERE n > 1"""


def _codes(conn: Conn, salt: str) -> int:
    """deid_code: patient id -> a made-up ID, unique, never any patient's real ID.

    Every patient draws once; then, round by round, only the IDs that are a real
    patient's or drawn twice draw again (a few percent, then a few, then none)."""
    conn.execute(
        """CREATE TEMP TABLE deid_code ON COMMIT DROP AS
             SELECT x.id, x.shape, x.cap, 0 AS attempt,
                    pg_temp.code_of(x.shape, pg_temp.draw(
                      pg_temp.h(%(salt)s, 'id0', x.id::text), x.cap)) AS fake
               FROM (SELECT p.id, s.shape, pg_temp.capacity(s.shape) AS cap
                       FROM phms.patient p
                       CROSS JOIN (SELECT coalesce((SELECT value #>> '{}' FROM phms.setting
                                                     WHERE key = 'patient_id_format'),
                                                   'NNNNNNN-N') AS fmt) f
                       CROSS JOIN LATERAL (SELECT CASE
                           WHEN p.patient_code ~ phms.patient_code_pattern(f.fmt) THEN f.fmt
                           ELSE pg_temp.shape_of(p.patient_code) END AS shape) s) x""",
        {"salt": salt},
    )
    tight = conn.execute(
        """SELECT shape, count(*), min(cap) FROM deid_code GROUP BY shape
            HAVING min(cap) < 2 * count(*)"""
    ).fetchall()
    if tight:
        shapes = ", ".join(f"{s} ({n} patients, {cap} possible IDs)" for s, n, cap in tight)
        raise CommandError(
            "The patient ID format leaves too few free IDs to give every patient a made-up "
            f"ID that is no real patient's: {shapes}."
        )
    conn.execute("ALTER TABLE deid_code ADD PRIMARY KEY (id)")
    for rounds in range(1, MAX_ID_ROUNDS + 1):
        cur = conn.execute(
            f"""WITH clash AS ({_CODE_CLASH})
                UPDATE deid_code d
                   SET attempt = d.attempt + 1,
                       fake = pg_temp.code_of(d.shape, pg_temp.draw(
                         pg_temp.h(%(salt)s, 'id' || (d.attempt + 1), d.id::text), d.cap))
                  FROM clash WHERE clash.id = d.id""",
            {"salt": salt},
        )
        if cur.rowcount == 0:
            return rounds
    left = _count(conn, f"SELECT count(*) FROM ({_CODE_CLASH}) c")
    raise CommandError(
        f"Could not draw free patient IDs for {left} patients in {MAX_ID_ROUNDS} rounds: "
        "the ID format is nearly full."
    )


def _patients(conn: Conn, salt: str) -> int:
    streets = sql.Literal(list(STREETS))
    towns = sql.Literal(list(TOWNS))
    query = sql.SQL(
        """UPDATE phms.patient p SET
             family_name = f.fake,
             given_name = g.fake,
             patient_code = c.fake,
             phone = CASE WHEN p.phone IS NULL OR btrim(p.phone) = '' THEN p.phone
                          ELSE pg_temp.fake_phone(p.phone, pg_temp.h(%(salt)s, 'phone', p.phone))
                     END,
             email = CASE WHEN p.email IS NULL OR btrim(p.email) = '' THEN p.email
                          ELSE 'p' || substr(encode(pg_temp.h(
                                        %(salt)s, 'email', lower(btrim(p.email))), 'hex'), 1, 12)
                               || '@example.org'
                     END,
             address = CASE WHEN p.address IS NULL OR btrim(p.address) = '' THEN p.address
                            ELSE (SELECT (1 + get_byte(x.h, 0) %% 199)::text || ' '
                                         || ({streets}::text[])[1 + get_byte(x.h, 1) %% {ns}]
                                         || ', '
                                         || ({towns}::text[])[1 + get_byte(x.h, 2) %% {nt}]
                                    FROM (SELECT pg_temp.h(%(salt)s, 'address',
                                                           lower(btrim(p.address))) AS h) x)
                       END
           FROM deid_name f, deid_name g, deid_code c
          WHERE f.kind = 'family' AND f.original = p.family_name
            AND g.kind = 'given' AND g.original = p.given_name
            AND c.id = p.id"""
    ).format(streets=streets, towns=towns, ns=sql.Literal(len(STREETS)), nt=sql.Literal(len(TOWNS)))
    with _indexes_dropped(conn, "phms.patient"):
        cur = conn.execute(query, {"salt": salt})
    return cur.rowcount


def _free_text(conn: Conn, present: Present) -> int:
    changed = 0
    for table in PLAN:
        cols = _cols(present, table, Action.FREE_TEXT)
        if not cols or table in EMPTIED:
            continue
        schema, name = table.split(".", 1)
        sets = sql.SQL(", ").join(
            sql.SQL("{c} = CASE WHEN {c} IS NULL OR {c} = '' THEN {c} ELSE {r} END").format(
                c=sql.Identifier(c), r=sql.Literal(REMOVED)
            )
            for c in cols
        )
        where = sql.SQL(" OR ").join(
            sql.SQL("coalesce({c}, '') NOT IN ('', {r})").format(
                c=sql.Identifier(c), r=sql.Literal(REMOVED)
            )
            for c in cols
        )
        cur = conn.execute(
            sql.SQL("UPDATE {t} SET {sets} WHERE {where}").format(
                t=sql.Identifier(schema, name), sets=sets, where=where
            )
        )
        changed += cur.rowcount
    return changed


def _redacted(column: str, keys: list[str]) -> sql.Composable:
    """``column`` with each of ``keys`` that it holds (and that is not a JSON null) set to
    "[removed]": one object built of the keys present, merged over the row's values."""
    c = sql.Identifier(column)
    pairs = sql.SQL(", ").join(
        sql.SQL(
            "{k}, CASE WHEN {c} -> {k} IS NOT NULL AND {c} -> {k} <> 'null'::jsonb "
            "THEN to_jsonb({r}::text) END"
        ).format(k=sql.Literal(key), c=c, r=sql.Literal(REMOVED))
        for key in keys
    )
    return sql.SQL("{c} || jsonb_strip_nulls(jsonb_build_object({pairs}))").format(c=c, pairs=pairs)


def _audit(conn: Conn, present: Present) -> int:
    """Redact the trail in one pass: per audited table, its own keys."""
    keys = audit_keys()

    def per_table(column: str) -> sql.Composable:
        return sql.SQL("CASE table_name {cases} ELSE {c} END").format(
            cases=sql.SQL(" ").join(
                sql.SQL("WHEN {t} THEN {e}").format(t=sql.Literal(t), e=_redacted(column, k))
                for t, k in keys.items()
            ),
            c=sql.Identifier(column),
        )

    where = sql.SQL(" OR ").join(
        sql.SQL("(table_name = {t} AND (old_values ?| {k} OR new_values ?| {k}))").format(
            t=sql.Literal(t), k=sql.Literal(k)
        )
        for t, k in keys.items()
    )
    with _indexes_dropped(conn, "audit.event"):
        cur = conn.execute(
            sql.SQL("UPDATE audit.event SET old_values = {o}, new_values = {n} WHERE {w}").format(
                o=per_table("old_values"), n=per_table("new_values"), w=where
            )
        )
    redacted = cur.rowcount
    if not _has_table(present, "audit.review_log"):
        return redacted
    conn.execute(
        """UPDATE audit.review_log SET filters = pg_temp.redact_all(filters)
            WHERE EXISTS (SELECT FROM jsonb_each(filters)
                           WHERE jsonb_typeof(value) NOT IN ('number', 'boolean', 'null'))"""
    )
    return redacted


def _secrets(conn: Conn, salt: str, present: Present) -> None:
    for table in PLAN:
        for col in _cols(present, table, Action.SECRET):
            conn.execute(
                sql.SQL(
                    "UPDATE {t} SET {c} = sha256(convert_to(%(salt)s || 'secret' || name, 'UTF8'))"
                ).format(t=sql.Identifier(*table.split(".", 1)), c=sql.Identifier(col)),
                {"salt": salt},
            )
    for table in (t for t in EMPTIED if _has_table(present, t)):
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(*table.split(".", 1))))
    for table, refill in REFILLED.items():
        if _has_table(present, table):
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(*table.split(".", 1))))
            conn.execute(refill)


class _Steps:
    """Each step's time, logged as it ends."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.times: list[tuple[str, float]] = []
        self._last = time.monotonic()

    def done(self, name: str, text: str) -> None:
        now = time.monotonic()
        self.times.append((name, now - self._last))
        self.log(f"  {text} ({now - self._last:.1f} s)")
        self._last = now


def deidentify(
    conn: Conn,
    *,
    database: str,
    source: str,
    salt: str | None = None,
    log: Log = print,
) -> Summary:
    """De-identify the database ``conn`` is connected to (a superuser's connection).

    ``database``: the copy's final name (for the audit row); ``source``: the backup it
    was made from; ``salt``: only for tests (default: 32 random bytes, never stored).
    Commits on success; on any error nothing is changed.
    """
    started = time.monotonic()
    salt = salt or secrets.token_hex(32)
    steps = _Steps(log)
    try:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            # Before any temporary table: the mapping tables of a big clinic stay in memory.
            conn.execute("SET LOCAL temp_buffers = '256MB'")
            conn.execute("SET LOCAL statement_timeout = 0")
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")  # index builds
            present = present_columns(conn)
            check_plan(present)
            for statement in FUNCTIONS:
                conn.execute(statement)
            names = _names(conn, salt)
            steps.done("names", f"{names} distinct names given made-up ones")
            rounds = _codes(conn, salt)
            steps.done("ids", f"made-up patient IDs drawn in {rounds} round(s)")
            patients = _patients(conn, salt)
            steps.done("patients", f"{patients} patients: names, IDs and contact details replaced")
            free = _free_text(conn, present)
            steps.done("free_text", f"{free} rows of notes, details, reasons and reports emptied")
            _secrets(conn, salt, present)
            steps.done("secrets", "a new registry key; the registry upload record emptied")
            audit = _audit(conn, present)
            steps.done("audit", f"{audit} audit events redacted")
            conn.execute(
                """INSERT INTO audit.event (table_name, row_key, operation, new_values)
                   VALUES ('database', %(db)s, 'DE-IDENTIFY', jsonb_build_object(
                     'backup', %(source)s::text, 'patients', %(patients)s::bigint,
                     'what', 'Names, patient IDs, contact details and free text were replaced; '
                             || 'the audit trail before this event was redacted.'))""",
                {"db": database, "source": source, "patients": patients},
            )
            conn.execute("ANALYZE phms.patient")
        steps.done("commit", "committed")
    except psycopg.Error as exc:
        raise CommandError(f"De-identifying the copy failed: {describe_pg_error(exc)}") from exc
    return Summary(patients, names, free, audit, time.monotonic() - started, tuple(steps.times))
