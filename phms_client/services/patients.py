"""Patients: search, read, create and update demographics (no Qt).

Every function takes a Session for one short unit of work and returns frozen
dataclasses; ORM objects never leave this module.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.db.errors import refused_constraint, register_constraint_messages
from phms_client.services import input_rules
from phms_schema import Patient

PAGE_SIZE = 50
#: The search reads at most this many characters of what was typed.
MAX_SEARCH = input_rules.limits.MAX_SEARCH
#: At most this many names that contain or resemble the text are ranked (more only
#: to reach a deep page): a typo of a common name resembles thousands, and ranking
#: them all would take a tenth of a second at a million patients.
SIMILAR_CANDIDATES = 1000
PATIENT: sa.Table = Patient.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class PatientSummary:
    id: int
    patient_code: str
    family_name: str
    given_name: str
    sex: str
    birth_date: dt.date
    status: str

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"


@dataclass(frozen=True)
class PatientInput:
    """What a person types into the demographics form."""

    patient_code: str
    family_name: str
    given_name: str
    sex: str
    birth_date: dt.date
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    ph_group: int | None = None
    ph_subtype: str | None = None
    status: str = "active"
    deceased_date: dt.date | None = None


@dataclass(frozen=True)
class PatientDetails(PatientInput):
    id: int = 0
    version: int = 0
    created_at: dt.datetime | None = None
    created_by: str = ""
    updated_at: dt.datetime | None = None
    updated_by: str = ""

    def as_input(self) -> PatientInput:
        return PatientInput(**{f.name: getattr(self, f.name) for f in fields(PatientInput)})


class StaleRecord(Exception):
    """Someone else saved this record after it was loaded; ``theirs`` is the server's copy."""

    def __init__(self, theirs: PatientDetails) -> None:
        super().__init__(f"patient {theirs.id} was changed by {theirs.updated_by}")
        self.theirs = theirs


class NotFound(LookupError):
    pass


_SUMMARY_COLS = (
    Patient.id,
    Patient.patient_code,
    Patient.family_name,
    Patient.given_name,
    Patient.sex,
    Patient.birth_date,
    Patient.status,
)
_INPUT_NAMES = [f.name for f in fields(PatientInput)]
_DETAIL_NAMES = [f.name for f in fields(PatientDetails)]

_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y")
_CODE_LIKE = re.compile(r"^[0-9A-Z][0-9A-Z./-]*$")


def parse_date(text: str) -> dt.date | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def _details(row: sa.Row[tuple[object, ...]]) -> PatientDetails:
    m = row._mapping
    return PatientDetails(**{name: m[name] for name in _DETAIL_NAMES})


def _summaries(rows: sa.Result[tuple[object, ...]]) -> list[PatientSummary]:
    return [PatientSummary(**r._mapping) for r in rows]


def search(
    session: Session, text: str, *, offset: int = 0, limit: int = PAGE_SIZE
) -> list[PatientSummary]:
    """Patients matching ``text``: a birth date, a patient ID prefix, or a name.

    Names match accent- and case-insensitively: first the names that start with
    the text (family name first, then given name first), alphabetically; then,
    if those are fewer than a page, names that contain it, best match first;
    if there is no such name at all, names that resemble it (trigram word
    similarity: typos), best match first. Empty text finds nothing: the list
    never loads the whole table.
    """
    # The words, one space apart; at most MAX_SEARCH characters are read, and
    # invisible characters (controls, direction marks) are spaces.
    text = input_rules.cap_search(text)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not text:
        return []
    base = sa.select(*_SUMMARY_COLS)
    born = parse_date(text)
    if born is not None:
        stmt = base.where(Patient.birth_date == born).order_by(
            Patient.family_name, Patient.given_name, Patient.id
        )
    elif any(ch.isdigit() for ch in text) and _CODE_LIKE.match(text.upper()):
        # A byte-wise range (index ix_patient_code_prefix, migration 0008): LIKE would
        # use no index on a server whose locale does not sort byte-wise.
        code = Patient.patient_code.collate("C")
        prefix = text.upper()
        stmt = base.where(code >= prefix, code < prefix + _LAST_CHARACTER).order_by(code)
    else:
        return _search_names(session, text, offset=offset, limit=limit)
    return _summaries(session.execute(stmt.offset(offset).limit(limit)))


