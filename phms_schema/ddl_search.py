"""The typo search's dictionary: its trigger, index and grants (migration 0019).

See :mod:`phms_schema.search_word`. As with ``ddl.py``, once a migration has used a
builder, change its output only together with a new migration.
"""

from __future__ import annotations

from typing import Final

from phms_schema.base import SCHEMA
from phms_schema.ddl import CLERK
from phms_schema.limits import TEXT_LIMITS

TABLE: Final = f"{SCHEMA}.search_word"
#: Longer words are left out (none is: a name has at most 100 characters).
MAX_WORD: Final = TEXT_LIMITS["search_word"]["word"].max_length


def _words(name: str) -> str:
    """The distinct words of a search name, as a set-returning SELECT."""
    return (
        f"SELECT DISTINCT w FROM unnest(string_to_array({name}, ' ')) AS w"
        f" WHERE w <> '' AND length(w) <= {MAX_WORD}"
    )


#: Every word of every patient again (after a bulk load that skipped the trigger).
REFILL: Final = f"""INSERT INTO {TABLE} (word)
SELECT DISTINCT w FROM {SCHEMA}.patient p, unnest(string_to_array(p.search_name, ' ')) AS w
 WHERE w <> '' AND length(w) <= {MAX_WORD}
ON CONFLICT (word) DO NOTHING"""


def create() -> list[str]:
    return [
        f"CREATE INDEX ix_search_word_trgm ON {TABLE} USING gin (word public.gin_trgm_ops)",
        f"""CREATE FUNCTION {SCHEMA}.search_words_add() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.search_name IS NOT DISTINCT FROM OLD.search_name THEN
    RETURN NULL;
  END IF;
  INSERT INTO {TABLE} (word) {_words("NEW.search_name")}
  ON CONFLICT (word) DO NOTHING;
  RETURN NULL;
END $$""",
        f"REVOKE ALL ON FUNCTION {SCHEMA}.search_words_add() FROM PUBLIC",
        # The dictionary's words like a word typed (trigram word similarity, or
        # similarity: a letter left out of a short word), most alike first; never a
        # word much shorter than the one typed (a misspelling is a letter or two off,
        # and 'nowak' is no misspelling of 'nowak' and 95 x). The index, always: on a
        # small dictionary the planner reads every word instead, and computing two
        # similarities per word costs more than the look-up.
        f"""CREATE FUNCTION {SCHEMA}.alike_words(typed text, n integer)
  RETURNS TABLE (word text, sim real)
  LANGUAGE sql STABLE SET enable_seqscan = off AS $$
  SELECT w.word, word_similarity(typed, w.word) AS sim FROM {TABLE} w
   WHERE (typed <% w.word OR typed % w.word) AND length(w.word) >= length(typed) - 2
   ORDER BY sim DESC, similarity(typed, w.word) DESC, w.word
   LIMIT least(greatest(n, 0), 100)
$$""",
        f"GRANT EXECUTE ON FUNCTION {SCHEMA}.alike_words(text, integer) TO {CLERK}",
        f"""CREATE TRIGGER search_words AFTER INSERT OR UPDATE OF family_name, given_name
  ON {SCHEMA}.patient FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.search_words_add()""",
        f"GRANT SELECT ON {TABLE} TO {CLERK}",
        REFILL,
    ]


def drop() -> list[str]:
    return [
        f"DROP FUNCTION {SCHEMA}.alike_words(text, integer)",
        f"DROP TRIGGER search_words ON {SCHEMA}.patient",
        f"DROP FUNCTION {SCHEMA}.search_words_add()",
    ]


__all__ = ["MAX_WORD", "REFILL", "TABLE", "create", "drop"]
