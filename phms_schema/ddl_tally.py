"""The value tally's trigger, functions and grants (see ``phms_schema.value_tally``).

Used by migration 0007. As with ``ddl.py``, once a migration has used a
builder, change its output only together with a new migration.

A record's values count while it is live: not entered in error and, for a
challenge step, its challenge not entered in error either. Deleting a
challenge as entered in error therefore takes its live steps' values away.
Deleted rows (only the owner can delete clinical rows) take their values away
too; TRUNCATE is not followed, nor is deleting a live challenge together with
its steps in one statement (the steps no longer see a live challenge): run
``phms.value_tally_rebuild()`` after either. A step waits for a session
deleting its challenge (``step_rules`` locks the challenge row, 0009).
"""

from __future__ import annotations

from phms_schema.base import SCHEMA
from phms_schema.ddl import CLINICIAN
from phms_schema.value_tally import TALLIED

TABLE = f"{SCHEMA}.value_tally"

#: The SQL that says whether a row (``t``) of each table is live.
_LIVE = {
    "assessment": "NOT t.entered_in_error",
    "six_minute_walk": "NOT t.entered_in_error",
    "vasodilator_step": (
        f"NOT t.entered_in_error AND EXISTS (SELECT FROM {SCHEMA}.vasodilator_challenge c"
        " WHERE c.id = t.challenge_id AND NOT c.entered_in_error)"
    ),
}


def unpivot(table: str, alias: str = "t") -> str:
    """``LATERAL (VALUES ('field', alias.field::numeric), …) AS f(field, value)``."""
    pairs = ", ".join(f"('{f}', {alias}.{f}::numeric)" for f in TALLIED[table])
    return f"LATERAL (VALUES {pairs}) AS f(field, value)"


def live(table: str) -> str:
    return _LIVE[table]


def recount() -> str:
    """(source_table, field, value, n) counted from the live records themselves."""
    return "\nUNION ALL\n".join(
        f"""SELECT '{table}'::text AS source_table, f.field, f.value, count(*) AS n
  FROM {SCHEMA}.{table} t CROSS JOIN {unpivot(table)}
 WHERE f.value IS NOT NULL AND {live(table)}
 GROUP BY f.field, f.value"""
        for table in TALLIED
    )


def _row_live(var: str) -> str:
    """PL/pgSQL: ``var`` (a row as jsonb) counts, or is set to NULL."""
    return f"""IF {var} IS NOT NULL AND ((({var} ->> 'entered_in_error')::boolean)
     OR (TG_TABLE_NAME = 'vasodilator_step' AND NOT EXISTS (
           SELECT FROM {SCHEMA}.vasodilator_challenge c
            WHERE c.id = ({var} ->> 'challenge_id')::bigint AND NOT c.entered_in_error))) THEN
    {var} := NULL;
  END IF;"""


def create_functions() -> list[str]:
    steps = "vasodilator_step"
    return [
        # Row trigger; TG_ARGV holds the tallied fields.
        f"""CREATE FUNCTION {SCHEMA}.tally_row() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  old_j jsonb;
  new_j jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW); END IF;
  {_row_live("old_j")}
  {_row_live("new_j")}
  INSERT INTO {TABLE} (source_table, field, value, n)
  SELECT TG_TABLE_NAME, d.field, d.value, sum(d.n)
    FROM (SELECT f AS field, (old_j ->> f)::numeric AS value, -1 AS n
            FROM unnest(TG_ARGV) AS f WHERE old_j ->> f IS NOT NULL
          UNION ALL
          SELECT f, (new_j ->> f)::numeric, 1
            FROM unnest(TG_ARGV) AS f WHERE new_j ->> f IS NOT NULL) d
   GROUP BY d.field, d.value
  HAVING sum(d.n) <> 0;
  RETURN NULL;
END $$""",
        # A challenge entered in error: its live steps' values no longer count.
        f"""CREATE FUNCTION {SCHEMA}.tally_challenge_deleted() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO {TABLE} (source_table, field, value, n)
  SELECT '{steps}', f.field, f.value, -count(*)
    FROM {SCHEMA}.{steps} t CROSS JOIN {unpivot(steps)}
   WHERE t.challenge_id = NEW.id AND NOT t.entered_in_error AND f.value IS NOT NULL
   GROUP BY f.field, f.value;
  RETURN NULL;
END $$""",
        compact_function(),
        # Recount from the records (owner only: after a bulk load or a TRUNCATE).
        f"""CREATE FUNCTION {SCHEMA}.value_tally_rebuild() RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  counted bigint;
BEGIN
  LOCK TABLE {", ".join(f"{SCHEMA}.{t}" for t in (*TALLIED, "vasodilator_challenge"))},
             {TABLE} IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM {TABLE};
  INSERT INTO {TABLE} (source_table, field, value, n)
  {recount()};
  GET DIAGNOSTICS counted = ROW_COUNT;
  RETURN counted;
END $$""",
    ]


