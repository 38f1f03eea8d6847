"""I/O schemas of the commands capability (API and CLI)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from meterops.models.commands import CommandType, RemoteCommandState, RequestState

__all__ = [
    "CommandRequestCreate",
    "CommandRequestRead",
    "CommandsOverview",
    "DispatchReport",
    "KillSwitchRead",
    "KillSwitchUpdate",
    "RemoteCommandRead",
    "RolloutCreate",
    "RolloutRead",
]


class CommandRequestCreate(BaseModel):
    """A request for one kind of command on a list of meters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CommandType
    serial_numbers: list[str] = Field(min_length=1, max_length=10_000)
    reason: str = Field(min_length=3, max_length=500, description="Why (audited).")
    idempotency_key: str = Field(
        min_length=8, max_length=128, description="The same key returns the same request."
    )
    program_code: str | None = Field(default=None, max_length=32)

    @field_validator("serial_numbers")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, serial in enumerate(value):
            if not serial or len(serial) > 32:
                msg = f"serial_numbers[{index}]: expected 1-32 characters, found {serial!r}"
                raise ValueError(msg)
            if serial in seen:
                msg = f"serial_numbers[{index}]: {serial!r} appears twice"
                raise ValueError(msg)
            seen.add(serial)
        return value


class RemoteCommandRead(BaseModel):
    """One meter's command."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    kind: CommandType
    serial_number: str
    territory_code: str | None
    feeder_code: str | None
    program_code: str | None
    purpose: str
    parent_id: int | None
    state: RemoteCommandState
    not_before_utc: dt.datetime
    sent_at_utc: dt.datetime | None
    completed_at_utc: dt.datetime | None
    headend_command_id: str | None
    failure_reason: str | None
    result: dict[str, Any]
    guard_results: dict[str, Any]
    reconciliation: str | None


class CommandRequestRead(BaseModel):
    """A request with its commands."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    idempotency_key: str
    kind: CommandType
    requested_by: str
    reason: str
    program_code: str | None
    meter_count: int
    meter_list_digest: str
    state: RequestState
    approval_required: bool
    approval_reasons: list[str]
    approval_deadline_utc: dt.datetime | None
    approved_by: str | None
    approved_at_utc: dt.datetime | None
    rollout_id: int | None
    created_at_utc: dt.datetime
    commands: list[RemoteCommandRead] = Field(default_factory=list)


class KillSwitchRead(BaseModel):
    """The kill switch."""

    active: bool
    changed_by: str | None = None
    reason: str | None = None
    changed_at_utc: dt.datetime | None = None


class KillSwitchUpdate(BaseModel):
    """Turn the kill switch on or off."""

    model_config = ConfigDict(extra="forbid")

    active: bool
    reason: str = Field(min_length=3, max_length=500)


class CommandsOverview(BaseModel):
    """What the command console shows."""

    kill_switch: KillSwitchRead
    awaiting_approval: list[CommandRequestRead]
    recent_requests: list[CommandRequestRead]
    recent_commands: list[RemoteCommandRead]


class DispatchReport(BaseModel):
    """What one dispatcher cycle did."""

    halted: bool = False
    claimed: int = 0
    sent: int = 0
    blocked: int = 0
    retried: int = 0
    confirmed: int = 0
    failed: int = 0
    expired: int = 0
    reconciled: int = 0
    mismatches: int = 0
    work_orders: list[str] = Field(default_factory=list)


class RolloutCreate(BaseModel):
    """A staged program push."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    program_code: str = Field(min_length=1, max_length=32)
    serial_numbers: list[str] = Field(min_length=1, max_length=100_000)
    reason: str = Field(min_length=3, max_length=500)
    idempotency_key: str = Field(min_length=8, max_length=100)


class RolloutRead(BaseModel):
    """A staged program push and where it is."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    program_code: str
    requested_by: str
    state: str
    current_stage: int
    stages: dict[str, Any]
    max_failure_share: float
    halt_reason: str | None