# Name search in one statement, built to stay fast with a million patients: a
# prefix is a range scan on a C-collated btree (migration 0006) that stops after
# ``offset + limit`` rows, however common the name. Only when the prefixes fill
# less than that are names *containing* the text looked up (trigram index), and
# only when nothing at all was found, names *resembling* it (typos: trigram word
# similarity of the first and second word typed, so that the person meant is among
# the SIMILAR_CANDIDATES ranked even when the family name is a common one; if that
# finds nobody, of the first word alone). A tier
# that is not needed has LIMIT 0 and PostgreSQL never starts it. Look-ups by
# trigram rank at most SIMILAR_CANDIDATES rows: a common name has thousands.
# The ranges compare with a bound computed in the statement, so they work in
# generic plans too (psycopg prepares a statement after five executions).
_KEY = "phms.search_key(:text)"
#: Sorts after every character: ``prefix <= x < prefix + _LAST_CHARACTER`` is a prefix.
_LAST_CHARACTER = "\U0010ffff"
_PREFIX = """{expr} COLLATE "C" >= phms.search_key(:text)
         AND {expr} COLLATE "C" < phms.search_key(:text) || U&'\\+10FFFF'"""
_FAMILY_FIRST = "p.search_name"
_GIVEN_FIRST = "phms.search_key(p.given_name || ' ' || p.family_name)"
_COLS = "p.id, p.patient_code, p.family_name, p.given_name, p.sex, p.birth_date, p.status"
_FOUND = "(SELECT count(*) FROM family_first) + (SELECT count(*) FROM given_first)"
#: Ranked trigram matches: ``{where}``, at most :candidates of them, best first.
_RANKED = f"""
  SELECT c.*, word_similarity({_KEY}, c.search_name) AS rank FROM (
    SELECT {_COLS}, p.search_name FROM phms.patient p
     WHERE {{where}} AND NOT ({_PREFIX.format(expr=_FAMILY_FIRST)})
     LIMIT CASE WHEN {{gate}} THEN :candidates ELSE 0 END) c
   ORDER BY rank DESC, c.family_name, c.given_name, c.id LIMIT :n"""
#: A substring (LIKE, escaped); only from three characters on: a shorter key has no
#: trigram to look it up by, and the whole index would be read.
_CONTAINS = f"""p.search_name LIKE '%' || replace(replace(replace({_KEY},
       '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"""
