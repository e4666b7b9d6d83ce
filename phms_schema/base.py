"""Declarative base, naming convention and shared column aliases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from sqlalchemy import BigInteger, Date, DateTime, Identity, MetaData, Text
from sqlalchemy.orm import DeclarativeBase, mapped_column

#: Every clinical object lives in this schema; the audit trail lives in ``audit``.
SCHEMA = "phms"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column aliases (Warehouse style): one place decides what an id or a stamp is.
BigId = Annotated[int, mapped_column(BigInteger, Identity(), primary_key=True)]
Str = Annotated[str, mapped_column(Text)]
OptStr = Annotated[str | None, mapped_column(Text)]
Day = Annotated[dt.date, mapped_column(Date)]
OptDay = Annotated[dt.date | None, mapped_column(Date)]
Stamp = Annotated[dt.datetime, mapped_column(DateTime(timezone=True))]


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)
