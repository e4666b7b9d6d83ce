"""Patients by name in one statement, fast with a million patients (``patients.search``).

Tiers, each only when the ones before it found too little (a tier that is not
needed has LIMIT 0, or a gate that is false, and PostgreSQL never starts it):

0. names that *start* with the text, family name first: a range scan on a
   C-collated btree (migration 0006) that stops after ``offset + limit`` rows,
   however common the name;
1. the same, given name first;
2. names that *contain* it (trigram index), from three characters on, at most
   ``candidates`` of them ranked by word similarity;
3. misspellings: the words of the typo search's dictionary (``phms.search_word``,
   migration 0019: every word of every name, once) that resemble the first word
   typed (trigram word similarity), best first; then names that start with such a
   word and the rest of what was typed, both ways, as in tiers 0 and 1;
4. the rest misspelt too: names that start with such a word, at most
   ``candidates`` of them ranked by word similarity to all that was typed.

Before the dictionary, tiers 3 and 4 looked the first word up among the patients'
names: on a common family name thousands of names share enough trigrams with a
misspelling, and each was read from the table to be ranked or rejected (up to 130 ms
a keystroke at a million patients). Among the distinct words a misspelling meets
each once; the patients are then range scans again.

The ranges compare with a bound computed in the statement, so they work in generic
plans too (psycopg prepares a statement after five executions).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: At most this many dictionary words are tried for a misspelt first word, and the
#: first page shows up to RESEMBLING_QUOTA names of each before more of any.
SIMILAR_WORDS: Final = 10
RESEMBLING_QUOTA: Final = 5

_KEY = "phms.search_key(:text)"
_PREFIX = """{expr} COLLATE "C" >= {low}
         AND {expr} COLLATE "C" < {low} || U&'\\+10FFFF'"""
_FAMILY_FIRST = "p.search_name"
_GIVEN_FIRST = "phms.search_key(p.given_name || ' ' || p.family_name)"
_COLS = "p.id, p.patient_code, p.family_name, p.given_name, p.sex, p.birth_date, p.status"
_FOUND = "(SELECT count(*) FROM family_first) + (SELECT count(*) FROM given_first)"
_FIRST_WORD = f"split_part({_KEY}, ' ', 1)"
#: What was typed after the first word, with its space ('' if nothing).
_REST = f"substr({_KEY}, length({_FIRST_WORD}) + 1)"


def _prefix(expr: str, low: str = _KEY) -> str:
    return _PREFIX.format(expr=expr, low=low)


#: A substring (LIKE, escaped); only from three characters on: a shorter key has no
#: trigram to look it up by, and the whole index would be read.
_CONTAINS = f"""p.search_name LIKE '%' || replace(replace(replace({_KEY},
       '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"""
_CONTAINING = f"""
  SELECT c.*, word_similarity({_KEY}, c.search_name) AS rank FROM (
    SELECT {_COLS}, p.search_name FROM phms.patient p
     WHERE {{contains}} AND NOT ({_prefix(_FAMILY_FIRST)})
     LIMIT CASE WHEN {_FOUND} < :n THEN :candidates ELSE 0 END) c
   ORDER BY rank DESC, c.family_name, c.given_name, c.id LIMIT :n"""
#: Dictionary words like the first word typed (``phms.alike_words``: by word
#: similarity, a word being typed is like the start of the word meant; by similarity,
#: a letter left out of a short word, 'ibnez' for 'ibanez'), most alike first, then
#: alphabetically; only when the tiers before found nobody.
_SIMILAR = f"""
  SELECT a.word, a.sim FROM phms.alike_words({_FIRST_WORD}, :words) a
   WHERE {_FOUND} + (SELECT count(*) FROM containing) = 0"""
#: Names starting with a similar word and ``{rest}``, family name first and given
#: name first (at most :n of each per word), the most alike word first.
_STARTING = """
  SELECT DISTINCT ON (c.id) c.* FROM alike_words s CROSS JOIN LATERAL (
    (SELECT {cols}, p.search_name, {family} AS sort_key, s.word, s.sim, 0 AS way
       FROM phms.patient p
      WHERE {family_prefix} ORDER BY {family} COLLATE "C", p.id LIMIT {limit})
    UNION ALL
    (SELECT {cols}, p.search_name, {given} AS sort_key, s.word, s.sim, 1 AS way
       FROM phms.patient p
      WHERE {given_prefix} ORDER BY {given} COLLATE "C", p.id LIMIT {limit})) c
   ORDER BY c.id, c.sim DESC, c.way"""


def _starting(rest: str, limit: str) -> str:
    low = f"s.word || {rest}"
    return _STARTING.format(
        cols=_COLS,
        family=_FAMILY_FIRST,
        given=_GIVEN_FIRST,
        family_prefix=_prefix(_FAMILY_FIRST, low),
        given_prefix=_prefix(_GIVEN_FIRST, low),
        limit=limit,
    )


#: The first :quota names of each word first (the name meant may be that of a less
#: alike word: a misspelling is like several names), then the rest, most alike first.
#: A word alone typed: each word like it brings its share of the rows wanted, both ways
#: (at least the quota); with more typed after it, all the names that start so.
_SHARE = f"""CASE WHEN {_REST} <> '' THEN :n ELSE greatest(:quota,
  ceil(CAST(:n AS numeric) / greatest((SELECT count(*) FROM alike_words), 1))) END"""
_RESEMBLING = f"""
  SELECT r.*, row_number() OVER (ORDER BY nth > :quota, sim DESC, word, way,
                                          sort_key COLLATE "C", id) AS pos FROM (
    SELECT r.*, row_number() OVER (PARTITION BY r.word ORDER BY r.way, r.sort_key COLLATE "C",
                                   r.id) AS nth
      FROM ({_starting(_REST, _SHARE)}) r) r
   ORDER BY pos LIMIT :n"""
#: Both words misspelt ("Kowlski Jn"): names starting with a word like the first,
#: ranked by word similarity to all that was typed; at most :candidates read.
_RESEMBLING_FIRST = f"""
  SELECT r.*, word_similarity({_KEY}, r.search_name) AS rank FROM (
    SELECT f.* FROM ({_starting("''", ":per_word")}) f
     WHERE {_REST} <> '' AND (SELECT count(*) FROM resembling) = 0) r
   ORDER BY rank DESC, r.family_name, r.given_name, r.id LIMIT :n"""
_NAME_SEARCH = f"""
WITH family_first AS MATERIALIZED (
  SELECT {_COLS}, {_FAMILY_FIRST} AS sort_key FROM phms.patient p
   WHERE {_prefix(_FAMILY_FIRST)}
   ORDER BY {_FAMILY_FIRST} COLLATE "C", p.id LIMIT :n),
given_first AS MATERIALIZED (
  SELECT {_COLS}, {_GIVEN_FIRST} AS sort_key FROM phms.patient p
   WHERE (SELECT count(*) FROM family_first) < :n
     AND {_prefix(_GIVEN_FIRST)}
     AND NOT ({_prefix(_FAMILY_FIRST)})
   ORDER BY {_GIVEN_FIRST} COLLATE "C", p.id LIMIT :n),
containing AS MATERIALIZED ({_CONTAINING}),
alike_words AS MATERIALIZED ({_SIMILAR}),
resembling AS MATERIALIZED ({_RESEMBLING}),
resembling_first AS MATERIALIZED ({_RESEMBLING_FIRST})
SELECT id, patient_code, family_name, given_name, sex, birth_date, status FROM (
  SELECT *, 0 AS tier, 0 AS rank FROM family_first
  UNION ALL SELECT *, 1, 0 FROM given_first
  UNION ALL SELECT id, patient_code, family_name, given_name, sex, birth_date, status, '', 2,
                   rank FROM containing
             WHERE id NOT IN (SELECT id FROM given_first)
  UNION ALL SELECT id, patient_code, family_name, given_name, sex, birth_date, status,
                   '', 3, -pos FROM resembling
  UNION ALL SELECT id, patient_code, family_name, given_name, sex, birth_date, status, '', 4,
                   rank FROM resembling_first) hits
 ORDER BY tier, rank DESC, sort_key COLLATE "C", family_name, given_name, id
 OFFSET :offset LIMIT :limit"""
_STATEMENTS: Final = {
    short: sa.text(_NAME_SEARCH.format(contains="false" if short else _CONTAINS))
    for short in (False, True)
}


def search_names(
    session: Session, text: str, *, offset: int, limit: int, candidates: int
) -> sa.Result[tuple[object, ...]]:
    """Rows (id, patient_code, family_name, given_name, sex, birth_date, status) of the
    names matching ``text`` (normalised: words one space apart)."""
    n = offset + limit
    candidates = max(n, candidates)
    params = {
        "text": text,
        "n": n,
        "candidates": candidates,
        "words": SIMILAR_WORDS,
        "quota": RESEMBLING_QUOTA,
        "per_word": -(-candidates // SIMILAR_WORDS),
        "offset": offset,
        "limit": limit,
    }
    return session.execute(_STATEMENTS[len(text) < 3], params)


__all__ = ["RESEMBLING_QUOTA", "SIMILAR_WORDS", "search_names"]