#: Word similarity of the first word typed (the padding gives even one letter
#: trigrams); the second word, if any, must resemble the name too. The planner
#: decides whether the second word's trigrams are worth reading from the index
#: (measured at a million patients: faster than filtering the candidates by a
#: function call, common given names included; docs/benchmarks.md).
_RESEMBLES_FIRST = f"split_part({_KEY}, ' ', 1) <% p.search_name"
_SECOND = f"split_part({_KEY}, ' ', 2)"
_RESEMBLES = f"{_RESEMBLES_FIRST} AND ({_SECOND} = '' OR {_SECOND} <% p.search_name)"
_CONTAINING = _RANKED.format(where="{contains}", gate=f"{_FOUND} < :n")
_RESEMBLING = _RANKED.format(
    where=_RESEMBLES, gate=f"{_FOUND} + (SELECT count(*) FROM containing) = 0"
)
#: Both words misspelt ("Kowlski Jn"): the first word alone, as the last resort.
_RESEMBLING_FIRST = _RANKED.format(
    where=_RESEMBLES_FIRST,
    gate=f"{_SECOND} <> '' AND {_FOUND} + (SELECT count(*) FROM containing)"
    " + (SELECT count(*) FROM resembling) = 0",
)
_NAME_SEARCH = f"""
WITH family_first AS MATERIALIZED (
  SELECT {_COLS}, {_FAMILY_FIRST} AS sort_key FROM phms.patient p
   WHERE {_PREFIX.format(expr=_FAMILY_FIRST)}
   ORDER BY {_FAMILY_FIRST} COLLATE "C", p.id LIMIT :n),
given_first AS MATERIALIZED (
  SELECT {_COLS}, {_GIVEN_FIRST} AS sort_key FROM phms.patient p
   WHERE (SELECT count(*) FROM family_first) < :n
     AND {_PREFIX.format(expr=_GIVEN_FIRST)}
     AND NOT ({_PREFIX.format(expr=_FAMILY_FIRST)})
   ORDER BY {_GIVEN_FIRST} COLLATE "C", p.id LIMIT :n),
containing AS MATERIALIZED ({_CONTAINING}),
resembling AS MATERIALIZED ({_RESEMBLING}),
resembling_first AS MATERIALIZED ({_RESEMBLING_FIRST})
SELECT id, patient_code, family_name, given_name, sex, birth_date, status FROM (
  SELECT *, 0 AS tier, 0 AS rank FROM family_first
  UNION ALL SELECT *, 1, 0 FROM given_first
  UNION ALL SELECT id, patient_code, family_name, given_name, sex, birth_date, status, '', 2,
                   rank FROM containing
             WHERE id NOT IN (SELECT id FROM given_first)
  UNION ALL SELECT id, patient_code, family_name, given_name, sex, birth_date, status, '', 3,
                   rank FROM resembling
  UNION ALL SELECT id, patient_code, family_name, given_name, sex, birth_date, status, '', 4,
                   rank FROM resembling_first) hits
 ORDER BY tier, rank DESC, sort_key COLLATE "C", family_name, given_name, id
 OFFSET :offset LIMIT :limit"""
_NAME_STATEMENTS = {
    short: sa.text(_NAME_SEARCH.format(contains="false" if short else _CONTAINS))
    for short in (False, True)
}


def _search_names(session: Session, text: str, *, offset: int, limit: int) -> list[PatientSummary]:
    stmt = _NAME_STATEMENTS[len(text) < 3]
    n = offset + limit
    params = {
        "text": text,
        "n": n,
        "candidates": max(n, SIMILAR_CANDIDATES),
        "offset": offset,
        "limit": limit,
    }
    return _summaries(session.execute(stmt, params))


def get(session: Session, patient_id: int) -> PatientDetails:
    row = session.execute(sa.select(PATIENT).where(Patient.id == patient_id)).first()
    if row is None:
        raise NotFound(f"No patient with id {patient_id}")
    return _details(row)


def find_by_code(session: Session, code: str) -> PatientDetails | None:
    row = session.execute(sa.select(PATIENT).where(Patient.patient_code == code)).first()
    return None if row is None else _details(row)


def _clean(data: PatientInput) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(data, name) for name in _INPUT_NAMES}
    for name, value in values.items():
        if isinstance(value, str):
            stripped = input_rules.clean_text(value).strip()
            values[name] = (
                stripped
                if stripped or name in ("family_name", "given_name", "patient_code")
                else None
            )
    input_rules.check_row("patient", values)
    return values


def create(session: Session, data: PatientInput) -> PatientDetails:
    row = session.execute(sa.insert(PATIENT).values(**_clean(data)).returning(PATIENT)).one()
    return _details(row)


def update(session: Session, patient_id: int, version: int, data: PatientInput) -> PatientDetails:
    """Save ``data`` over the row if it is still at ``version``; else raise StaleRecord."""
    row = session.execute(
        sa.update(PATIENT)
        .where(Patient.id == patient_id, Patient.version == version)
        .values(**_clean(data))
        .returning(PATIENT)
    ).first()
    if row is None:
        raise StaleRecord(get(session, patient_id))
    return _details(row)


