"""ORM: remote command requests, commands (the outbox), controls, rollouts, and outages.

A :class:`CommandRequest` is what a person asked for (one kind, a list of meters, a reason,
an idempotency key); each meter gets a :class:`RemoteCommand`, which is also the outbox row
the dispatcher claims. :class:`CommandControl` holds the kill switch. :class:`ProgramRollout`
is a staged program push. :class:`OutageIncident` and :class:`OutageMember` are the outages
inferred from last gasps and restores.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from meterops.db.base import Base, BigIntPK, UtcDateTime
from meterops.models._types import str_enum

__all__ = [
    "CommandControl",
    "CommandRequest",
    "CommandType",
    "OutageIncident",
    "OutageLevel",
    "OutageMember",
    "ProgramRollout",
    "RemoteCommand",
    "RemoteCommandState",
    "RequestState",
    "RolloutState",
    "TemperatureReading",
]


class CommandType(StrEnum):
    """What a remote command does (the head-end protocol's command kinds)."""

    PING = "ping"
    ON_DEMAND_READ = "on_demand_read"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"
    PROGRAM_PUSH = "program_push"
    TIME_SYNC = "time_sync"
    DEMAND_RESET = "demand_reset"
    ARM_RECONNECT = "arm_reconnect"


class RequestState(StrEnum):
    """Where a request is: held for approval, released, or stopped."""

    AWAITING_APPROVAL = "awaiting_approval"
    RELEASED = "released"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class RemoteCommandState(StrEnum):
    """Where one meter's command is; the last four are terminal."""

    HELD = "held"
    QUEUED = "queued"
    DISPATCHING = "dispatching"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class RolloutState(StrEnum):
    """A staged program push."""

    RUNNING = "running"
    COMPLETED = "completed"
    HALTED = "halted"


class OutageLevel(StrEnum):
    """The grid device an outage is placed at."""

    METER = "meter"
    TRANSFORMER = "transformer"
    FEEDER = "feeder"


class CommandRequest(Base):
    """One person's request: a kind of command for a list of meters.

    ``approved_by`` is never ``requested_by`` (checked by the database too: the two-person
    rule holds even for a direct SQL update).
    """

    __tablename__ = "command_requests"
    __table_args__ = (
        CheckConstraint(
            "approved_by IS NULL OR approved_by <> requested_by", name="approver_not_requester"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    payload_digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[CommandType] = mapped_column(str_enum(CommandType, "command_type"))
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    requester_role: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    program_code: Mapped[str | None] = mapped_column(String(32))
    meter_count: Mapped[int]
    meter_list_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[RequestState] = mapped_column(str_enum(RequestState, "request_state"))
    approval_required: Mapped[bool] = mapped_column(default=False)
    approval_reasons: Mapped[list[str]]
    approval_deadline_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    rollout_id: Mapped[int | None] = mapped_column(ForeignKey("program_rollouts.id"), index=True)
    created_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class RemoteCommand(Base):
    """One meter's command and its outbox row; claimed by compare-and-set on ``state``."""

    __tablename__ = "remote_commands"
    __table_args__ = (
        Index("ix_remote_commands_state_not_before", "state", "not_before_utc"),
        Index("ix_remote_commands_kind_sent", "kind", "sent_at_utc"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("command_requests.id"), index=True)
    kind: Mapped[CommandType] = mapped_column(str_enum(CommandType, "command_type"))
    serial_number: Mapped[str] = mapped_column(String(32), index=True)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"), index=True)
    territory_code: Mapped[str | None] = mapped_column(String(32))
    feeder_code: Mapped[str | None] = mapped_column(String(32), index=True)
    program_code: Mapped[str | None] = mapped_column(String(32))
    previous_program_code: Mapped[str | None] = mapped_column(String(32))
    reconnect_mode: Mapped[str | None] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32), default="request")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("remote_commands.id"))
    rollout_stage: Mapped[int | None]
    state: Mapped[RemoteCommandState] = mapped_column(
        str_enum(RemoteCommandState, "remote_command_state")
    )
    not_before_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    headend_command_id: Mapped[str | None] = mapped_column(String(64))
    completed_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any]]
    guard_results: Mapped[dict[str, Any]]
    reconciliation: Mapped[str | None] = mapped_column(String(16))
    created_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CommandControl(Base):
    """A named switch of the command system (``kill_switch``) and a serialisation row."""

    __tablename__ = "command_controls"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    active: Mapped[bool] = mapped_column(default=False)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(default=0)
    changed_at_utc: Mapped[dt.datetime] = mapped_column(
        UtcDateTime(), server_default=func.current_timestamp()
    )


class TemperatureReading(Base):
    """An outdoor temperature (observed or forecast) for a territory, for the weather guard."""

    __tablename__ = "territory_temperatures"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    territory_code: Mapped[str] = mapped_column(String(32), index=True)
    valid_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    temperature_c: Mapped[float]
    recorded_by: Mapped[str] = mapped_column(String(64))


class ProgramRollout(Base):
    """A staged program push: a few meters, then 10 %, then all; halts on failures."""

    __tablename__ = "program_rollouts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    program_code: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    serial_numbers: Mapped[list[str]]
    stages: Mapped[dict[str, Any]]
    current_stage: Mapped[int] = mapped_column(default=0)
    max_failure_share: Mapped[float]
    state: Mapped[RolloutState] = mapped_column(str_enum(RolloutState, "rollout_state"))
    halt_reason: Mapped[str | None] = mapped_column(String(500))
    created_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class OutageIncident(Base):
    """An outage placed at a meter, a transformer or a feeder, with its extent in time."""

    __tablename__ = "outage_incidents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    level: Mapped[OutageLevel] = mapped_column(str_enum(OutageLevel, "outage_level"))
    device_code: Mapped[str] = mapped_column(String(32), index=True)
    feeder_code: Mapped[str | None] = mapped_column(String(32))
    started_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    restored_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    affected_meters: Mapped[int]
    last_gasps: Mapped[int]
    confidence: Mapped[float]
    pings_sent: Mapped[int] = mapped_column(default=0)
    pings_unanswered: Mapped[int] = mapped_column(default=0)
    detected_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class OutageMember(Base):
    """A meter inside an outage incident."""

    __tablename__ = "outage_members"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("outage_incidents.id", ondelete="CASCADE"), primary_key=True
    )
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), primary_key=True)
    serial_number: Mapped[str] = mapped_column(String(32))
    last_gasp: Mapped[bool] = mapped_column(default=False)
    restored_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
