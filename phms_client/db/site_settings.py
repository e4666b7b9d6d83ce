"""Site settings (the ``setting`` table): read at login, and again when they change.

Data access, in ``db`` because logging in reads them; ``services`` and ``ui`` use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from phms_client.clinical.patient_id import DEFAULT_FORMAT, PatientIdFormat


@dataclass(frozen=True)
class SiteSettings:
    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def patient_id_format(self) -> PatientIdFormat:
        return PatientIdFormat(str(self.get("patient_id_format", DEFAULT_FORMAT)))

    @property
    def idle_lock_minutes(self) -> int:
        return int(self.get("idle_lock_minutes", 15))

    @property
    def remember_password_allowed(self) -> bool:
        return bool(self.get("remember_password_allowed", False))

    @property
    def password_min_length(self) -> int:
        return int(self.get("password_min_length", 12))


def load_settings(session: Session) -> SiteSettings:
    rows = session.execute(sa.text("SELECT key, value FROM phms.setting")).all()
    return SiteSettings(MappingProxyType({r.key: r.value for r in rows}))
