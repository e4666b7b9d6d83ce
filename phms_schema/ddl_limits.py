"""CHECK constraints and triggers for the input limits of ``phms_schema.limits`` (0011).

The models list the same constraints (:func:`model_checks`) so that the schema
reads the same in Python as in the database. As with ``ddl.py``: once a migration
has used a builder, change its output only together with a new migration.

Names (``ck_<table>_<column>_<rule>``) are what the client maps to sentences:

- ``_length``: at most ``max_length`` characters;
- ``_characters``: no control characters (``SINGLE``: none; ``MULTI``: tab and
  newline allowed);
- ``_has_letter``: a name contains a letter;
- ``_shape``: email and phone look like one;
- ``_bounds``: a date between ``DATE_MIN`` and ``DATE_MAX``; ``_window``: not
  further ahead than the limits' window from today (trigger);
- ``_decimals``: at most ``MAX_DECIMALS`` decimal places;
- ``ck_vasodilator_step_dose_range`` (static) and ``_dose_in_range`` (the agent's
  configured dose steps, trigger); ``ck_appointment_kind_configured`` (trigger).

Existing rows: :func:`add_checks` adds a table's constraints in one statement
(one scan of the table). If an existing row breaks one, nothing is lost: the
constraints are added ``NOT VALID`` (every new or changed row is checked, old rows
stay as they are), each is validated on its own, and the ones that old rows
break stay unvalidated with a WARNING naming them (``docs/admin-guide.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import CheckConstraint

from phms_schema import limits
from phms_schema.base import SCHEMA
from phms_schema.limits import MULTI, SINGLE, STAMP, TEXT_LIMITS

#: C0 controls, DEL and C1 controls (Unicode Cc) but NUL, which text cannot hold.
_CONTROL_SINGLE = r"[\x01-\x1f\x7f-\x9f]"
#: The same, with tab (U+0009) and newline (U+000A) allowed.
_CONTROL_MULTI = r"[\x01-\x08\x0b-\x1f\x7f-\x9f]"
#: Characters that are not letters in any script: ASCII, Latin-1 punctuation and
#: symbols, combining marks, invisible formatting characters (U+061C, U+180E,
#: U+200B–U+200F, U+2028–U+202E, U+2060–U+206F, U+FEFF), general punctuation,
#: arrows and symbols, CJK punctuation, variation selectors, private use, specials
#: and emoji. A name needs an ASCII letter or one character outside these, so the
#: test does not depend on the server's locale (a C locale knows no Unicode letters).
_NOT_LETTER = (
    r"\x01-\x7f\x80-\xa9\xab-\xb4\xb6-\xb9\xbb-\xbf\xd7\xf7\u0300-\u036f\u061c\u180e"
    r"\u2000-\u206f\u2190-\u2bff\u3000-\u3003\ue000-\uf8ff\ufe00-\ufe0f\ufeff"
    r"\ufff0-\uffff\U0001f000-\U0001faff"
)
#: Blank passes: ``ck_<table>_name_present`` (and the like) says a name is missing.
HAS_LETTER_SQL = "(btrim({c}) = '' OR {c} ~ '[A-Za-z]' OR {c} ~ '[^" + _NOT_LETTER + "]')"
EMAIL_SQL = r"email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'"
PHONE_SQL = r"phone ~ '^[0-9 +()./-]+$' AND phone ~ '[0-9]'"


def _date_literal(day: object) -> str:
    return f"DATE '{day}'"


def table_checks(table: str, since: str | None = None) -> list[tuple[str, str]]:
    """``(rule, expr)`` of every limit on ``table`` (constraint ``ck_<table>_<rule>``).

    ``since``: only the limits that migration added (None: all, for the models). A
    migration asks for its own, so that a column added later never changes what an
    earlier migration did.
    """
    checks: list[tuple[str, str]] = []
    existing = set(limits.EXISTING_LENGTH_CHECKS.values())
    for column, limit in TEXT_LIMITS.get(table, {}).items():
        if since is not None and limit.since != since:
            continue
        if (table, column) not in existing:
            checks.append((f"{column}_length", f"length({column}) <= {limit.max_length}"))
        if limit.lines == SINGLE:
            checks.append((f"{column}_characters", f"{column} !~ '{_CONTROL_SINGLE}'"))
        elif limit.lines == MULTI:
            checks.append((f"{column}_characters", f"{column} !~ '{_CONTROL_MULTI}'"))
        else:
            assert limit.lines == STAMP
        if limit.needs_letter:
            checks.append((f"{column}_has_letter", HAS_LETTER_SQL.format(c=column)))
    decimals: Mapping[str, tuple[str, ...]] = (
        limits.DECIMAL_COLUMNS if since is None else limits.DECIMAL_COLUMNS_SINCE.get(since, {})
    )
    for column in decimals.get(table, ()):
        checks.append((f"{column}_decimals", f"scale({column}) <= {limits.MAX_DECIMALS}"))
    if since not in (None, "0011"):
        return checks  # the rules below are all 0011's
    if table == "patient":
        checks += [("email_shape", EMAIL_SQL), ("phone_shape", PHONE_SQL)]
    if table == "setting":
        checks.append(("value_size", f"length(value::text) <= {limits.MAX_SETTING_JSON}"))
    low, high = _date_literal(limits.DATE_MIN), _date_literal(limits.DATE_MAX)
    for column in limits.DATE_COLUMNS.get(table, ()):
        if table == "appointment":
            expr = (
                f"{column} >= TIMESTAMPTZ '{limits.DATE_MIN} 00:00+00'"
                f" AND {column} < TIMESTAMPTZ '{limits.DATE_MAX} 00:00+00'"
            )
        else:
            expr = f"{column} BETWEEN {low} AND {high}"
        checks.append((f"{column}_bounds", expr))
    if table == "vasodilator_step":
        checks.append(("dose_at_most", f"dose <= {limits.DOSE_MAX}"))
    return checks


def checked_tables(since: str = "0011") -> tuple[str, ...]:
    """The tables that migration ``since`` adds limits to."""
    names = {t for t, columns in TEXT_LIMITS.items() for c in columns.values() if c.since == since}
    names |= set(limits.DECIMAL_COLUMNS_SINCE.get(since, {}))
    if since == "0011":
        names |= set(limits.DATE_COLUMNS)
    return tuple(sorted(names))


def model_checks(table: str) -> list[CheckConstraint]:
    """The same constraints for the model's ``__table_args__`` (named by the convention)."""
    return [CheckConstraint(expr, name=rule) for rule, expr in table_checks(table)]


