"""Registry upload state: what changed since the last acknowledged upload (no network).

``phms-admin registry-upload`` (``phms_admin.registry_upload_cmd``) builds the
registry export (:mod:`registry_export`) over the whole cohort, generalised by the
export's own ladder to the upload's k (one rung for every patient; the batch
declares it), and this module decides what to send and remembers what the
registry acknowledged, in the PHMS database (``phms_schema.registry_upload``);
:mod:`registry_upload_check` cuts the batches and checks each against the
registry's k before anything is made:

- A patient is sent when the SHA-256 of their anonymised document differs from
  the one the registry last acknowledged for their key (or they are new). A key
  acknowledged before and missing from today's export (deleted, no longer in the
  selection, or keyed differently) is sent as *removed*. Every edit that changes
  what is exported (a record added, corrected or deleted as entered in error, a
  diagnosis changed) therefore changes the hash; an edit of a field that is not
  exported sends nothing.
- Batches are made and stored *before* anything is sent, with their exact bytes.
  A batch left pending (the answer never came) is sent again, unchanged, the
  next time: the registry applies a batch ID once, so a resend changes nothing
  there. The hashes move only when the registry acknowledges.
- One run at a time (an advisory lock on the run's connection).

:func:`status` is what Preferences shows (read-only) and ``--status`` prints.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.services.registry_export import (
    RegistryExport,
    generalisation_header,
    patient_document,
)
from phms_schema.anonymity import Outcome
from phms_schema.registry_anonymity import Held, held_of
from phms_schema.registry_format import BATCH_FORMAT, FORMAT, canonical_json, sha256_hex

#: pg_advisory_lock key of a running upload ("PHMSRUPL" in ASCII).
UPLOAD_LOCK_KEY: Final = 0x50484D5352555050 & 0x7FFFFFFFFFFFFFFF
DEFAULT_BATCH_SIZE: Final = 500
MAX_MESSAGE: Final = 2000


@dataclass(frozen=True)
class Plan:
    """What an upload would send now."""

    hospital_id: str
    #: Patients in today's export.
    total_patients: int
    total_records: int
    #: Documents of the new and changed patients, in key order.
    changed: tuple[Mapping[str, Any], ...]
    #: Keys the registry holds from us that today's export no longer has.
    removed: tuple[str, ...]
    #: The ladder's answer for the whole cohort: the rung, its k, what it generalised.
    anonymity: Outcome
    #: Patient key -> quasi-identifiers as written, for every patient of today's export.
    written: Mapping[str, Held]
    #: Keys acknowledged with exactly today's document: the registry holds them as written.
    unchanged: frozenset[str]

    @property
    def records(self) -> int:
        return sum(len(p["records"]) for p in self.changed)

    @property
    def nothing_to_send(self) -> bool:
        return not self.changed and not self.removed


@dataclass(frozen=True)
class Batch:
    batch_id: uuid.UUID
    registry_url: str
    content_sha256: str
    payload: bytes
    patients: int
    removed: int


@dataclass(frozen=True)
class RunInfo:
    finished_at: dt.datetime
    run_by: str
    message: str
    batches: int
    patients: int
    removed: int


@dataclass(frozen=True)
class UploadStatus:
    last_success: RunInfo | None
    last_error: RunInfo | None
    #: Batches made but not yet answered (sent first next time).
    pending_batches: int
    #: Patients the registry holds from this site, by hospital ID.
    acknowledged: Mapping[str, int]


# -------------------------------------------------------------------- planning


def documents(export: RegistryExport) -> list[dict[str, Any]]:
    """Every patient's document, as generalised for the whole cohort."""
    return [patient_document(p) for p in export.patients]


def patient_hash(doc: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json(doc))


def acknowledged_hashes(session: Session, hospital_id: str) -> dict[str, str]:
    rows = session.execute(
        sa.text(
            "SELECT patient_key, content_sha256 FROM phms.registry_upload_patient"
            " WHERE hospital_id = :h"
        ),
        {"h": hospital_id},
    )
    return {str(k): str(h) for k, h in rows}


