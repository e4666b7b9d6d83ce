"""Every word of every patient's name, once (migration 0019): the typo search's dictionary.

A misspelt name ("Kowlski") is looked up by trigram word similarity. Against the
patient table that read every patient whose name shares enough trigrams, and on a
common family name those are thousands of rows, each read from the table and
rejected or ranked: 40 to 130 ms a keystroke at a million patients. Against this
table a misspelling meets each distinct word once (a few thousand words, not a
million names); the patients are then found by the corrected words with the name
search's prefix indexes (``services.patients``).

A row trigger on ``phms.patient`` adds the words of a new or renamed patient
(``phms.search_words_add``, SECURITY DEFINER: staff never write the table). Words
are never taken away: one left over from a rename only makes a suggestion that
finds nobody. A bulk load that skips triggers refills it with
:data:`phms_schema.ddl_search.REFILL`. It holds no patient, only name words.
"""

from __future__ import annotations

from sqlalchemy import Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base
from phms_schema.ddl_limits import model_checks


class SearchWord(Base):
    __tablename__ = "search_word"

    #: A word of ``patient.search_name`` (lower case, without accents).
    word: Mapped[str] = mapped_column(Text, primary_key=True)

    __table_args__ = (
        Index(
            "ix_search_word_trgm",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
        *model_checks("search_word"),
    )
