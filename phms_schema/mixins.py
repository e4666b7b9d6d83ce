"""The audited mixin: every editable row carries a version and who/when stamps.

All five columns are filled by the database (trigger ``phms.stamp_row``), so a
client cannot forge them: ``version`` starts at 1 and goes up by one on every
UPDATE, whoever issues it. SQLAlchemy uses it as a server-side version counter,
so a stale save raises ``StaleDataError`` instead of overwriting silently.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, FetchedValue, Integer, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class Audited:
    version: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("1"), server_onupdate=FetchedValue()
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    created_by: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("SESSION_USER")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        server_onupdate=FetchedValue(),
    )
    updated_by: Mapped[str] = mapped_column(
        Text,
        nullable=False,
        server_default=text("SESSION_USER"),
        server_onupdate=FetchedValue(),
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {
            "version_id_col": cls.__table__.c.version,  # type: ignore[attr-defined]
            "version_id_generator": False,
            "eager_defaults": True,
        }
