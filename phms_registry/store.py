"""The registry's database: certificates, batches received, the hospitals' patients.

A batch is applied in one transaction or not at all. Its ID is applied once:
the same ID with the same content hash again gets the first acknowledgement
back (``replayed``) and changes nothing; the same ID with other content is
refused. A hospital's batches are applied one at a time (an advisory lock per
hospital), so two uploads of one hospital cannot interleave.

Re-identification: after the batch, every patient the registry holds *from
that hospital* must share their quasi-identifiers (as written: birth year or
its band, sex, PH group and subtype, and the year of diagnosis when dates are
exact) with at least ``k_threshold - 1`` others of that hospital. The
computation is ``phms_schema.registry_anonymity``, the one the sender runs
before sending; a batch that would leave any group smaller is refused whole
(``reidentifying``), naming the groups. The registry never suppresses single
patients: the sender generalises its whole cohort (``phms_schema.anonymity``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from phms_registry import validate as schema
from phms_schema.registry_anonymity import (
    QUASI_IDENTIFIERS,
    Held,
    after_batch,
    held_in_batch,
    judge,
)
from phms_schema.registry_format import declared_generalisation, sha256_hex

DEFAULT_K: Final = 5


class Refusal(Exception):
    """The registry will not take the batch; ``status``, ``code`` and ``reason`` are sent."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


@dataclass(frozen=True)
class Caller:
    """Who holds the certificate the request came with."""

    hospital_id: str
    serial: str


@dataclass(frozen=True)
class Ack:
    batch_id: str
    hospital_id: str
    content_sha256: str
    received_at: dt.datetime
    patients: int
    removed: int
    records: int
    replayed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "acknowledged",
            "batch_id": self.batch_id,
            "hospital_id": self.hospital_id,
            "content_sha256": self.content_sha256,
            "received_at": self.received_at.isoformat(),
            "patients": self.patients,
            "removed": self.removed,
            "records": self.records,
            "replayed": self.replayed,
            "receipt": f"registry receipt {self.batch_id} {self.content_sha256[:16]}",
        }


# ---------------------------------------------------------------- certificates


def register_certificate(
    conn: sa.Connection,
    *,
    hospital_id: str,
    serial: str,
    fingerprint: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> None:
    conn.execute(
        sa.text("INSERT INTO registry.hospital (hospital_id) VALUES (:h) ON CONFLICT DO NOTHING"),
        {"h": hospital_id},
    )
    conn.execute(
        sa.text(
            "INSERT INTO registry.certificate (serial, fingerprint, hospital_id, not_before,"
            " not_after) VALUES (:s, :f, :h, :nb, :na)"
        ),
        {"s": serial, "f": fingerprint, "h": hospital_id, "nb": not_before, "na": not_after},
    )


def revoke(conn: sa.Connection, serial: str, reason: str) -> str:
    """Revoke a certificate at once; returns its hospital ID."""
    row = conn.execute(
        sa.text(
            "UPDATE registry.certificate SET revoked_at = now(), revoke_reason = :r"
            " WHERE serial = :s AND revoked_at IS NULL RETURNING hospital_id"
        ),
        {"s": serial.lower(), "r": reason[:500]},
    ).one_or_none()
    if row is None:
        raise LookupError(f"No valid certificate with serial {serial}.")
    return str(row[0])


def caller_for(conn: sa.Connection, fingerprint: str) -> Caller:
    """The hospital of a (TLS-verified) client certificate, or a refusal."""
    row = conn.execute(
        sa.text(
            "SELECT hospital_id, serial, revoked_at FROM registry.certificate"
            " WHERE fingerprint = :f"
        ),
        {"f": fingerprint},
    ).one_or_none()
    if row is None:
        raise Refusal(403, "certificate_unknown", "This certificate was not issued to a hospital.")
    if row.revoked_at is not None:
        raise Refusal(403, "certificate_revoked", "This certificate has been revoked.")
    return Caller(str(row.hospital_id), str(row.serial))


def log_refusal(
    conn: sa.Connection, caller: Caller | None, batch_id: Any, refusal: Refusal
) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO registry.refusal (hospital_id, certificate_serial, batch_id, code,"
            " reason) VALUES (:h, :s, :b, :c, :r)"
        ),
        {
            "h": caller.hospital_id if caller else None,
            "s": caller.serial if caller else None,
            "b": str(batch_id)[:64] if batch_id is not None else None,
            "c": refusal.code,
            "r": refusal.reason[:2000],
        },
    )


# --------------------------------------------------------------------- batches


