"""ORM: Exceptions and verdicts of diagnostics.

One row per exception episode: at most one *open* row per meter and kind (a partial unique
index); recovery closes it with the reason and a later relapse opens a new row, so the
history of a meter's exceptions is kept. The row carries the latest verdict (cause, rule,
confidence, action, evidence) and the work order it fed, if any.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK, UtcDateTime
from meterops.diagnostics.kinds import ActionKind, Cause, ExceptionKind
from meterops.models._types import TimestampMixin, str_enum

__all__ = ["DiagnosticException", "ExceptionStatus"]


class ExceptionStatus(StrEnum):
    """Whether an exception still holds."""

    OPEN = "open"
    CLOSED = "closed"


class DiagnosticException(TimestampMixin, Base):
    """An exception on a meter with its latest verdict."""

    __tablename__ = "diagnostic_exceptions"
    __table_args__ = (
        Index(
            "uq_diagnostic_exceptions_open_meter_kind",
            "meter_id",
            "kind",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    kind: Mapped[ExceptionKind] = mapped_column(str_enum(ExceptionKind, "exception_kind"))
    status: Mapped[ExceptionStatus] = mapped_column(
        str_enum(ExceptionStatus, "exception_status"), default=ExceptionStatus.OPEN, index=True
    )
    first_seen_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    opened_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    """The diagnostics run (as of) that opened it."""
    closed_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any]]
    """The detector's facts (latest run)."""
    cause: Mapped[Cause | None] = mapped_column(str_enum(Cause, "diagnostic_cause"))
    rule_id: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None]
    action: Mapped[ActionKind | None] = mapped_column(str_enum(ActionKind, "diagnostic_action"))
    order_type: Mapped[str | None] = mapped_column(String(32))
    remote_command: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(String(2000))
    verdict_evidence: Mapped[dict[str, Any] | None]
    work_order_number: Mapped[str | None] = mapped_column(String(32))
