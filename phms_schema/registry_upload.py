"""What the daily registry upload has sent and the registry acknowledged (migration 0013).

``phms-admin registry-upload`` sends the anonymised registry export to the
national registry over mutual TLS, incrementally (``docs/admin-guide.md``):

- ``registry_upload_patient``: per hospital ID and patient key, the SHA-256 of
  the patient's anonymised document as last *acknowledged* by the registry. A
  patient whose document now hashes differently (or who is new) is sent again;
  a key no longer in the export is sent as removed. Kept in the database, so a
  reinstalled sending machine does not start over.
- ``registry_upload_batch``: every batch made, with its ID, content hash and,
  until the registry answers, its exact bytes: an interrupted upload is resumed
  by sending the same batch again (the registry applies a batch ID once).
- ``registry_upload_run``: one row per run (success or the error), shown by
  ``registry-upload --status`` and, read-only, in Preferences.

Only admins (and IT's service login) read or write them; they hold no name or
patient ID, but they are the site's upload history.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base, BigId

#: Largest batch the database keeps while it waits for the registry's answer.
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024
BATCH_STATES = ("pending", "acknowledged", "refused")
HEX64 = "'^[0-9a-f]{64}$'"


class RegistryUploadPatient(Base):
    __tablename__ = "registry_upload_patient"

    hospital_id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_key: Mapped[str] = mapped_column(Text, primary_key=True)
    content_sha256: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("char_length(hospital_id) BETWEEN 1 AND 64", name="hospital_id_length"),
        CheckConstraint(
            f"char_length(patient_key) = 64 AND patient_key ~ {HEX64}", name="patient_key_hex"
        ),
        CheckConstraint(
            f"char_length(content_sha256) = 64 AND content_sha256 ~ {HEX64}",
            name="content_sha256_hex",
        ),
    )


class RegistryUploadBatch(Base):
    __tablename__ = "registry_upload_batch"

    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(Text)
    registry_url: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(Text)
    #: The exact bytes sent; cleared once the registry has answered.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    patients: Mapped[int] = mapped_column(Integer)
    removed: Mapped[int] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text, server_default=text("'pending'::text"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The registry's acknowledgement (its receipt) or its reason for refusing.
    answer: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("char_length(hospital_id) BETWEEN 1 AND 64", name="hospital_id_length"),
        CheckConstraint("char_length(registry_url) BETWEEN 1 AND 500", name="registry_url_length"),
        CheckConstraint(
            f"char_length(content_sha256) = 64 AND content_sha256 ~ {HEX64}",
            name="content_sha256_hex",
        ),
        CheckConstraint(f"octet_length(payload) <= {MAX_PAYLOAD_BYTES}", name="payload_size"),
        CheckConstraint(
            "char_length(state) <= 20 AND state IN ('pending', 'acknowledged', 'refused')",
            name="state_known",
        ),
        CheckConstraint("(state = 'pending') = (answered_at IS NULL)", name="answered_when_done"),
        CheckConstraint("char_length(answer) <= 2000", name="answer_length"),
        CheckConstraint(
            "patients >= 0 AND removed >= 0 AND records >= 0", name="counts_not_negative"
        ),
    )


class RegistryUploadRun(Base):
    __tablename__ = "registry_upload_run"

    id: Mapped[BigId]
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    run_by: Mapped[str] = mapped_column(Text, server_default=text("SESSION_USER"))
    ok: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    batches: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    patients: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    removed: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        CheckConstraint("char_length(run_by) BETWEEN 1 AND 63", name="run_by_length"),
        CheckConstraint("char_length(message) BETWEEN 1 AND 2000", name="message_length"),
    )
