"""Synthetic cohort rows: what ``benchmarks.generate`` loads, one patient at a time.

Pure Python, no database: :class:`CohortWriter` draws each patient's demographics
and records from one seeded ``random.Random`` and appends COPY text lines (tab
separated, ``\\N`` for NULL) to one buffer per table. The same seed, scale and
reference date give the same rows, byte for byte.

Every row is valid by construction, because the loader skips the row triggers
(see ``generate.py``): CHECK constraints hold (ranges, pressure order, stop and
entered-in-error consistency), followups come after an assessment of the same
patient, a vasodilator challenge is on the day of an assessment, its steps use
the agents and units of the site's ``vasodilator_agents`` setting, study dates
lie between birth (adult age) and the reference date, foreign keys point at
rows loaded in the same batch or earlier. The stamp and version columns the
``stamp_row`` trigger would fill are filled here (version 1, created = updated =
the day of the visit, by one of a few synthetic staff names).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from phms_admin.demo import FAMILY_NAMES as DEMO_FAMILY_NAMES
from phms_admin.demo import GIVEN as DEMO_GIVEN

NULL = "\\N"

# ---------------------------------------------------------------------- names
# Real surnames first (with their accents), most common first: they get the most
# weight. Then synthetic ones from roots and suffixes of several languages, so a
# million patients have the long tail of a real register, not 40 names.
COMMON_FAMILY = (
    "Smith",
    "Müller",
    "García",
    "Martin",
    "Nowak",
    "Rossi",
    "Jansen",
    "Dubois",
    "Fernández",
    "Johnson",
    "Schmidt",
    "Kowalski",
    "Nguyễn",
    "Novák",
    "Horváth",
    "Andersson",
    "Schröder",
    "Brown",
    "Williams",
    "Martínez",
    "Rodríguez",
    "González",
    "López",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Bianchi",
    "Romano",
    "Lefèvre",
    "Moreau",
    "Girard",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Jäger",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Dvořák",
    "Černý",
    "Procházka",
    "Kovačević",
    "Petrović",
    "Jovanović",
    "Nikolić",
    "Yılmaz",
    "Kaya",
    "Demir",
    "Çelik",
    "Şahin",
    "Öztürk",
    "Sørensen",
    "Jørgensen",
    "Nielsen",
    "Hansen",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Virtanen",
    "Hämäläinen",
    "Mäkinen",
    "Papadopoulos",
    "O'Brien",
    "O'Connor",
    "Murphy",
    "Ó Súilleabháin",
    "Gonçalves",
    "Conceição",
    "Araújo",
    "Ibáñez",
    "Núñez",
    "Muñoz",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Øster",
    "Łukasiewicz",
    "Škoda",
    "Trần",
    "Lê",
    "Phạm",
    "Kim",
    "Lee",
    "Park",
    "Wang",
    "Li",
    "Zhang",
    "Chen",
    "Singh",
    "Kumar",
    "Patel",
    "Khan",
    "Ahmed",
    "Ali",
    "Hussain",
    "Cohen",
    "Levi",
    "Mizrahi",
    "Haddad",
    "Mansour",
    "Okafor",
    "Mensah",
    "Diallo",
)
FAMILY_ROOTS = (
    "Berg",
    "Lind",
    "Nov",
    "Horv",
    "Kowal",
    "Petr",
    "Jan",
    "Ivan",
    "Mart",
    "Fern",
    "Gonz",
    "Rodr",
    "Dup",
    "Lef",
    "Mor",
    "Bern",
    "Schw",
    "Hof",
    "Wald",
    "Stein",
    "Ros",
    "Bian",
    "Ferr",
    "Esp",
    "Cast",
    "Vill",
    "Mont",
    "Fontan",
    "Grün",
    "Kräm",
    "Söd",
    "Åk",
    "Dvo",
    "Krej",
    "Hájek",
    "Pol",
    "Sok",
    "Wiśn",
    "Zaj",
    "Mazur",
    "Kral",
    "Tóth",
    "Szab",
    "Nagy",
    "Varga",
    "Pap",
    "Georg",
    "Dimitr",
    "Oğuz",
    "Aydın",
    "Arsl",
    "Kar",
    "Mil",
    "Rad",
    "Vuk",
    "Bož",
    "Marc",
    "Luc",
    "Bell",
    "Rich",
)
FAMILY_SUFFIXES = (
    "ström",
    "qvist",
    "ák",
    "ović",
    "ski",
    "ska",
    "enko",
    "escu",
    "ez",
    "es",
    "ini",
    "elli",
    "ard",
    "eau",
    "mann",
    "er",
    "sen",
    "son",
    "idis",
    "oğlu",
    "yan",
    "ashvili",
    "ić",
    "ová",
    "ek",
    "ani",
    "etti",
    "ière",
    "ot",
    "berg",
)
COMMON_GIVEN = {
    "female": (
        "Anna",
        "María",
        "Emma",
        "Sofía",
        "Laura",
        "Eva",
        "Julia",
        "Marie",
        "Hélène",
        "Chloé",
        "Zoë",
        "Émilie",
        "Agnieszka",
        "Ingrid",
        "Mária",
        "Siobhán",
        "Jana",
        "Ana",
        "Zeynep",
        "Ayşe",
        "Fatma",
        "Elif",
        "Małgorzata",
        "Katarzyna",
        "Zuzana",
        "Lucía",
        "Inês",
        "Joana",
        "Björk",
        "Åsa",
        "Sigrún",
        "Léa",
        "Manon",
        "Camille",
        "Giulia",
        "Francesca",
        "Chiara",
        "Sarah",
        "Hannah",
        "Lena",
        "Mia",
        "Ewa",
        "Olga",
        "Irina",
        "Nadia",
        "Fatima",
        "Aisha",
        "Mei",
        "Yuki",
        "Linh",
        "Priya",
        "Amara",
        "Grace",
        "Margaret",
        "Elizabeth",
        "Catherine",
        "Ruth",
        "Dolores",
        "Pilar",
        "Núria",
    ),
    "male": (
        "José",
        "François",
        "Jürgen",
        "Lukáš",
        "Björn",
        "Tomasz",
        "Ole",
        "Seán",
        "Miguel",
        "Luca",
        "Jan",
        "Peter",
        "Ömer",
        "Andrés",
        "Noël",
        "Mikkel",
        "Thomas",
        "Michael",
        "David",
        "Daniel",
        "Paul",
        "Jean",
        "Pierre",
        "Jérôme",
        "Hans",
        "Klaus",
        "Günther",
        "Stefan",
        "Piotr",
        "Paweł",
        "Krzysztof",
        "Jiří",
        "Tomáš",
        "Mehmet",
        "Mustafa",
        "Ahmet",
        "João",
        "António",
        "Sérgio",
        "Giuseppe",
        "Marco",
        "Alessandro",
        "Lars",
        "Søren",
        "Åke",
        "Mikko",
        "Juha",
        "Dimitris",
        "Nikos",
        "Ivan",
        "Dmitri",
        "Sergei",
        "Mohammed",
        "Omar",
        "Yusuf",
        "Wei",
        "Hiroshi",
        "Minh",
        "Rajesh",
        "Kwame",
    ),
}
STREETS = (
    "High Street",
    "Station Road",
    "Hauptstraße",
    "Rue de la Paix",
    "Calle Mayor",
    "Via Roma",
    "Kirkegade",
    "Ulica Długa",
    "Church Lane",
    "Mill Road",
)
CITIES = ("London", "Köln", "Lyon", "Sevilla", "Torino", "Aarhus", "Kraków", "Brno", "Leeds")
STAFF = (
    "dr_meier",
    "dr_okafor",
    "dr_lindqvist",
    "dr_garcia",
    "nurse_novak",
    "nurse_kelly",
    "nurse_dubois",
    "clerk_ahmed",
)
ALLERGIES = (
    ("penicillin", "rash"),
    ("sulfonamides", "urticaria"),
    ("iodinated contrast", "anaphylaxis"),
    ("latex", "contact dermatitis"),
    ("aspirin", "bronchospasm"),
    ("amoxicillin", "rash"),
    ("codeine", "nausea"),
)
COMORBIDITIES = (
    "COPD",
    "systemic sclerosis",
    "atrial fibrillation",
    "arterial hypertension",
    "type 2 diabetes mellitus",
    "obstructive sleep apnoea",
    "chronic kidney disease stage 3",
    "hypothyroidism",
    "interstitial lung disease",
    "obesity",
    "portal hypertension",
    "HIV infection",
)
MED_DETAILS = (
    "once daily",
    "twice daily",
    "three times daily",
    "20 mg three times daily",
    "10 mg once daily",
    "62.5 mg twice daily",
    "via pump, continuous",
)
STOP_REASONS = ("side effects", "stopped", "not effective", "switched", "patient choice")
ERROR_REASONS = ("entered for the wrong patient", "duplicate entry", "wrong date")
GROUP_WEIGHTS = ((1, 40), (2, 15), (3, 15), (4, 15), (5, 5), (None, 10))


def _zipf_table(n: int, size: int, exponent: float, offset: float) -> list[int]:
    """A lookup table of ``size`` indexes into ``n`` names with Zipf-like weights."""
    weights = [1.0 / (k + offset) ** exponent for k in range(n)]
    total = sum(weights)
    table: list[int] = []
    for k, w in enumerate(weights):
        table.extend([k] * max(1, round(w / total * size)))
    return table


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def family_names() -> list[str]:
    """Real surnames (incl. the demo's), then synthetic ones; most common first."""
    names: list[str] = []
    for name in (*COMMON_FAMILY, *DEMO_FAMILY_NAMES):
        if name not in names:
            names.append(name)
    seen = set(names)
    for root in FAMILY_ROOTS:
        for suffix in FAMILY_SUFFIXES:
            name = root + suffix
            if name not in seen:
                seen.add(name)
                names.append(name)
    return names


def given_names(sex: str) -> list[str]:
    names = list(COMMON_GIVEN[sex])
    for name in DEMO_GIVEN[sex]:
        if name not in names:
            names.append(name)
    return names


# ---------------------------------------------------------------- id format


def code_capacity(fmt: str) -> int:
    return int(10 ** fmt.count("N") * 26 ** fmt.count("A"))


def patient_code(n: int, fmt: str) -> str:
    """The ``n``-th code of the format (mixed radix, last position fastest)."""
    out: list[str] = []
    for ch in reversed(fmt):
        if ch == "N":
            n, d = divmod(n, 10)
            out.append(chr(48 + d))
        elif ch == "A":
            n, d = divmod(n, 26)
            out.append(chr(65 + d))
        else:
            out.append(ch)
    return "".join(reversed(out))


def _coprime_multiplier(capacity: int, seed: int) -> int:
    a = (2654435761 + 2 * seed) % capacity or 1
    while math.gcd(a, capacity) != 1:
        a += 1
    return a


# ------------------------------------------------------------------- tables

COLUMNS: dict[str, tuple[str, ...]] = {
    "patient": (
        "id",
        "patient_code",
        "family_name",
        "given_name",
        "sex",
        "birth_date",
        "phone",
        "email",
        "address",
        "ph_group",
        "ph_subtype",
        "status",
        "deceased_date",
    ),
    "assessment": (
        "id",
        "patient_id",
        "kind",
        "study_date",
        "who_fc",
        "height_cm",
        "weight_kg",
        "heart_rate_bpm",
        "spo2_pct",
        "bnp_pg_ml",
        "nt_probnp_pg_ml",
        "creatinine_umol_l",
        "tapse_mm",
        "ra_area_cm2",
        "pericardial_effusion",
        "rap_mmhg",
        "spap_mmhg",
        "dpap_mmhg",
        "mpap_mmhg",
        "pawp_mmhg",
        "co_l_min",
        "svo2_pct",
        "rhc_heart_rate_bpm",
    ),
    "six_minute_walk": (
        "id",
        "patient_id",
        "study_date",
        "oxygen_l_min",
        "distance_m",
        "stops",
        "spo2_before_pct",
        "spo2_after_pct",
        "heart_rate_before_bpm",
        "heart_rate_after_bpm",
        "borg_before",
        "borg_after",
    ),
    "vasodilator_challenge": ("id", "patient_id", "study_date"),
    "vasodilator_step": (
        "id",
        "challenge_id",
        "step_no",
        "agent",
        "dose",
        "dose_unit",
        "mpap_mmhg",
        "pawp_mmhg",
        "co_l_min",
        "spap_mmhg",
        "dpap_mmhg",
        "heart_rate_bpm",
        "svo2_pct",
    ),
    "medication": (
        "id",
        "patient_id",
        "name",
        "details",
        "started_on",
        "stopped_on",
        "stop_reason",
    ),
    "allergy": ("id", "patient_id", "name", "details", "started_on", "stopped_on", "stop_reason"),
    "comorbidity": (
        "id",
        "patient_id",
        "name",
        "details",
        "started_on",
        "stopped_on",
        "stop_reason",
    ),
    "appointment": (
        "id",
        "patient_id",
        "starts_at",
        "duration_min",
        "kind",
        "status",
        "status_changed_at",
        "note",
    ),
}
#: Tables with the entered-in-error columns.
ENTRY_TABLES = (
    "assessment",
    "six_minute_walk",
    "vasodilator_challenge",
    "vasodilator_step",
    "medication",
    "allergy",
    "comorbidity",
)
STAMP_COLUMNS = ("version", "created_at", "created_by", "updated_at", "updated_by")
ENTRY_COLUMNS = ("entered_in_error", "error_reason", "error_at", "error_by")
#: Load order: parents before children.
TABLES = tuple(COLUMNS)


def copy_columns(table: str) -> tuple[str, ...]:
    cols = COLUMNS[table]
    if table in ENTRY_TABLES:
        cols += ENTRY_COLUMNS
    return cols + STAMP_COLUMNS


@dataclass(frozen=True)
class Agent:
    name: str
    unit: str
    doses: tuple[float, ...]


@dataclass(frozen=True)
class SiteLists:
    """What the generated rows must agree with, read from the site's settings."""

    id_format: str = "NNNNNNN-N"
    agents: tuple[Agent, ...] = (Agent("inhaled nitric oxide", "ppm", (10, 20, 40)),)
    medicines: tuple[str, ...] = ("sildenafil", "bosentan", "macitentan", "tadalafil")
    group1_subtypes: tuple[str, ...] = ("idiopathic",)
    appointment_kinds: tuple[str, ...] = ("assessment", "followup", "consultation")


@dataclass
class Counters:
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))


