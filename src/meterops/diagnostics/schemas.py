"""Pydantic I/O of diagnostics (API bodies and CLI output). Must not import FastAPI."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from meterops.diagnostics.kinds import Cause
from meterops.diagnostics.repository import NO_CAUSE
from meterops.models.diagnostics import DiagnosticException

__all__ = [
    "CauseFilter",
    "CohortRead",
    "ExceptionRead",
    "RunRead",
    "cause_filter",
    "exception_read",
]

CauseFilter = StrEnum(  # type: ignore[misc]
    "CauseFilter", [(c.name, c.value) for c in Cause] + [("NONE", NO_CAUSE)]
)
"""The queue's cause filter: a cause of the taxonomy (:class:`Cause`), or ``none``."""


def cause_filter(value: str | None) -> Cause | Literal["none"] | None:
    """The service's form of a cause filter (None: no filter).

    Raises:
        ValueError: ``value`` is neither a cause nor ``none``.
    """
    if value is None:
        return None
    if value == NO_CAUSE:
        return "none"
    return Cause(value)


class ExceptionRead(BaseModel):
    """An exception with its verdict."""

    id: int
    meter_serial: str
    kind: str
    status: str
    first_seen_utc: dt.datetime
    last_seen_utc: dt.datetime
    opened_at_utc: dt.datetime
    closed_at_utc: dt.datetime | None
    close_reason: str | None
    evidence: dict[str, Any] = Field(description="The detector's facts.")
    cause: str | None
    rule_id: str | None
    confidence: float | None
    action: str | None
    order_type: str | None
    remote_command: str | None
    summary: str | None
    verdict_evidence: dict[str, Any] | None = Field(
        description="The rule, its conditions with the facts' values, further facts."
    )
    work_order_number: str | None


def exception_read(row: DiagnosticException, serial: str) -> ExceptionRead:
    """The API form of an exception row."""
    return ExceptionRead(
        id=row.id,
        meter_serial=serial,
        kind=str(row.kind),
        status=str(row.status),
        first_seen_utc=row.first_seen_utc,
        last_seen_utc=row.last_seen_utc,
        opened_at_utc=row.opened_at_utc,
        closed_at_utc=row.closed_at_utc,
        close_reason=row.close_reason,
        evidence=row.evidence,
        cause=str(row.cause) if row.cause else None,
        rule_id=row.rule_id,
        confidence=row.confidence,
        action=str(row.action) if row.action else None,
        order_type=row.order_type,
        remote_command=row.remote_command,
        summary=row.summary,
        verdict_evidence=row.verdict_evidence,
        work_order_number=row.work_order_number,
    )


class CohortRead(BaseModel):
    """A cohort of meters and how its exception rate compares with the fleet's."""

    kind: str
    attribute: str
    value: str
    cohort_meters: int
    cohort_exceptions: int
    cohort_rate: float
    fleet_rate: float
    lift: float
    share_of_kind: float
    p_value: float
    q_value: float
    significant: bool


class RunRead(BaseModel):
    """What a diagnostics run did."""

    as_of_utc: dt.datetime
    meters: int
    found: dict[str, int]
    opened: int
    refreshed: int
    closed: int
    causes: dict[str, int]
    actions: dict[str, int]
    orders_created: int
    orders_existing: int
    orders_refused: dict[str, int]
