"""Pydantic I/O of the work-order capability (API bodies, CLI output, service inputs).

:class:`OrderRequest` is the one typed way to ask for an order, whoever asks: a diagnostics
verdict, a programme CSV row, the JSON API or a person. It names the subject by its natural
key (meter serial, service point number or collector code) and may override the type's
defaults (priority, duration, skill, parts).

Must not import FastAPI.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from meterops.models.workorders import OrderSource
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import ORDER_TYPES, Skill, Subject, WorkOrderType

__all__ = [
    "AppointmentUpdate",
    "Board",
    "BoardColumn",
    "CreationResult",
    "Duplicate",
    "ImportResult",
    "OrderEvent",
    "OrderFilter",
    "OrderRequest",
    "Refusal",
    "TransitionRequest",
    "WorkOrderRead",
    "WorkOrderTypeRead",
]


class OrderRequest(BaseModel):
    """A request for one work order (from a verdict, a programme row, the API or by hand).

    Exactly the subject the type is about must be given: ``meter_serial`` for meter work,
    ``service_point_number`` for installs, ``collector_code`` for collector work.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_type: WorkOrderType
    meter_serial: str | None = Field(default=None, max_length=32)
    service_point_number: str | None = Field(default=None, max_length=32)
    collector_code: str | None = Field(default=None, max_length=32)
    problem_code: str | None = Field(
        default=None,
        max_length=64,
        description="Cause or programme code (default: the order type); one active order per "
        "subject and problem.",
    )
    priority: int | None = Field(default=None, ge=1, le=5, description="1 = most urgent.")
    due_at_utc: AwareDatetime | None = None
    appointment_start_utc: AwareDatetime | None = None
    appointment_end_utc: AwareDatetime | None = None
    evidence_summary: str = Field(default="", max_length=500)
    evidence: dict[str, Any] = Field(default_factory=dict, description="JSON facts, no PII.")
    required_skill: Skill | None = None
    parts: list[str] | None = None
    duration_min: int | None = Field(default=None, ge=1, le=720)
    meter_form: str | None = Field(default=None, max_length=8, description="Installs only.")
    campaign: str | None = Field(default=None, max_length=64)
    external_ref: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _subject_and_window(self) -> OrderRequest:
        subject = ORDER_TYPES[self.order_type].subject
        needed = {
            Subject.METER: "meter_serial",
            Subject.SERVICE_POINT: "service_point_number",
            Subject.COLLECTOR: "collector_code",
        }[subject]
        given = [
            name
            for name in ("meter_serial", "service_point_number", "collector_code")
            if getattr(self, name)
        ]
        if given != [needed]:
            msg = (
                f"a {self.order_type.value} order is about a {subject.value}: give "
                f"{needed} (only); got {', '.join(given) or 'none'}"
            )
            raise ValueError(msg)
        start, end = self.appointment_start_utc, self.appointment_end_utc
        if (start is None) != (end is None):
            raise ValueError("an appointment needs both appointment_start_utc and _end_utc")
        if start is not None and end is not None and end <= start:
            raise ValueError("the appointment must end after it starts")
        return self

    @property
    def subject_key(self) -> str:
        """``meter:<serial>``, ``service_point:<number>`` or ``collector:<code>``."""
        if self.meter_serial:
            return f"meter:{self.meter_serial}"
        if self.service_point_number:
            return f"service_point:{self.service_point_number}"
        return f"collector:{self.collector_code}"


class WorkOrderRead(BaseModel):
    """A work order as the API and CLI show it (ids, never customer names)."""

    order_number: str
    order_type: WorkOrderType
    status: WorkOrderStatus
    source: OrderSource
    problem_code: str
    subject_key: str
    meter_serial: str | None
    service_point_number: str | None
    address: str | None
    territory_code: str
    latitude: float
    longitude: float
    meter_form: str | None
    priority: int
    due_at_utc: dt.datetime | None
    appointment_start_utc: dt.datetime | None
    appointment_end_utc: dt.datetime | None
    duration_min: int
    required_skill: str
    certifications: list[str]
    parts: list[str]
    evidence: dict[str, Any]
    notes: str | None
    campaign: str | None
    external_ref: str | None
    bundle_key: str | None
    technician: str | None
    fixed_technician: bool
    scheduled_date: dt.date | None
    status_reason: str | None
    last_ping: dict[str, Any] | None
    created_by: str
    created_at_utc: dt.datetime
    status_changed_at_utc: dt.datetime


class TransitionRequest(BaseModel):
    """Move an order along its lifecycle."""

    status: WorkOrderStatus
    reason: str | None = Field(default=None, max_length=500)


class AppointmentUpdate(BaseModel):
    """A customer appointment: the visit must start inside it."""

    start_utc: AwareDatetime
    end_utc: AwareDatetime


class Duplicate(BaseModel):
    """A request that matched an active order for the same subject and problem."""

    index: int
    order_number: str
    escalated: bool = Field(description="The request was more urgent; the order was raised.")


class Refusal(BaseModel):
    """A request that could not become an order (verdict batches go on without it)."""

    index: int
    code: str
    message: str


class CreationResult(BaseModel):
    """What a batch of requests did."""

    created: list[str] = Field(default_factory=list, description="New order numbers.")
    duplicates: list[Duplicate] = Field(default_factory=list)
    bundled: dict[str, str] = Field(
        default_factory=dict, description="New order number → bundle key it joined."
    )
    refused: list[Refusal] = Field(default_factory=list)


class ImportResult(BaseModel):
    """A programme CSV file imported whole."""

    file: str
    rows: int
    result: CreationResult


class OrderFilter(BaseModel):
    """Which orders to list (all given conditions hold)."""

    statuses: list[WorkOrderStatus] = Field(default_factory=list)
    order_type: WorkOrderType | None = None
    territory_code: str | None = None
    technician: str | None = Field(default=None, description="Employee number.")
    scheduled_date: dt.date | None = None
    campaign: str | None = None
    priority_at_most: int | None = Field(default=None, ge=1, le=5)
    limit: int = Field(default=200, ge=1, le=2000)


class BoardColumn(BaseModel):
    """One status column of the dispatcher's board."""

    status: WorkOrderStatus
    count: int
    orders: list[WorkOrderRead]


class Board(BaseModel):
    """Orders by status (columns in lifecycle order)."""

    columns: list[BoardColumn]


class WorkOrderTypeRead(BaseModel):
    """A work-order type and its defaults."""

    code: WorkOrderType
    name: str
    subject: Subject
    duration_min: int
    skill: Skill
    ct_skill: Skill | None
    certifications: list[str]
    parts: list[str]
    uses: str | None
    checklist: list[str]
    priority: int
    deadline: str
    cancel_when_meter_answers: bool


class OrderEvent(BaseModel):
    """One entry of an order's history (from the audit trail)."""

    occurred_at_utc: dt.datetime
    actor: str
    action: str = Field(description="e.g. workorder.create, workorder.status, workorder.ping.")
    reason: str | None
    data: dict[str, Any]
