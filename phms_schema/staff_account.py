"""Per-login facts PostgreSQL does not keep (written only by SECURITY DEFINER functions)."""

from __future__ import annotations

from sqlalchemy import Boolean, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from phms_schema.base import Base
from phms_schema.ddl_limits import model_checks


class StaffAccount(Base):
    __tablename__ = "staff_account"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    #: A login without a row, or with True here, must choose a new password at
    #: login: new accounts and accounts whose password an admin reset.
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = tuple(model_checks("staff_account"))