def possible_duplicates(
    session: Session, data: PatientInput, exclude_id: int | None = None
) -> list[PatientSummary]:
    """Patients who may be the same person: same birth date with a similar name, or the
    same name with another birth date that differs in one field (day/month swapped)."""
    key = sa.func.phms.search_key(f"{data.family_name} {data.given_name}")
    same_birth = sa.and_(
        Patient.birth_date == data.birth_date, sa.func.similarity(Patient.search_name, key) >= 0.4
    )
    same_name = Patient.search_name == key
    stmt = sa.select(*_SUMMARY_COLS).where(sa.or_(same_birth, same_name))
    if exclude_id is not None:
        stmt = stmt.where(Patient.id != exclude_id)
    return _summaries(session.execute(stmt.order_by(Patient.family_name).limit(20)))


def log_chart_access(session: Session, patient_id: int) -> None:
    session.execute(sa.text("SELECT phms.log_chart_access(:i)"), {"i": patient_id})


def open_chart(session: Session, patient_id: int) -> PatientDetails:
    """Load a chart for reading and record that it was opened (same transaction)."""
    details = get(session, patient_id)
    log_chart_access(session, patient_id)
    return details


@dataclass(frozen=True)
class NewPatientCheck:
    """What the server knows that a new patient's form should warn about."""

    code_taken_by: PatientSummary | None
    duplicates: tuple[PatientSummary, ...]


def check_new(session: Session, data: PatientInput) -> NewPatientCheck:
    """Before creating: is the patient ID taken, and who may be the same person?"""
    taken = session.execute(
        sa.select(*_SUMMARY_COLS).where(Patient.patient_code == data.patient_code)
    ).first()
    return NewPatientCheck(
        code_taken_by=None if taken is None else PatientSummary(**taken._mapping),
        duplicates=tuple(possible_duplicates(session, data)),
    )


#: Database rules on the patient table: the form field each one belongs to and what it
#: means in plain words (also registered for :func:`phms_client.db.errors.classify`).
CONSTRAINT_FIELDS: dict[str, tuple[str, str]] = {
    "uq_patient_patient_code": (
        "patient_code",
        "This patient ID is already used by another patient.",
    ),
    "ck_patient_patient_code_format": (
        "patient_code",
        "The patient ID does not match the site's patient ID format (it may have been "
        "changed in the settings).",
    ),
    "ck_patient_family_name_present": ("family_name", "The family name is missing."),
    "ck_patient_given_name_present": ("given_name", "The given name is missing."),
    "ck_patient_sex_known": ("sex", "The sex is not one of the known choices."),
    "ck_patient_status_known": ("status", "The status is not one of the known choices."),
    "ck_patient_birth_date_plausible": ("birth_date", "The date of birth is implausibly early."),
    "ck_patient_birth_date_not_future": (
        "birth_date",
        "The date of birth cannot be in the future.",
    ),
    "ck_patient_ph_group_range": ("ph_group", "The PH group must be 1 to 5."),
    "ck_patient_deceased_date_consistent": (
        "deceased_date",
        "A date of death needs the status “deceased” and cannot be before the date of birth.",
    ),
    "ck_patient_deceased_date_not_future": (
        "deceased_date",
        "The date of death cannot be in the future.",
    ),
}
CONSTRAINT_FIELDS.update(input_rules.constraint_fields("patient", stamps=False))
register_constraint_messages({name: text for name, (_, text) in CONSTRAINT_FIELDS.items()})


def rejected_field(exc: BaseException) -> tuple[str, str] | None:
    """For a save the database refused: ``(field name, plain message)``, if one field is meant."""
    if isinstance(exc, input_rules.InvalidInput):
        return (exc.field, exc.message)
    name = refused_constraint(exc)
    return CONSTRAINT_FIELDS.get(name) if name else None
