"""A clinic with everything de-identification must find, and the scans that check it.

``fill_identifying`` adds to a filled clinic (tests.ops.helpers.fill_clinic) what
a real one holds: clinical courses, e-mail addresses, multi-line addresses, notes
and details that name the patient, a deleted entry with its reason, a problem
report whose log shows a patient ID, and an auditor's search for a name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from phms_admin import demo_course
from phms_admin.deidentify_plan import CHANGED, PLAN, Action
from tests.harness import PgDatabase

#: Text-like types whose values the scan reads.
TEXT_TYPES = ("text", "character varying", "character", "jsonb", "json", "name")


def fill_identifying(database: PgDatabase) -> None:
    engine = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        ph = list(
            conn.execute(
                sa.text("SELECT id FROM phms.patient WHERE ph_group IS NOT NULL ORDER BY id")
            ).scalars()
        )
        demo_course.load(conn, ph, seed=11)
        conn.execute(
            sa.text(
                """UPDATE phms.patient SET
                     email = lower(given_name) || '.' || id || '@mail.example.net',
                     address = address || E'\\nFlat ' || id || ', Riverside'
                   WHERE id % 3 = 0"""
            )
        )
        conn.execute(
            sa.text(
                """UPDATE phms.appointment a SET note =
                     'Call ' || p.given_name || ' ' || p.family_name || ' on ' || p.phone
                   FROM phms.patient p WHERE p.id = a.patient_id"""
            )
        )
        for table in ("medication", "allergy", "comorbidity"):
            conn.execute(
                sa.text(
                    f"""UPDATE phms.{table} t SET details =
                          'Told by ' || p.family_name || ' (' || p.patient_code || ')'
                        FROM phms.patient p WHERE p.id = t.patient_id"""
                )
            )
        conn.execute(
            sa.text(
                """UPDATE phms.medication t SET entered_in_error = true,
                          error_reason = 'Belongs to ' || p.given_name || ' ' || p.family_name
                     FROM phms.patient p
                    WHERE p.id = t.patient_id
                      AND t.id = (SELECT min(id) FROM phms.medication)"""
            )
        )
        code, name = conn.execute(
            sa.text("SELECT patient_code, family_name FROM phms.patient ORDER BY id LIMIT 1")
        ).one()
        conn.execute(
            sa.text(
                """INSERT INTO phms.problem_report (description, client_version, server_version,
                                                   schema_revision, platform, log_tail)
                   VALUES (:d, '0.1.0', '18', '0015', 'Linux', :log)"""
            ),
            {"d": f"The chart of {name} froze", "log": f"opened chart {code}\nthen it hung"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit.review_log (view, filters) "
                "VALUES ('activity', CAST(:f AS jsonb))"
            ),
            {"f": json.dumps({"patient": name, "limit": 50})},
        )
    engine.dispose()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def text_columns(conn: sa.Connection) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every text-like column of every table."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            sa.text(
                """SELECT c.table_schema, c.table_name, c.column_name
                     FROM information_schema.columns c
                     JOIN information_schema.tables t
                       ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                    WHERE t.table_type = 'BASE TABLE'
                      AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
                      AND c.data_type = ANY(:types)
                    ORDER BY 1, 2, 3"""
            ),
            {"types": list(TEXT_TYPES)},
        )
    ]


def sensitive_values(url: str) -> set[str]:
    """Every value of the source that de-identification replaces (names, IDs, contact
    details, free text), as stored."""
    found: set[str] = set()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for table, cols in PLAN.items():
            wanted = [
                c
                for c, a in cols.items()
                if a in CHANGED
                and a not in (Action.GENERATED, Action.SECRET, Action.AUDIT_VALUES, Action.FILTERS)
            ]
            for col in wanted:
                schema, name = table.split(".")
                found.update(
                    v
                    for v in conn.execute(
                        sa.text(f'SELECT DISTINCT "{col}" FROM {schema}.{name}')
                    ).scalars()
                    if isinstance(v, str) and v.strip()
                )
    engine.dispose()
    return found


def survivors(url: str, sensitive: Iterable[str]) -> list[str]:
    """Where any sensitive value still occurs as a whole word in any text or JSON value
    (keys and strings inside JSON included): "schema.table.column: value"."""
    values = sorted({v for v in sensitive if v.strip()}, key=len, reverse=True)
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(v) for v in values) + r")(?!\w)", re.IGNORECASE
    )
    hits: list[str] = []
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for schema, table, col in text_columns(conn):
            rows = conn.execute(sa.text(f'SELECT "{col}" FROM "{schema}"."{table}"')).scalars()
            for value in rows:
                for text in _strings(value):
                    match = pattern.search(text)
                    if match:
                        hits.append(f"{schema}.{table}.{col}: {match.group(0)!r} in {text!r}")
    engine.dispose()
    return hits


def kept_digest(url: str) -> dict[str, str]:
    """Per table, one hash over every column de-identification keeps (ordered rows), the
    audit trail's own de-identification event left out."""
    out: dict[str, str] = {}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname IN ('phms', 'audit', 'public') ORDER BY 1, 2"
            )
        ).all()
        for schema, table in tables:
            changed = {c for c, a in PLAN.get(f"{schema}.{table}", {}).items() if a in CHANGED}
            cols = [
                c
                for c in conn.execute(
                    sa.text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"
                    ),
                    {"s": schema, "t": table},
                ).scalars()
                if c not in changed
            ]
            if not cols:  # every column made anew (the search's dictionary): none to compare
                continue
            row = "concat_ws('|', " + ", ".join(f"coalesce(\"{c}\"::text, '-')" for c in cols) + ")"
            where = (
                "WHERE operation <> 'DE-IDENTIFY'" if (schema, table) == ("audit", "event") else ""
            )
            out[f"{schema}.{table}"] = str(
                conn.execute(
                    sa.text(
                        f"SELECT md5(coalesce(string_agg(x, chr(10) ORDER BY x), '')) FROM "
                        f'(SELECT {row} AS x FROM "{schema}"."{table}" {where}) r'
                    )
                ).scalar_one()
            )
    engine.dispose()
    return out