#: pg_try_advisory_xact_lock key of the compaction: "PHMT" in ASCII.
COMPACT_LOCK_KEY = 0x50484D54


def compact_function(*, replace: bool = False) -> str:
    """Fold each (table, field, value) into one row; returns the rows removed.

    Rows inserted meanwhile by other sessions are not seen, so not touched. One
    compaction at a time: another one returns 0 at once instead of waiting for
    the row locks, which the first holds until its transaction ends (0009).
    """
    create = "CREATE OR REPLACE" if replace else "CREATE"
    return f"""{create} FUNCTION {SCHEMA}.value_tally_compact() RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  removed bigint;
  added bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock({COMPACT_LOCK_KEY}) THEN
    RETURN 0;
  END IF;
  WITH split AS (
    SELECT source_table, field, value FROM {TABLE}
     GROUP BY source_table, field, value HAVING count(*) > 1
  ), gone AS (
    DELETE FROM {TABLE} t USING split s
     WHERE t.source_table = s.source_table AND t.field = s.field AND t.value = s.value
    RETURNING t.source_table, t.field, t.value, t.n
  ), folded AS (
    INSERT INTO {TABLE} (source_table, field, value, n)
    SELECT source_table, field, value, sum(n) FROM gone
     GROUP BY source_table, field, value HAVING sum(n) <> 0
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM folded) INTO removed, added;
  RETURN removed - added;
END $$"""


def create_triggers() -> list[str]:
    stmts = [
        f"""CREATE TRIGGER tally_values AFTER INSERT OR UPDATE OR DELETE ON {SCHEMA}.{table}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.tally_row({", ".join(f"'{f}'" for f in fields)})"""
        for table, fields in TALLIED.items()
    ]
    stmts.append(
        f"""CREATE TRIGGER tally_steps AFTER UPDATE OF entered_in_error
  ON {SCHEMA}.vasodilator_challenge
  FOR EACH ROW WHEN (NOT OLD.entered_in_error AND NEW.entered_in_error)
  EXECUTE FUNCTION {SCHEMA}.tally_challenge_deleted()"""
    )
    return stmts


def grants() -> list[str]:
    # Admin inherits clinician. No write right for anyone: the functions write.
    return [
        f"REVOKE ALL ON {TABLE} FROM PUBLIC",
        f"GRANT SELECT ON {TABLE} TO {CLINICIAN}",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.value_tally_compact() TO {CLINICIAN}",
    ]


def drop() -> list[str]:
    stmts = [f"DROP TRIGGER tally_values ON {SCHEMA}.{table}" for table in TALLIED]
    stmts.append(f"DROP TRIGGER tally_steps ON {SCHEMA}.vasodilator_challenge")
    stmts += [
        f"DROP FUNCTION {SCHEMA}.{name}()"
        for name in (
            "tally_row",
            "tally_challenge_deleted",
            "value_tally_compact",
            "value_tally_rebuild",
        )
    ]
    return stmts