def plan(session: Session, export: RegistryExport) -> Plan:
    return plan_against(export, acknowledged_hashes(session, export.hospital_id))


def plan_against(export: RegistryExport, known: Mapping[str, str]) -> Plan:
    """What to send, given the document hashes the registry acknowledged (``known``)."""
    docs = documents(export)
    changed = tuple(d for d in docs if known.get(d["patient_key"]) != patient_hash(d))
    present = {d["patient_key"] for d in docs}
    removed = tuple(sorted(k for k in known if k not in present))
    band = export.anonymity.level.birth_band
    return Plan(
        hospital_id=export.hospital_id,
        total_patients=len(docs),
        total_records=sum(len(d["records"]) for d in docs),
        changed=changed,
        removed=removed,
        anonymity=export.anonymity,
        written={
            d["patient_key"]: held_of(d, birth_year_band=band, dates_shifted=export.dates_shifted)
            for d in docs
        },
        unchanged=frozenset(present - {d["patient_key"] for d in changed}),
    )


# --------------------------------------------------------------------- batches


#: One item of a batch: ("patient", document) or ("removed", patient key).
Item = tuple[str, Any]


def make_batches(
    session: Session,
    export: RegistryExport,
    chunks: Sequence[Sequence[Item]],
    *,
    registry_url: str,
) -> list[Batch]:
    """Store the checked ``chunks`` (``registry_upload_check``) as pending batches, each
    declaring the cohort's generalisation (the caller commits)."""
    out: list[Batch] = []
    for chunk in chunks:
        batch_id = uuid.uuid4()
        sent = [v for kind, v in chunk if kind == "patient"]
        gone = [v for kind, v in chunk if kind == "removed"]
        body: dict[str, Any] = {
            "format": BATCH_FORMAT,
            "export_format": FORMAT,
            "batch_id": str(batch_id),
            "hospital_id": export.hospital_id,
            "generated_on": export.generated_on.isoformat(),
            "ph_only": export.ph_only,
            "dates_shifted": export.dates_shifted,
            "generalisation": generalisation_header(export.anonymity),
            "patients": sent,
            "removed": gone,
        }
        payload = canonical_json(body)
        batch = Batch(
            batch_id=batch_id,
            registry_url=registry_url,
            content_sha256=sha256_hex(payload),
            payload=payload,
            patients=len(sent),
            removed=len(gone),
        )
        session.execute(
            sa.text(
                "INSERT INTO phms.registry_upload_batch (batch_id, hospital_id, registry_url,"
                " content_sha256, payload, patients, removed, records) VALUES (:id, :h, :u,"
                " :sha, :payload, :patients, :removed, :records)"
            ),
            {
                "id": batch_id,
                "h": export.hospital_id,
                "u": registry_url,
                "sha": batch.content_sha256,
                "payload": payload,
                "patients": batch.patients,
                "removed": batch.removed,
                "records": sum(len(p["records"]) for p in sent),
            },
        )
        out.append(batch)
    return out


def pending_batches(session: Session, hospital_id: str) -> list[Batch]:
    """Batches stored but never answered, oldest first: they go before anything new."""
    rows = session.execute(
        sa.text(
            "SELECT batch_id, registry_url, content_sha256, payload, patients, removed"
            " FROM phms.registry_upload_batch WHERE state = 'pending' AND hospital_id = :h"
            " ORDER BY created_at, batch_id"
        ),
        {"h": hospital_id},
    )
    return [
        Batch(r.batch_id, r.registry_url, r.content_sha256, bytes(r.payload), r.patients, r.removed)
        for r in rows
    ]


