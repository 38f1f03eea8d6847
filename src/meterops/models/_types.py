"""Column helpers shared by the ORM modules."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Enum, func
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import UtcDateTime

__all__ = ["TimestampMixin", "str_enum"]


def str_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR with a CHECK constraint listing the values."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class TimestampMixin:
    """``created_at_utc`` / ``updated_at_utc`` maintained by the database."""

    created_at_utc: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), server_default=func.current_timestamp()
    )
    updated_at_utc: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), server_default=func.current_timestamp(), onupdate=func.current_timestamp()
    )
