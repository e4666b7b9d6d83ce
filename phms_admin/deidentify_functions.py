"""The SQL functions the de-identification uses, created in ``pg_temp`` for one run.

They live only in the session that de-identifies the copy and vanish with it. Every
replacement is drawn from ``pg_temp.h``: sha256 of the run's random salt, a kind and
the real value.
"""

from __future__ import annotations

from typing import Final

from phms_admin.deidentify_plan import REMOVED

FUNCTIONS: Final = [
    # The keyed hash every replacement is drawn from.
    """CREATE FUNCTION pg_temp.h(p_salt text, p_kind text, p_value text) RETURNS bytea
  LANGUAGE sql IMMUTABLE STRICT
  RETURN sha256(convert_to(p_salt || chr(30) || p_kind || chr(30) || p_value, 'UTF8'))""",
    # A pronounceable made-up name: 2-3 consonant-vowel syllables, maybe a final letter.
    # One expression without a subquery, so the planner inlines it.
    # (Not STRICT: a STRICT function with a CASE inside is not inlined.)
    """CREATE FUNCTION pg_temp.fake_name(p_h bytea) RETURNS text
  LANGUAGE sql IMMUTABLE
  RETURN initcap(
    substr('bdfgklmnprstvz', 1 + get_byte(p_h, 0) % 14, 1)
    || substr('aeiou', 1 + get_byte(p_h, 1) % 5, 1)
    || substr('bdfgklmnprstvz', 1 + get_byte(p_h, 2) % 14, 1)
    || substr('aeiou', 1 + get_byte(p_h, 3) % 5, 1)
    || CASE WHEN get_byte(p_h, 29) % 2 = 1
            THEN substr('bdfgklmnprstvz', 1 + get_byte(p_h, 4) % 14, 1)
                 || substr('aeiou', 1 + get_byte(p_h, 5) % 5, 1)
            ELSE '' END
    || substr('nrsl', 1 + get_byte(p_h, 30) % 5, 1))""",
    # A number below p_cap drawn from the hash: 56 bits in integer arithmetic when the
    # format has fewer IDs than that (any usual one), else 112 bits in numeric.
    """CREATE FUNCTION pg_temp.draw(p_h bytea, p_cap numeric) RETURNS numeric
  LANGUAGE sql IMMUTABLE
  RETURN CASE
    WHEN p_cap <= 72057594037927936 THEN
      (('x' || encode(substring(p_h FROM 1 FOR 7), 'hex'))::bit(56)::bigint
       % p_cap::bigint)::numeric
    ELSE mod(('x' || encode(substring(p_h FROM 1 FOR 7), 'hex'))::bit(56)::bigint::numeric
             * 72057594037927936
             + ('x' || encode(substring(p_h FROM 8 FOR 7), 'hex'))::bit(56)::bigint, p_cap)
  END""",
    # The shape of an ID that does not match the site format: digit -> N, letter -> A.
    """CREATE FUNCTION pg_temp.shape_of(p_code text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT
  RETURN translate(p_code, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                   'NNNNNNNNNNAAAAAAAAAAAAAAAAAAAAAAAAAA')""",
    """CREATE FUNCTION pg_temp.capacity(p_shape text) RETURNS numeric
  LANGUAGE sql IMMUTABLE STRICT
  RETURN power(10::numeric, length(p_shape) - length(replace(p_shape, 'N', '')))
       * power(26::numeric, length(p_shape) - length(replace(p_shape, 'A', '')))""",
    # The n-th ID of a shape (mixed radix: N a digit, A a capital letter, others literal).
    """CREATE FUNCTION pg_temp.code_of(p_shape text, p_n numeric) RETURNS text
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  chars text[] := string_to_array(p_shape, NULL);
  small boolean := p_n < 4611686018427387904;
  b bigint := CASE WHEN p_n < 4611686018427387904 THEN p_n::bigint ELSE 0 END;
  n numeric := p_n;
  d integer;
BEGIN
  FOR i IN REVERSE array_length(chars, 1)..1 LOOP
    IF chars[i] = 'N' THEN
      IF small THEN d := b % 10; b := b / 10; ELSE d := mod(n, 10); n := div(n, 10); END IF;
      chars[i] := chr(48 + d);
    ELSIF chars[i] = 'A' THEN
      IF small THEN d := b % 26; b := b / 26; ELSE d := mod(n, 26); n := div(n, 26); END IF;
      chars[i] := chr(65 + d);
    END IF;
  END LOOP;
  RETURN array_to_string(chars, '');
END $$""",
    # A phone number of the same layout: every digit made up, letters dropped.
    f"""CREATE FUNCTION pg_temp.fake_phone(p_value text, p_h bytea) RETURNS text
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  result text := '';
  ch text;
  digits integer := 0;
BEGIN
  FOREACH ch IN ARRAY string_to_array(p_value, NULL) LOOP
    IF ascii(ch) BETWEEN 48 AND 57 THEN
      result := result || chr(48 + get_byte(p_h, digits % 32) % 10);
      digits := digits + 1;
    ELSIF strpos(' +()./-', ch) > 0 THEN
      result := result || ch;
    END IF;
  END LOOP;
  IF digits = 0 THEN
    RETURN '{REMOVED}';
  END IF;
  RETURN btrim(result);
END $$""",
    # Filters of the audit review: every value but numbers, booleans and nulls.
    f"""CREATE FUNCTION pg_temp.redact_all(p_values jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE STRICT
  RETURN coalesce((
    SELECT jsonb_object_agg(key, CASE WHEN jsonb_typeof(value) IN ('number', 'boolean', 'null')
                                      THEN value ELSE to_jsonb('{REMOVED}'::text) END)
      FROM jsonb_each(p_values)), '{{}}'::jsonb)""",
]