def _existing(conn: sa.Connection, batch_id: str) -> sa.Row[Any] | None:
    return conn.execute(
        sa.text(
            "SELECT batch_id, hospital_id, content_sha256, received_at, patients, removed,"
            " records FROM registry.batch WHERE batch_id = :b"
        ),
        {"b": batch_id},
    ).one_or_none()


def _ack(row: sa.Row[Any], replayed: bool) -> Ack:
    return Ack(
        str(row.batch_id),
        str(row.hospital_id),
        str(row.content_sha256),
        row.received_at,
        int(row.patients),
        int(row.removed),
        int(row.records),
        replayed,
    )


def held_cohort(conn: sa.Connection, hospital_id: str) -> dict[str, Held]:
    """Patient key -> quasi-identifiers of every patient held from ``hospital_id``."""
    rows = conn.execute(
        sa.text(
            "SELECT patient_key, birth_year, birth_year_band, sex, ph_group, ph_subtype,"
            " diagnosis_year FROM registry.patient WHERE hospital_id = :h"
        ),
        {"h": hospital_id},
    )
    return {
        str(r.patient_key): Held(
            int(r.birth_year),
            int(r.birth_year_band),
            str(r.sex),
            r.ph_group,
            r.ph_subtype,
            r.diagnosis_year,
        )
        for r in rows
    }


def _check_k(
    conn: sa.Connection,
    hospital_id: str,
    sent: dict[str, Held],
    removed: list[str],
    k_threshold: int,
) -> None:
    verdict = judge(
        after_batch(held_cohort(conn, hospital_id), sent, removed).values(), k_threshold
    )
    if not verdict.ok:
        raise Refusal(
            422,
            "reidentifying",
            f"After this batch, {verdict.patients_short} of the hospital's {verdict.patients} "
            f"patient(s) would share {QUASI_IDENTIFIERS} with fewer than {k_threshold} patients "
            f"of the hospital (k={verdict.k}, the registry needs k≥{k_threshold}). Too rare: "
            f"{verdict.too_rare()}. Generalise the whole cohort further, or send the patients "
            "that complete these groups in the same batch.",
        )


def receive(
    conn: sa.Connection,
    caller: Caller,
    body_bytes: bytes,
    declared_sha256: str | None,
    *,
    k_threshold: int = DEFAULT_K,
) -> Ack:
    """Apply one batch inside the caller's transaction, or raise :class:`Refusal`."""
    content_sha = sha256_hex(body_bytes)
    if declared_sha256 is not None and declared_sha256.strip().lower() != content_sha:
        raise Refusal(400, "content_hash", "The batch's content does not match its hash.")
    try:
        body = json.loads(body_bytes)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "schema", "The batch is not JSON.") from None
    try:
        schema.validate(body)
    except schema.SchemaError as exc:
        raise Refusal(
            422, "schema", f"The batch does not follow the export format: {exc}"
        ) from None
    if body["hospital_id"] != caller.hospital_id:
        raise Refusal(
            403,
            "hospital_mismatch",
            f"The batch is for hospital ID {body['hospital_id']!r}, but the certificate was "
            f"issued to {caller.hospital_id!r}.",
        )
    batch_id = str(uuid.UUID(body["batch_id"]))
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:h))"), {"h": caller.hospital_id})
    row = _existing(conn, batch_id)
    if row is not None:
        if row.hospital_id == caller.hospital_id and row.content_sha256 == content_sha:
            return _ack(row, replayed=True)
        raise Refusal(409, "batch_id_reused", "A different batch with this ID was received before.")
    sent = held_in_batch(body)
    _check_k(conn, caller.hospital_id, sent, body["removed"], k_threshold)
    band, subtype_kept = declared_generalisation(body)
    records = sum(len(p["records"]) for p in body["patients"])
    row = conn.execute(
        sa.text(
            "INSERT INTO registry.batch (batch_id, hospital_id, certificate_serial,"
            " content_sha256, generated_on, ph_only, dates_shifted, birth_year_band,"
            " ph_subtype_kept, export_format, patients, removed, records) VALUES (:b, :h, :s,"
            " :sha, :g, :ph, :ds, :band, :kept, :fmt, :p, :r, :n)"
            " RETURNING batch_id, hospital_id, content_sha256, received_at, patients, removed,"
            " records"
        ),
        {
            "b": batch_id,
            "h": caller.hospital_id,
            "s": caller.serial,
            "sha": content_sha,
            "g": dt.date.fromisoformat(body["generated_on"]),
            "ph": body["ph_only"],
            "ds": body["dates_shifted"],
            "band": band,
            "kept": subtype_kept,
            "fmt": body["export_format"],
            "p": len(body["patients"]),
            "r": len(body["removed"]),
            "n": records,
        },
    ).one()
    if body["removed"]:
        conn.execute(
            sa.text(
                "DELETE FROM registry.patient WHERE hospital_id = :h AND patient_key = ANY(:k)"
            ),
            {"h": caller.hospital_id, "k": body["removed"]},
        )
    for p in body["patients"]:
        qi = sent[p["patient_key"]]
        conn.execute(
            sa.text(
                "INSERT INTO registry.patient (hospital_id, patient_key, birth_year,"
                " birth_year_band, sex, ph_group, ph_subtype, diagnosis_year, status,"
                " deceased_date, records, batch_id) VALUES (:h, :k, :y, :band, :sex, :g, :sub,"
                " :dy, :st, :dd, CAST(:rec AS jsonb), :b)"
                " ON CONFLICT (hospital_id, patient_key) DO UPDATE SET"
                " birth_year = excluded.birth_year, birth_year_band = excluded.birth_year_band,"
                " sex = excluded.sex, ph_group = excluded.ph_group,"
                " ph_subtype = excluded.ph_subtype, diagnosis_year = excluded.diagnosis_year,"
                " status = excluded.status, deceased_date = excluded.deceased_date,"
                " records = excluded.records, batch_id = excluded.batch_id, updated_at = now()"
            ),
            {
                "h": caller.hospital_id,
                "k": p["patient_key"],
                "y": qi.birth_year,
                "band": qi.birth_year_band,
                "dy": qi.diagnosis_year,
                "sex": p["sex"],
                "g": p["ph_group"],
                "sub": p["ph_subtype"],
                "st": p["status"],
                "dd": dt.date.fromisoformat(p["deceased_date"]) if p["deceased_date"] else None,
                "rec": json.dumps(p["records"]),
                "b": batch_id,
            },
        )
    return _ack(row, replayed=False)