def _num(x: float, places: int = 1) -> str:
    return f"{x:.{places}f}"


def _clip(x: float, low: float, high: float) -> float:
    return low if x < low else high if x > high else x


class CohortWriter:
    """Draws patients in id order and appends their rows as COPY text lines."""

    def __init__(
        self,
        *,
        seed: int,
        patients: int,
        as_of: dt.date,
        site: SiteLists,
        big_chart_patient: int | None = None,
        big_chart_records: int = 500,
    ) -> None:
        capacity = code_capacity(site.id_format)
        if patients > capacity // 2:
            raise ValueError(
                f"{patients} patients do not fit the ID format {site.id_format!r} "
                f"({capacity} codes; use at most half of them)"
            )
        self.rng = random.Random(seed)
        self.seed = seed
        self.patients = patients
        self.as_of = as_of
        self.site = site
        self.big_chart_patient = big_chart_patient
        self.big_chart_records = big_chart_records
        self._capacity = capacity
        self._mult = _coprime_multiplier(capacity, seed)
        self._shift = (seed * 7919) % capacity
        self.family = family_names()
        self._family_table = _zipf_table(len(self.family), 200_000, 0.9, 10.0)
        self.given = {s: given_names(s) for s in ("female", "male")}
        self._given_table = {
            s: _zipf_table(len(v), 20_000, 0.8, 2.0) for s, v in self.given.items()
        }
        self._slugs: dict[str, str] = {}
        # ISO dates by ordinal offset from 1880-01-01 (cheap formatting).
        self._epoch = dt.date(1880, 1, 1).toordinal()
        last = as_of.toordinal() + 400
        self._iso = [dt.date.fromordinal(o).isoformat() for o in range(self._epoch, last + 1)]
        self.today = as_of.toordinal()
        self.next_id = dict.fromkeys(TABLES, 1)
        self.lines: dict[str, list[str]] = {t: [] for t in TABLES}

    # ----------------------------------------------------------- helpers

    def day(self, ordinal: int) -> str:
        return self._iso[ordinal - self._epoch]

    def _stamp(self, ordinal: int, minute: int) -> str:
        """version, created/updated at and by for a row entered on that day."""
        at = f"{self.day(ordinal)} {8 + minute // 60:02d}:{minute % 60:02d}:00+00"
        by = STAFF[minute % len(STAFF)]
        return f"1\t{at}\t{by}\t{at}\t{by}"

    def _take_id(self, table: str) -> int:
        n = self.next_id[table]
        self.next_id[table] = n + 1
        return n

    def _emit(self, table: str, fields: Sequence[str]) -> None:
        self.lines[table].append("\t".join(fields))

    def code_for(self, patient_id: int) -> str:
        n = (self._mult * patient_id + self._shift) % self._capacity
        return patient_code(n, self.site.id_format)

    def take_lines(self) -> dict[str, str]:
        """The text accumulated since the last call, per table (empty tables left out)."""
        out = {t: "\n".join(v) + "\n" for t, v in self.lines.items() if v}
        self.lines = {t: [] for t in TABLES}
        return out

    # ----------------------------------------------------------- patients

    def add_patients(self, first: int, last: int) -> None:
        """Patients ``first``..``last`` (inclusive) with all their records."""
        for pid in range(first, last + 1):
            self._patient(pid)

    def _patient(self, pid: int) -> None:
        r = self.rng.random
        big = pid == self.big_chart_patient
        sex = "female" if r() < 0.62 else "male"  # PAH is commoner in women
        family = self.family[self._family_table[int(r() * len(self._family_table))]]
        table = self._given_table[sex]
        given = self.given[sex][table[int(r() * len(table))]]
        if r() < 0.04:  # double given names, as people have them
            given += " " + self.given[sex][table[int(r() * len(table))]]
        age_days = 18 * 365 + int(r() * 72 * 365)
        born = self.today - age_days
        adult = born + 18 * 366
        # First visit: within the last 15 years, as an adult, at least 30 days ago.
        first_visit = max(adult, self.today - 15 * 365) + int(
            r() * max(1, self.today - 30 - max(adult, self.today - 15 * 365))
        )
        has_records = big or r() < 0.9
        if big:
            last_date = self._big_chart(pid, sex, first_visit)
        elif has_records:
            last_date = self._records(pid, sex, first_visit)
        else:
            last_date = first_visit
        status, died = "active", NULL
        x = r()
        if not big and x < 0.07:
            death = last_date + 30 + int(r() * 400)
            if death <= self.today:
                status, died = "deceased", self.day(death)
        elif not big and x < 0.11:
            status = "transferred"
        group = self._group()
        subtype = NULL
        if group == 1 and r() < 0.8:
            subtypes = self.site.group1_subtypes
            subtype = subtypes[int(r() * len(subtypes))]
        slug = self._slugs.get(family)
        if slug is None:
            slug = self._slugs[family] = _slug(family)
        email = f"{_slug(given.split()[0])}.{slug}{pid % 97}@example.org" if r() < 0.3 else NULL
        phone = f"+44 20 7{100 + int(r() * 900)} {1000 + int(r() * 9000)}" if r() < 0.85 else NULL
        address = (
            f"{1 + int(r() * 200)} {STREETS[int(r() * len(STREETS))]}, "
            f"{CITIES[int(r() * len(CITIES))]}"
        )
        self._emit(
            "patient",
            (
                str(pid),
                self.code_for(pid),
                family,
                given,
                sex,
                self.day(born),
                phone,
                email,
                address,
                NULL if group is None else str(group),
                subtype,
                status,
                died,
                self._stamp(first_visit, int(r() * 480)),
            ),
        )
        self.next_id["patient"] = pid + 1
        if not big:
            self._appointments(pid, status, int(r() * 2.2))

    def _group(self) -> int | None:
        x = self.rng.random() * 100
        for group, weight in GROUP_WEIGHTS:
            if x < weight:
                return group
            x -= weight
        return None

    # ----------------------------------------------------------- records

    def _records(self, pid: int, sex: str, first: int) -> int:
        r = self.rng.random
        visits = [first]
        n_follow = (0, 0, 0, 0, 1, 1, 1, 2, 2, 3)[int(r() * 10)]
        d = first
        for _ in range(n_follow):
            d += 90 + int(r() * 300)
            if d > self.today:
                break
            visits.append(d)
        body = self._body(sex)
        for i, v in enumerate(visits):
            kind = "assessment" if i == 0 or r() < 0.1 else "followup"
            mpap = self._assessment(pid, kind, v, body, rhc=(i == 0 and r() < 0.9) or r() < 0.3)
            if i == 0 and mpap is not None and r() < 0.07:
                self._challenge(pid, v, mpap, 1 + int(r() * 3))
        last = visits[-1]
        for v in visits:
            if r() < 0.35:
                w = min(self.today, v + int(r() * 10))
                self._walk(pid, w)
                last = max(last, w)
        for _ in range((1, 1, 1, 2, 2, 3)[int(r() * 6)]):
            self._item("medication", pid, first, self.site.medicines, MED_DETAILS)
        if r() < 0.15:
            self._item("allergy", pid, first, *zip(*ALLERGIES, strict=True))
        if r() < 0.35:
            self._item("comorbidity", pid, first, COMORBIDITIES, ("",))
        return last

    def _big_chart(self, pid: int, sex: str, first: int) -> int:
        """One patient with ``big_chart_records`` chart records (the worst chart)."""
        n = self.big_chart_records
        n_assess = max(1, n * 2 // 5)
        n_walks = n * 3 // 10
        n_chall = max(0, n // 25)
        n_items = max(0, n - n_assess - n_walks - n_chall)
        first = min(first, self.today - n_assess * 12 - 30)
        body = self._body(sex)
        visit = first
        for i in range(n_assess):
            kind = "assessment" if i == 0 or i % 10 == 0 else "followup"
            mpap = self._assessment(pid, kind, visit, body, rhc=True)
            if i < n_chall and mpap is not None:
                self._challenge(pid, visit, mpap, 3)
            if i < n_walks:
                self._walk(pid, visit)
            visit += 12
        for i in range(n_walks - min(n_walks, n_assess)):
            self._walk(pid, first + 5 + i * 3)
        kinds = ("medication", "allergy", "comorbidity")
        for i in range(n_items):
            kind = kinds[0] if i % 5 < 3 else kinds[1 + i % 2]
            if kind == "medication":
                self._item(kind, pid, first + i * 7, self.site.medicines, MED_DETAILS)
            elif kind == "allergy":
                self._item(kind, pid, first + i * 7, *zip(*ALLERGIES, strict=True))
            else:
                self._item(kind, pid, first + i * 7, COMORBIDITIES, ("",))
        self._appointments(pid, "active", 20)
        return visit

    def _body(self, sex: str) -> tuple[float, float]:
        r = self.rng.random
        if sex == "female":
            return 150 + r() * 30, 48 + r() * 60
        return 162 + r() * 32, 58 + r() * 70

    def _assessment(
        self, pid: int, kind: str, day: int, body: tuple[float, float], *, rhc: bool
    ) -> float | None:
        r = self.rng.random
        aid = self._take_id("assessment")
        height, weight = body
        weight = _clip(weight + (r() - 0.5) * 6, 30, 250)
        fc = (NULL, "1", "2", "2", "2", "3", "3", "3", "3", "4")[int(r() * 10)]
        bnp = _num(math.exp(3 + r() * 5), 0) if r() < 0.4 else NULL
        ntp = _num(math.exp(4 + r() * 5.5), 0) if r() < 0.6 else NULL
        mpap: float | None = None
        rhc_fields = (NULL,) * 8
        if rhc:
            mpap = 14 + r() * 56
            pawp = 4 + r() * 22
            if pawp > mpap - 1:
                pawp = mpap - 1
            spap = mpap * (1.35 + r() * 0.3)
            dpap = mpap * (0.55 + r() * 0.25)
            co = 2.0 + r() * 6
            rhc_fields = (
                _num(1 + r() * 18, 0),
                _num(spap, 0),
                _num(dpap, 0),
                _num(mpap, 0),
                _num(pawp, 0),
                _num(co, 2),
                _num(45 + r() * 35, 0),
                _num(55 + r() * 50, 0),
            )
            mpap = float(rhc_fields[3])
        self._emit(
            "assessment",
            (
                str(aid),
                str(pid),
                kind,
                self.day(day),
                fc,
                _num(height, 0),
                _num(weight, 1),
                _num(55 + r() * 55, 0),
                _num(84 + r() * 15, 0),
                bnp,
                ntp,
                _num(50 + r() * 200, 0) if r() < 0.8 else NULL,
                _num(10 + r() * 18, 0) if r() < 0.7 else NULL,
                _num(12 + r() * 24, 1) if r() < 0.5 else NULL,
                ("minimal" if r() < 0.1 else "none") if r() < 0.7 else NULL,
                *rhc_fields,
                *self._entry(day),
                self._stamp(day, int(r() * 480)),
            ),
        )
        return mpap

    def _entry(self, day: int, rate: float = 0.0) -> tuple[str, str, str, str]:
        """entered_in_error, reason, at, by: a few entries deleted as entered in error."""
        if rate and self.rng.random() < rate:
            at = f"{self.day(min(day + 1, self.today))} 12:00:00+00"
            reason = ERROR_REASONS[int(self.rng.random() * len(ERROR_REASONS))]
            return ("t", reason, at, STAFF[int(self.rng.random() * len(STAFF))])
        return ("f", NULL, NULL, NULL)

    def _walk(self, pid: int, day: int) -> None:
        r = self.rng.random
        wid = self._take_id("six_minute_walk")
        spo2 = 88 + r() * 11
        hr = 60 + r() * 40
        borg = r() * 3
        self._emit(
            "six_minute_walk",
            (
                str(wid),
                str(pid),
                self.day(day),
                _num(1 + r() * 5, 1) if r() < 0.2 else NULL,
                _num(80 + r() * 560, 0),
                str(int(r() * 3)) if r() < 0.8 else NULL,
                _num(spo2, 0),
                _num(_clip(spo2 - r() * 12, 40, 100), 0),
                _num(hr, 0),
                _num(_clip(hr + 10 + r() * 40, 20, 250), 0),
                _num(borg, 1),
                _num(_clip(borg + 1 + r() * 6, 0, 10), 1),
                *self._entry(day, 0.005),
                self._stamp(day, int(r() * 480)),
            ),
        )

    def _challenge(self, pid: int, day: int, mpap: float, n_steps: int) -> None:
        """On the day of an assessment (the database allows same day or later)."""
        r = self.rng.random
        cid = self._take_id("vasodilator_challenge")
        minute = int(r() * 480)
        self._emit(
            "vasodilator_challenge",
            (str(cid), str(pid), self.day(day), *self._entry(day), self._stamp(day, minute)),
        )
        agent = self.site.agents[int(r() * len(self.site.agents))]
        co = 2.5 + r() * 4
        responder = r() < 0.12
        for step in range(n_steps + 1):
            sid = self._take_id("vasodilator_step")
            if step == 0:
                name = dose = unit = NULL
                m = mpap
            else:
                name, unit = agent.name, agent.unit
                dose = _num(agent.doses[min(step - 1, len(agent.doses) - 1)], 1)
                drop = (10 + r() * 10) if responder else r() * 6
                m = _clip(mpap - drop * step / n_steps, 5, 150)
            self._emit(
                "vasodilator_step",
                (
                    str(sid),
                    str(cid),
                    str(step),
                    name,
                    dose,
                    unit,
                    _num(m, 0),
                    _num(_clip(m - 6 - r() * 10, 0, 60), 0) if m > 8 else NULL,
                    _num(co + step * 0.2, 2),
                    NULL,
                    NULL,
                    _num(60 + r() * 40, 0),
                    _num(55 + r() * 25, 0),
                    *self._entry(day),
                    self._stamp(day, minute + 1),
                ),
            )

    def _item(
        self,
        table: str,
        pid: int,
        first: int,
        names: Sequence[str],
        details: Sequence[str],
    ) -> None:
        r = self.rng.random
        iid = self._take_id(table)
        start = min(self.today, first + int(r() * 60))
        stopped = stop_reason = NULL
        if r() < 0.25:
            end = start + 30 + int(r() * 1000)
            if end <= self.today:
                stopped = self.day(end)
                stop_reason = STOP_REASONS[int(r() * len(STOP_REASONS))]
        detail = details[int(r() * len(details))] if details else ""
        self._emit(
            table,
            (
                str(iid),
                str(pid),
                names[int(r() * len(names))],
                detail or NULL,
                self.day(start),
                stopped,
                stop_reason,
                *self._entry(start, 0.005),
                self._stamp(start, int(r() * 480)),
            ),
        )

    def _appointments(self, pid: int, status: str, n: int) -> None:
        r = self.rng.random
        kinds = self.site.appointment_kinds
        for _ in range(n):
            day = self.today - 365 + int(r() * 455)
            if day > self.today and status != "active":
                continue
            aid = self._take_id("appointment")
            slot = int(r() * 34) * 15  # 08:00 .. 16:15
            at = f"{self.day(day)} {8 + slot // 60:02d}:{slot % 60:02d}:00+00"
            booked_day = max(day - 60, self.today - 500)
            x = r()
            if day < self.today:
                state = "completed" if x < 0.85 else "cancelled"
            else:
                state = "booked" if x < 0.9 else "cancelled"
            changed = at if state == "completed" else f"{self.day(booked_day)} 09:00:00+00"
            self._emit(
                "appointment",
                (
                    str(aid),
                    str(pid),
                    at,
                    ("15", "30", "30", "45", "60")[int(r() * 5)],
                    kinds[int(r() * len(kinds))],
                    state,
                    changed,
                    NULL,
                    self._stamp(booked_day, 60),
                ),
            )