def constraint_names(table: str, since: str = "0011") -> list[str]:
    return [f"ck_{table}_{rule}" for rule, _ in table_checks(table, since)]


def add_checks(table: str, since: str = "0011") -> str:
    """One DO block adding ``table``'s limits of migration ``since``; see the module
    text for existing rows."""
    qualified = f"{SCHEMA}.{table}"
    checks = [(f"ck_{table}_{rule}", expr) for rule, expr in table_checks(table, since)]
    valid = ",\n    ".join(f"ADD CONSTRAINT {n} CHECK ({e})" for n, e in checks)
    not_valid = ",\n    ".join(f"ADD CONSTRAINT {n} CHECK ({e}) NOT VALID" for n, e in checks)
    validate = "\n".join(
        f"""  BEGIN
    ALTER TABLE {qualified} VALIDATE CONSTRAINT {n};
  EXCEPTION WHEN check_violation THEN
    RAISE WARNING 'PHMS: existing rows of {qualified} break the new rule {n}; they are kept '
      'as they are and the rule applies to new and changed rows (see the admin guide)';
  END;"""
        for n, _ in checks
    )
    return f"""DO $phms$ BEGIN
  ALTER TABLE {qualified}
    {valid};
EXCEPTION WHEN check_violation THEN
  ALTER TABLE {qualified}
    {not_valid};
{validate}
END $phms$"""


def drop_checks(table: str, since: str = "0011") -> str:
    drops = ", ".join(f"DROP CONSTRAINT {n}" for n in constraint_names(table, since))
    return f"ALTER TABLE {SCHEMA}.{table} {drops}"


# --------------------------------------------------------------------------- triggers

ITEM_TABLES = ("medication", "allergy", "comorbidity")


def _raise(constraint: str, message: str, *args: str) -> str:
    values = "".join(f", {a}" for a in args)
    return (
        f"RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = {constraint},\n"
        f"        MESSAGE = format('{message}'{values})"
    )


