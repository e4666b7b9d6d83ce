"""Site settings shared by every workstation (everything but the hospital ID)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema import ddl_compat
from phms_schema.base import Base, Str
from phms_schema.ddl_limits import model_checks
from phms_schema.mixins import Audited

VALUE_TYPES = {
    "integer": "number",
    "number": "number",
    "text": "string",
    "boolean": "boolean",
    "list": "array",
    "object": "object",
}

_TYPE_CHECK = " OR ".join(
    f"(value_type = '{name}' AND jsonb_typeof(value) = '{json}')"
    for name, json in VALUE_TYPES.items()
)


class Setting(Audited, Base):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    value_type: Mapped[Str]
    description: Mapped[Str] = mapped_column(server_default="")

    __table_args__ = (
        CheckConstraint("key ~ '^[a-z][a-z0-9_.]*$'", name="key_format"),
        CheckConstraint(f"({_TYPE_CHECK})", name="value_matches_type"),
        CheckConstraint(
            "CASE WHEN value_type <> 'integer' THEN true"
            " WHEN jsonb_typeof(value) <> 'number' THEN false"
            " ELSE value::numeric = trunc(value::numeric) END",
            name="integer_is_whole",
        ),
        *model_checks("setting"),
        # The compatibility window's rows (0016): a release version, a bounded hint.
        CheckConstraint(ddl_compat.VERSION_CHECK_SQL, name=ddl_compat.VERSION_CHECK),
        CheckConstraint(ddl_compat.HINT_CHECK_SQL, name=ddl_compat.HINT_CHECK),
    )
