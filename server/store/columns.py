"""Column types shared by every table module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

__all__ = ["UtcDateTime", "timestamp"]


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in as UTC and always comes out aware, in UTC.

    PostgreSQL keeps the zone (`timestamptz`); SQLite keeps none and hands back naive values,
    which this type marks as the UTC they were stored as. A naive value going in is refused, so
    no local time can slip into the database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: freshtap stores aware UTC timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp(nullable: bool = False, index: bool = False) -> Any:
    """A `UtcDateTime` field for a SQLModel table."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UtcDateTime(), nullable=nullable, index=index),
    )