def create_triggers() -> list[str]:
    """Windows from today, configured appointment kinds and vasodilator doses.

    Each rule is checked when its value is written (insert, or a change of that
    value), so an old row stays editable after the settings change, as for the
    vasodilator agents (``phms.step_rules``). Staff read the settings anyway, so
    these functions run with the writer's rights (no SECURITY DEFINER).
    """
    item_window = limits.ITEM_DAYS_AHEAD
    appointment_window = limits.APPOINTMENT_DAYS_AHEAD
    headroom = limits.DOSE_HEADROOM
    item_checks = "\n".join(
        f"""  IF NEW.{c} > current_date + {item_window}
     AND (TG_OP = 'INSERT' OR NEW.{c} IS DISTINCT FROM OLD.{c}) THEN
    {
            _raise(
                f"'ck_' || TG_TABLE_NAME || '_{c}_window'",
                f"The date %s is more than {item_window} days ahead",
                f"NEW.{c}",
            )
        };
  END IF;"""
        for c in ("started_on", "stopped_on")
    )
    return [
        f"""CREATE FUNCTION {SCHEMA}.item_date_window() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
{item_checks}
  RETURN NEW;
END $$""",
        *(
            f"""CREATE TRIGGER item_date_window BEFORE INSERT OR UPDATE ON {SCHEMA}.{t}
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.item_date_window()"""
            for t in ITEM_TABLES
        ),
        f"""CREATE FUNCTION {SCHEMA}.appointment_limits() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kinds jsonb;
BEGIN
  IF NEW.starts_at > now() + interval '{appointment_window} days'
     AND (TG_OP = 'INSERT' OR NEW.starts_at IS DISTINCT FROM OLD.starts_at) THEN
    {
            _raise(
                "'ck_appointment_starts_at_window'",
                f"An appointment cannot be booked more than {appointment_window} days ahead",
            )
        };
  END IF;
  IF TG_OP = 'INSERT' OR NEW.kind IS DISTINCT FROM OLD.kind THEN
    SELECT value INTO kinds FROM {SCHEMA}.setting WHERE key = 'appointment_kinds';
    -- A blank kind is refused by ck_appointment_kind_present, which says so.
    IF jsonb_typeof(kinds) = 'array' AND NOT kinds ? NEW.kind AND btrim(NEW.kind) <> '' THEN
      {
            _raise(
                "'ck_appointment_kind_configured'",
                'The kind of appointment "%s" is not in the list set in Preferences',
                "NEW.kind",
            )
        };
    END IF;
  END IF;
  RETURN NEW;
END $$""",
        f"""CREATE TRIGGER appointment_limits BEFORE INSERT OR UPDATE ON {SCHEMA}.appointment
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.appointment_limits()""",
        f"""CREATE FUNCTION {SCHEMA}.step_dose_range() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  highest numeric;
BEGIN
  IF NEW.agent IS NULL OR NEW.dose IS NULL OR NEW.entered_in_error
     OR (TG_OP = 'UPDATE' AND NEW.agent IS NOT DISTINCT FROM OLD.agent
         AND NEW.dose IS NOT DISTINCT FROM OLD.dose) THEN
    RETURN NEW;
  END IF;
  SELECT max(d.value::numeric) INTO highest
    FROM {SCHEMA}.setting s
   CROSS JOIN LATERAL jsonb_array_elements(
           CASE jsonb_typeof(s.value) WHEN 'array' THEN s.value ELSE '[]' END) e
   CROSS JOIN LATERAL jsonb_array_elements(
           CASE jsonb_typeof(e -> 'doses') WHEN 'array' THEN e -> 'doses' ELSE '[]' END) d
   WHERE s.key = 'vasodilator_agents' AND e ->> 'name' = NEW.agent
     AND jsonb_typeof(d.value) = 'number';
  -- An agent that is not configured is refused by step_rules (it names the agent).
  IF highest IS NOT NULL AND NEW.dose > {headroom} * highest THEN
    {
            _raise(
                "'ck_vasodilator_step_dose_in_range'",
                f"A dose of %s %s is more than {headroom} times the highest dose step of %s",
                "NEW.dose",
                "NEW.dose_unit",
                "NEW.agent",
            )
        };
  END IF;
  RETURN NEW;
END $$""",
        f"""CREATE TRIGGER step_dose_range BEFORE INSERT OR UPDATE ON {SCHEMA}.vasodilator_step
  FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.step_dose_range()""",
    ]


def drop_triggers() -> list[str]:
    return [
        f"DROP TRIGGER step_dose_range ON {SCHEMA}.vasodilator_step",
        f"DROP FUNCTION {SCHEMA}.step_dose_range()",
        f"DROP TRIGGER appointment_limits ON {SCHEMA}.appointment",
        f"DROP FUNCTION {SCHEMA}.appointment_limits()",
        *(f"DROP TRIGGER item_date_window ON {SCHEMA}.{t}" for t in ITEM_TABLES),
        f"DROP FUNCTION {SCHEMA}.item_date_window()",
    ]
