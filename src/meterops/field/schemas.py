"""Shapes of the field API (``/api/v1/field``): the contract the phone and the load test use.

Times are ISO 8601 UTC. Responses are plain Pydantic models; requests forbid unknown fields
so that a typo is an error naming the field, not silently ignored.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "ActionKind",
    "ActionRead",
    "ActionRequest",
    "ActionResult",
    "CauseRead",
    "ChecklistItemRead",
    "CommandRead",
    "CommandRequestBody",
    "CompletePayload",
    "CustomerRead",
    "ExchangePayload",
    "NotePayload",
    "OrderDetail",
    "OrderStatusRead",
    "PhotoRead",
    "PhotoUploaded",
    "SafetyPayload",
    "Stop",
    "TechnicianRead",
    "TodayRead",
    "UnablePayload",
    "VerdictRead",
    "VerificationRead",
]


class ActionKind(StrEnum):
    """What a field action records."""

    ARRIVE = "arrive"
    SAFETY = "safety"
    EXCHANGE = "exchange"
    COMPLETE = "complete"
    NOTE = "note"
    UNABLE = "unable"


class VerdictRead(BaseModel):
    """The diagnostics verdict that led to the order."""

    code: str
    summary: str


class CustomerRead(BaseModel):
    """The customer at the service point (only on a technician's own open orders)."""

    name: str
    account: str
    phone: str | None


class Stop(BaseModel):
    """One order on the technician's route."""

    order_number: str
    sequence: int | None = Field(description="Visit number on the route (bundled orders share).")
    order_type: str
    status: str
    priority: int
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    eta: dt.datetime | None
    latitude: float
    longitude: float
    address: str | None
    meter_serial: str | None
    meter_form: str | None
    problem_code: str
    verdict: VerdictRead | None
    customer: CustomerRead | None
    done: bool
    next: bool = False


class TechnicianRead(BaseModel):
    """The technician signed in."""

    employee_number: str
    name: str


class TodayRead(BaseModel):
    """The technician's day."""

    technician: TechnicianRead
    day: dt.date
    csrf_token: str
    stops: list[Stop]


class ChecklistItemRead(BaseModel):
    """A safety item as the phone shows it."""

    code: str
    label: str
    kind: str
    nominal_v: float | None = None
    low_v: float | None = None
    high_v: float | None = None


class CauseRead(BaseModel):
    """A found-cause code."""

    code: str
    label: str


class ActionRead(BaseModel):
    """An action recorded on the order."""

    action_id: int
    kind: str
    recorded_at: dt.datetime | None
    received_at: dt.datetime
    actor: str
    payload: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any]


class PhotoRead(BaseModel):
    """A photo of the order."""

    id: str
    url: str
    taken_at: dt.datetime
    kind: str


class VerificationRead(BaseModel):
    """Whether the head-end confirmed the meter installed on the order."""

    state: str
    registered_at: dt.datetime | None
    first_read: dict[str, Any] | None
    reason: str | None
    checked_at: dt.datetime | None
    new_serial: str | None = None
    command_id: str | None = None


class OrderDetail(Stop):
    """A stop with everything needed on site."""

    evidence: list[dict[str, Any]]
    checklist: list[ChecklistItemRead]
    found_cause_codes: list[CauseRead]
    expected_serial: str | None
    service_point_number: str | None
    last_ping: dict[str, Any] | None
    actions: list[ActionRead]
    photos: list[PhotoRead]
    verification: VerificationRead | None


class ActionRequest(BaseModel):
    """A result recorded from the field."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=8, max_length=128)
    kind: ActionKind
    recorded_at: AwareDatetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class SafetyPayload(BaseModel):
    """``safety``: the answers by item code."""

    model_config = ConfigDict(extra="forbid")

    items: dict[str, Any]
    notes: str | None = Field(default=None, max_length=1000)


class ExchangePayload(BaseModel):
    """``exchange``: both serials, both reads, the found cause, photos, notes.

    On an install at an empty socket there is no old meter: ``old_serial`` and
    ``old_final_read_kwh`` are left out.
    """

    model_config = ConfigDict(extra="forbid")

    old_serial: str | None = Field(default=None, min_length=1, max_length=32)
    old_final_read_kwh: float | None = None
    new_serial: str = Field(min_length=1, max_length=32)
    new_initial_read_kwh: float | None = None
    found_cause_code: str | None = None
    photo_ids: list[str] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=1000)


class CompletePayload(BaseModel):
    """``complete``: the found cause; a reason when the head-end has not confirmed."""

    model_config = ConfigDict(extra="forbid")

    found_cause_code: str
    notes: str | None = Field(default=None, max_length=1000)
    unverified_reason: str | None = Field(default=None, max_length=500)


class NotePayload(BaseModel):
    """``note``: a free text (``text``, or ``notes`` as the other payloads name it)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=1000)
    notes: str | None = Field(default=None, min_length=1, max_length=1000)


class UnablePayload(BaseModel):
    """``unable``: why the job cannot be done."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)
    found_cause_code: str | None = None


class OrderStatusRead(BaseModel):
    """The order's status after an action."""

    order_number: str
    status: str
    status_reason: str | None


class ActionResult(BaseModel):
    """The answer to an action (the same again for the same idempotency key)."""

    action_id: int
    duplicate: bool
    kind: str
    order: OrderStatusRead
    outcome: dict[str, Any] = Field(default_factory=dict)


class PhotoUploaded(BaseModel):
    """A stored photo."""

    id: str
    url: str
    width: int
    height: int
    bytes: int
    duplicate: bool = False


class CommandRequestBody(BaseModel):
    """Optional body of ``ping`` / ``read``."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100)


class CommandRead(BaseModel):
    """A ping or read asked from the phone, as it stands."""

    request_id: int
    kind: str
    state: str
    result: dict[str, Any]
    failure_reason: str | None
    completed_at: dt.datetime | None