def record_acknowledged(session: Session, batch: Batch, receipt: str) -> None:
    """The registry holds the batch: move the hashes of its patients (caller commits)."""
    body = json.loads(batch.payload)
    hospital_id = str(body["hospital_id"])
    for doc in body["patients"]:
        session.execute(
            sa.text(
                "INSERT INTO phms.registry_upload_patient AS p (hospital_id, patient_key,"
                " content_sha256, batch_id, acknowledged_at) VALUES (:h, :k, :sha, :b, now())"
                " ON CONFLICT (hospital_id, patient_key) DO UPDATE SET"
                " content_sha256 = excluded.content_sha256, batch_id = excluded.batch_id,"
                " acknowledged_at = excluded.acknowledged_at"
            ),
            {
                "h": hospital_id,
                "k": doc["patient_key"],
                "sha": patient_hash(doc),
                "b": batch.batch_id,
            },
        )
    if body["removed"]:
        session.execute(
            sa.text(
                "DELETE FROM phms.registry_upload_patient"
                " WHERE hospital_id = :h AND patient_key = ANY(:keys)"
            ),
            {"h": hospital_id, "keys": list(body["removed"])},
        )
    _answer(session, batch.batch_id, "acknowledged", receipt)


def record_refused(session: Session, batch: Batch, reason: str) -> None:
    """The registry refused the batch: it is dropped; its patients stay unsent."""
    _answer(session, batch.batch_id, "refused", reason)


def _answer(session: Session, batch_id: uuid.UUID, state: str, answer: str) -> None:
    session.execute(
        sa.text(
            "UPDATE phms.registry_upload_batch SET state = :s, answer = :a, answered_at = now(),"
            " payload = NULL WHERE batch_id = :id AND state = 'pending'"
        ),
        {"s": state, "a": answer[:MAX_MESSAGE], "id": batch_id},
    )


def record_run(
    session: Session,
    *,
    started_at: dt.datetime,
    ok: bool,
    message: str,
    batches: int = 0,
    patients: int = 0,
    removed: int = 0,
) -> None:
    session.execute(
        sa.text(
            "INSERT INTO phms.registry_upload_run (started_at, ok, message, batches, patients,"
            " removed) VALUES (:start, :ok, :m, :b, :p, :r)"
        ),
        {
            "start": started_at,
            "ok": ok,
            "m": (message.strip() or "(no message)")[:MAX_MESSAGE],
            "b": batches,
            "p": patients,
            "r": removed,
        },
    )


# ---------------------------------------------------------------------- status


def _last_run(session: Session, ok: bool) -> RunInfo | None:
    row = session.execute(
        sa.text(
            "SELECT finished_at, run_by, message, batches, patients, removed"
            " FROM phms.registry_upload_run WHERE ok = :ok ORDER BY finished_at DESC, id DESC"
            " LIMIT 1"
        ),
        {"ok": ok},
    ).one_or_none()
    return None if row is None else RunInfo(*row)


def status(session: Session) -> UploadStatus:
    """The last successful upload, the last error and what is waiting (admins only)."""
    pending = session.execute(
        sa.text("SELECT count(*) FROM phms.registry_upload_batch WHERE state = 'pending'")
    ).scalar_one()
    held = session.execute(
        sa.text(
            "SELECT hospital_id, count(*) FROM phms.registry_upload_patient"
            " GROUP BY hospital_id ORDER BY hospital_id"
        )
    )
    return UploadStatus(
        last_success=_last_run(session, True),
        last_error=_last_run(session, False),
        pending_batches=int(pending),
        acknowledged={str(h): int(n) for h, n in held},
    )


def describe(status_: UploadStatus) -> Sequence[str]:
    """The status in lines of plain text (the CLI prints them; Preferences shows them)."""

    def when(run: RunInfo) -> str:
        return run.finished_at.astimezone().strftime("%Y-%m-%d %H:%M")

    ok, err = status_.last_success, status_.last_error
    lines = [
        "Last successful upload: "
        + (f"{when(ok)} by {ok.run_by}: {ok.message}" if ok else "never"),
        "Last error: " + (f"{when(err)} by {err.run_by}: {err.message}" if err else "none"),
    ]
    if err and ok and err.finished_at < ok.finished_at:
        lines[-1] += " (an upload has succeeded since)"
    if status_.pending_batches:
        lines.append(
            f"Waiting to be resent: {status_.pending_batches} batch(es) the registry has not "
            "answered yet"
        )
    for hospital_id, n in status_.acknowledged.items():
        lines.append(f"The registry holds {n} patient(s) from hospital ID {hospital_id}")
    return lines