# ------------------------------------------------------------------ reporting


@dataclass(frozen=True)
class HospitalSummary:
    hospital_id: str
    certificates: int
    revoked: int
    batches: int
    last_batch_at: dt.datetime | None
    patients: int
    refusals: int


def hospitals(conn: sa.Connection) -> list[HospitalSummary]:
    """What each hospital sent: batches, patients held now, refusals."""
    rows = conn.execute(
        sa.text(
            """SELECT h.hospital_id,
       (SELECT count(*) FROM registry.certificate c WHERE c.hospital_id = h.hospital_id),
       (SELECT count(*) FROM registry.certificate c
         WHERE c.hospital_id = h.hospital_id AND c.revoked_at IS NOT NULL),
       (SELECT count(*) FROM registry.batch b WHERE b.hospital_id = h.hospital_id),
       (SELECT max(received_at) FROM registry.batch b WHERE b.hospital_id = h.hospital_id),
       (SELECT count(*) FROM registry.patient p WHERE p.hospital_id = h.hospital_id),
       (SELECT count(*) FROM registry.refusal r WHERE r.hospital_id = h.hospital_id)
  FROM registry.hospital h ORDER BY h.hospital_id"""
        )
    )
    return [HospitalSummary(*r) for r in rows]


def batches(conn: sa.Connection, hospital_id: str | None = None) -> Sequence[sa.Row[Any]]:
    return conn.execute(
        sa.text(
            "SELECT batch_id, hospital_id, received_at, patients, removed, records,"
            " birth_year_band, content_sha256 FROM registry.batch"
            " WHERE CAST(:h AS text) IS NULL OR hospital_id = :h ORDER BY received_at, batch_id"
        ),
        {"h": hospital_id},
    ).all()


#: Patients per hospital, PH group and risk stratum (of their latest assessment with
#: one); a ``NULL`` hospital row is the total over all hospitals.
COHORT_SQL: Final = """
WITH latest AS (
  SELECT p.hospital_id, p.ph_group,
         (SELECT (r->>'risk_stratum')::integer
            FROM jsonb_array_elements(p.records) r
           WHERE r->>'type' = 'assessment' AND r->>'risk_stratum' IS NOT NULL
           ORDER BY r->>'date' DESC, (r->>'no')::integer DESC LIMIT 1) AS risk_stratum
    FROM registry.patient p)
SELECT hospital_id, ph_group, risk_stratum, count(*) AS patients
  FROM latest
 GROUP BY GROUPING SETS ((hospital_id, ph_group, risk_stratum), (ph_group, risk_stratum))
 ORDER BY hospital_id NULLS LAST, ph_group NULLS LAST, risk_stratum NULLS LAST"""


def cohort(conn: sa.Connection) -> list[tuple[str | None, int | None, int | None, int]]:
    return [
        (r.hospital_id, r.ph_group, r.risk_stratum, int(r.patients))
        for r in conn.execute(sa.text(COHORT_SQL))
    ]
