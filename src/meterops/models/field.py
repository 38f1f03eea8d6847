"""ORM: the technician's field visits: actions, photos and head-end verifications.

A :class:`FieldAction` is one result a technician recorded on an order (arrived, safety
inspection, exchange, completion, note, unable to complete, a ping or read asked from the
phone). Its ``idempotency_key`` is unique: the phone's offline queue sends each action with a
key of its own, and sending it again returns the stored result instead of doing it twice.

A :class:`FieldPhoto` is a re-encoded JPEG on disk under the settings' photos folder (never a
blob in the database, never under the client's file name). A :class:`FieldVerification`
follows the head-end after an exchange until the new meter registers and answers its first
read, fails, or times out.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK, UtcDateTime
from meterops.models._types import str_enum

__all__ = ["FieldAction", "FieldPhoto", "FieldVerification", "VerificationState"]


class VerificationState(StrEnum):
    """Where the head-end verification of an installed meter is."""

    PENDING = "pending"
    VERIFIED = "verified"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    NOT_NEEDED = "not_needed"


class FieldAction(Base):
    """One result recorded from the field, kept with its idempotency key and its answer."""

    __tablename__ = "field_actions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    payload_digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical JSON of kind and payload: the same key with another payload
    is refused."""
    recorded_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    """When the technician recorded it (the phone's clock; may be hours before it synced)."""
    received_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]]
    """The answer given the first time (returned again for the same key)."""


class FieldPhoto(Base):
    """A photo taken on a visit, stored as a clean JPEG file."""

    __tablename__ = "field_photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random hex id; also the file's name (the client's name is never used)."""
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """``before``, ``after``, ``base``, ``nameplate``, ``damage`` or ``other``."""
    path: Mapped[str] = mapped_column(String(200))
    """Path relative to the photos folder."""
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    source_type: Mapped[str] = mapped_column(String(8))
    uploaded_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(64))


class FieldVerification(Base):
    """The head-end's confirmation that a meter installed on an order works."""

    __tablename__ = "field_verifications"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), unique=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("field_actions.id"))
    new_serial: Mapped[str] = mapped_column(String(32))
    old_serial: Mapped[str | None] = mapped_column(String(32))
    service_point_number: Mapped[str] = mapped_column(String(32))
    request_key: Mapped[str] = mapped_column(String(160))
    """Idempotency key given to the head-end (the same key returns the same command)."""
    headend_command_id: Mapped[str | None] = mapped_column(String(64))
    """None until the head-end accepted the install (retried when it was unreachable)."""
    state: Mapped[VerificationState] = mapped_column(
        str_enum(VerificationState, "verification_state"), default=VerificationState.PENDING
    )
    submitted_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    deadline_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    """After this, a verification still pending is timed out."""
    registered_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    first_read: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    checked_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
