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

from phms_client.db.database import prepare_threshold, statement_alone
from phms_client.db.errors import refused_constraint, register_constraint_messages
from phms_client.services import input_rules, name_search
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

#: Sorts after every character: ``prefix <= x < prefix + _LAST_CHARACTER`` is a prefix.
_LAST_CHARACTER = "\U0010ffff"
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
    if there is no such name at all, names that start with a word like the first
    word typed (typos: the words of all names, ``phms.search_word``, by trigram
    similarity) and the rest of the text, most alike first (see
    :mod:`~phms_client.services.name_search`). Empty text finds nothing: the list
    never loads the whole table.
    """
    # The words, one space apart; at most MAX_SEARCH characters are read, and
    # invisible characters (controls, direction marks) are spaces.
    text = input_rules.cap_search(text)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not text:
        return []
    # One statement, sent alone (no BEGIN/COMMIT): a keystroke is one round trip.
    with statement_alone(session):
        return _search(session, text, offset=offset, limit=limit)


def _search(session: Session, text: str, *, offset: int, limit: int) -> list[PatientSummary]:
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
    # A short statement planned in a fraction of a millisecond: never prepared, so that
    # no keystroke waits for a round trip of preparing.
    with prepare_threshold(session, None):
        return _summaries(session.execute(stmt.offset(offset).limit(limit)))


def _search_names(session: Session, text: str, *, offset: int, limit: int) -> list[PatientSummary]:
    """See :mod:`phms_client.services.name_search`."""
    rows = name_search.search_names(
        session, text, offset=offset, limit=limit, candidates=SIMILAR_CANDIDATES
    )
    return _summaries(rows)


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
