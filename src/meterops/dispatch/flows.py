"""Ping before the visit: a meter that answers the head-end needs no technician.

Orders of a type that exists because the meter does not communicate (non-comm
investigation, radio module replacement) are pinged through the head-end twice: before the
day is planned (waiting orders) and on the morning of the visit (orders scheduled or assigned
that day). Each ping's outcome is kept on the order (``last_ping``) and in the audit trail;
an order whose meter answered is cancelled with the ping as evidence, and when it was on a
route the route closes the gap (:func:`meterops.dispatch.changes.cancel_order`).

Commands are asynchronous: every meter is pinged first, then the statuses are read until all
are settled or the wait budget is spent (a ping still pending then changes nothing). Waiting
goes through an injected ``wait`` callable, so a simulated head-end's clock can be advanced
instead of sleeping.

Service module: ``session`` first, keyword-only options, audits every change, never commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from meterops.dispatch import changes, schemas
from meterops.dispatch.service import Planner, orders_to_ping, plan_day
from meterops.errors import InvalidInputError, MeterOpsError
from meterops.headend.protocol import CommandState, CommandStatus, HeadEnd
from meterops.models import DayPlan, WorkOrder
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import OPEN_STATES

__all__ = [
    "PingPolicy",
    "PingPurpose",
    "ping_before_visits",
    "plan_day_with_pings",
    "require_head_end",
]


class PingPurpose(StrEnum):
    """When the meters are pinged."""

    BEFORE_PLANNING = "before_planning"
    """Waiting orders, before the day is optimised."""
    MORNING_OF_VISIT = "morning_of_visit"
    """Orders scheduled or assigned for the day, on its morning."""


@dataclass(frozen=True, slots=True)
class PingPolicy:
    """How long to wait for the meters' answers.

    Attributes:
        wait_s: Total time to wait for pending pings [s] (the head-end's ping timeout is
            typically 60 s).
        first_poll_s: Wait before the first re-read of pending commands [s]; each later
            wait doubles, up to ``poll_every_s`` (most pings answer in a second or two).
        poll_every_s: Longest time between reads of the pending commands' status [s].
    """

    wait_s: float = 90.0
    first_poll_s: float = 0.25
    poll_every_s: float = 5.0

    def __post_init__(self) -> None:
        if not (self.wait_s >= 0 and self.first_poll_s > 0 and self.poll_every_s > 0):
            msg = (
                "ping waits: wait_s must be >= 0, first_poll_s and poll_every_s > 0; got "
                f"{self.wait_s}, {self.first_poll_s}, {self.poll_every_s}"
            )
            raise InvalidInputError(msg, code="dispatch.bad_ping_policy")


@dataclass(slots=True)
class _Ping:
    serial: str
    command_id: str | None = None
    status: CommandStatus | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def pending(self) -> bool:
        return self.command_id is not None and (self.status is None or not self.status.done)


def _submit(head_end: HeadEnd, serials: Sequence[str], request_tag: str) -> dict[str, _Ping]:
    pings: dict[str, _Ping] = {}
    for serial in serials:
        ping = _Ping(serial)
        try:
            ping.command_id = head_end.ping(serial, request_id=f"{request_tag}:{serial}")
        except MeterOpsError as error:
            ping.error_code, ping.error_message = error.code, error.message
        pings[serial] = ping
    return pings


def _settle(
    head_end: HeadEnd,
    pings: dict[str, _Ping],
    *,
    policy: PingPolicy,
    wait: Callable[[float], None],
) -> None:
    waited = 0.0
    step = policy.first_poll_s
    while True:
        for ping in pings.values():
            if ping.pending:
                assert ping.command_id is not None
                try:
                    ping.status = head_end.command_status(ping.command_id)
                except MeterOpsError as error:
                    ping.command_id = None
                    ping.error_code, ping.error_message = error.code, error.message
        if not any(p.pending for p in pings.values()) or waited >= policy.wait_s:
            return
        pause = max(min(step, policy.poll_every_s, policy.wait_s - waited), 0.0)
        wait(pause)
        waited += pause
        step *= 2


def _evidence(ping: _Ping, purpose: PingPurpose, now: dt.datetime) -> dict[str, Any]:
    status = ping.status
    state: str
    reason: str | None
    if ping.error_code is not None:
        state, reason = "error", ping.error_code
    elif status is None or not status.done:
        state, reason = "pending", "no answer within the wait"
    else:
        state, reason = status.state.value, status.reason
    return {
        "purpose": purpose.value,
        "meter_serial": ping.serial,
        "state": state,
        "reason": reason,
        "message": ping.error_message,
        "command_id": ping.command_id,
        "pinged_at_utc": now.isoformat(),
        "answered_at_utc": None
        if status is None or status.completed_at_utc is None
        else status.completed_at_utc.isoformat(),
        "result": {} if status is None else dict(status.result),
    }


def _why(evidence: dict[str, Any]) -> str:
    result = evidence["result"]
    rssi = result.get("rssi_dbm")
    signal = "" if rssi is None else f" (RSSI {rssi} dBm, {result.get('hop_count', '?')} hops)"
    return (
        f"meter {evidence['meter_serial']} answered a ping {evidence['purpose'].replace('_', ' ')}"
        f"{signal}, command {evidence['command_id']}: it communicates again"
    )


def require_head_end(head_end: HeadEnd | None) -> HeadEnd:
    """The head-end, or a clear error when none is configured.

    Raises:
        InvalidInputError: No head-end (set ``METEROPS_HEADEND_URL``).
    """
    if head_end is None:
        msg = (
            "no head-end is configured to ping meters through: set METEROPS_HEADEND_URL "
            "(or give --headend-url)"
        )
        raise InvalidInputError(msg, code="dispatch.no_headend")
    return head_end


def ping_before_visits(
    session: Session,
    head_end: HeadEnd,
    *,
    day: dt.date,
    purpose: PingPurpose,
    territory_code: str | None,
    planner: Planner,
    actor: str,
    now: dt.datetime,
    policy: PingPolicy | None = None,
    wait: Callable[[float], None] = time.sleep,
) -> schemas.PingReport:
    """Ping the meters of non-comm orders and cancel the orders whose meter answers.

    Args:
        session: The caller's session.
        head_end: The head-end to ping through.
        day: The day being planned, or the day of the visits.
        purpose: Before planning (waiting orders) or the morning of the visit (orders
            scheduled or assigned for ``day``).
        territory_code: One territory, or all (None).
        planner: Re-plans a route an answering order is taken off.
        actor: Who asks (``system:dispatch`` for scheduled runs).
        now: The current time (aware).
        policy: How long to wait for answers.
        wait: Waits a number of seconds (``time.sleep``; a simulated clock's advance in
            tests and demos).

    Returns:
        Every order pinged with its outcome; the orders cancelled.

    Raises:
        NotFoundError: Unknown territory.
    """
    policy = policy or PingPolicy()
    morning = purpose is PingPurpose.MORNING_OF_VISIT
    targets = orders_to_ping(session, day=day, morning=morning, territory_code=territory_code)
    serials = sorted({serial for _, serial in targets})
    tag = f"meterops:{purpose.value}:{now.astimezone(dt.UTC):%Y%m%dT%H%M%S}"
    pings = _submit(head_end, serials, tag)
    _settle(head_end, pings, policy=policy, wait=wait)
    outcomes: list[schemas.PingOutcome] = []
    recovered: list[str] = []
    for order, serial in targets:
        evidence = _evidence(pings[serial], purpose, now)
        workorders_service.record_ping(session, order, evidence, actor=actor, now=now)
        answered = evidence["state"] == CommandState.CONFIRMED.value
        cancelled = answered and order.status in OPEN_STATES
        if cancelled:
            _cancel(session, order, evidence, planner=planner, actor=actor, now=now)
            recovered.append(order.order_number)
        outcomes.append(
            schemas.PingOutcome(
                order_number=order.order_number,
                meter_serial=serial,
                state=evidence["state"],
                reason=evidence["reason"],
                cancelled=cancelled,
            )
        )
    return schemas.PingReport(
        purpose=purpose.value, pinged=len(serials), recovered=recovered, outcomes=outcomes
    )


def _cancel(
    session: Session,
    order: WorkOrder,
    evidence: dict[str, Any],
    *,
    planner: Planner,
    actor: str,
    now: dt.datetime,
) -> None:
    changes.cancel_order(
        session,
        order.order_number,
        reason=_why(evidence)[:500],
        planner=planner,
        actor=actor,
        now=now,
        evidence={"ping": evidence},
    )


def plan_day_with_pings(
    session: Session,
    head_end: HeadEnd | None,
    *,
    day: dt.date,
    territory_code: str | None,
    planner: Planner,
    actor: str,
    now: dt.datetime,
    policy: PingPolicy | None = None,
    wait: Callable[[float], None] = time.sleep,
) -> tuple[list[DayPlan], schemas.PingReport | None]:
    """Ping the waiting non-comm orders' meters (when a head-end is configured), then plan.

    Returns:
        The plans (one per territory) and the ping report (None without a head-end).

    Raises:
        ConflictError: The day's plan is dispatched already.
        InvalidInputError: The day is over.
        NotFoundError: Unknown territory.
    """
    report = None
    if head_end is not None:
        report = ping_before_visits(
            session,
            head_end,
            day=day,
            purpose=PingPurpose.BEFORE_PLANNING,
            territory_code=territory_code,
            planner=planner,
            actor=actor,
            now=now,
            policy=policy,
            wait=wait,
        )
    plans = plan_day(
        session, day=day, territory_code=territory_code, planner=planner, actor=actor, now=now
    )
    return plans, report
