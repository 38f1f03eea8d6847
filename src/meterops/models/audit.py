"""The audit trail: who did what, when and why; hash-chained for tamper evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK

__all__ = ["AuditEvent"]


class AuditEvent(Base):
    """One state change.

    ``hash`` = SHA-256 over ``prev_hash`` and the event's canonical JSON, so modifying,
    deleting, inserting or reordering any record breaks verification. ``prev_hash`` is unique:
    two writers can never fork the chain.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at_utc: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
