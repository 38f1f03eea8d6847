"""Work-order states and the legal moves between them, as data.

An order is created, scheduled on a day plan, assigned when the plan is dispatched to the
technicians, driven to (en route), worked on site, and then completed or found unable to
complete; a completed order is verified on the head-end and closed. An order may be
cancelled, with a reason, from any open state. Only the moves in :data:`TRANSITIONS` are
legal.

Pure module: standard library and :mod:`meterops.errors` only.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from meterops.errors import IllegalTransitionError

__all__ = [
    "ACTIVE_STATES",
    "OPEN_STATES",
    "REASON_REQUIRED",
    "TRANSITIONS",
    "WorkOrderStatus",
    "check_transition",
]


class WorkOrderStatus(StrEnum):
    """Where a work order is."""

    CREATED = "created"
    SCHEDULED = "scheduled"
    """On a day plan that has not been dispatched yet."""
    ASSIGNED = "assigned"
    """On a dispatched day plan: the technician has it."""
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    COMPLETED = "completed"
    UNABLE_TO_COMPLETE = "unable_to_complete"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"


_S = WorkOrderStatus
TRANSITIONS: Final[MappingProxyType[WorkOrderStatus, frozenset[WorkOrderStatus]]] = (
    MappingProxyType(
        {
            _S.CREATED: frozenset({_S.SCHEDULED, _S.CANCELLED}),
            # Back to created: re-planning left it out, or it was taken off the plan.
            _S.SCHEDULED: frozenset({_S.ASSIGNED, _S.CREATED, _S.CANCELLED}),
            _S.ASSIGNED: frozenset({_S.EN_ROUTE, _S.CREATED, _S.CANCELLED}),
            # Turned back on the way (an emergency came first): assigned again.
            _S.EN_ROUTE: frozenset({_S.ON_SITE, _S.ASSIGNED, _S.CANCELLED}),
            _S.ON_SITE: frozenset({_S.COMPLETED, _S.UNABLE_TO_COMPLETE, _S.CANCELLED}),
            _S.COMPLETED: frozenset({_S.VERIFIED}),
            # Unable to complete: queued for another visit, reviewed (verified), or cancelled.
            _S.UNABLE_TO_COMPLETE: frozenset({_S.CREATED, _S.VERIFIED, _S.CANCELLED}),
            _S.VERIFIED: frozenset({_S.CLOSED}),
            _S.CLOSED: frozenset(),
            _S.CANCELLED: frozenset(),
        }
    )
)
"""Legal moves: state → states reachable from it."""

OPEN_STATES: Final[frozenset[WorkOrderStatus]] = frozenset(
    {_S.CREATED, _S.SCHEDULED, _S.ASSIGNED, _S.EN_ROUTE, _S.ON_SITE, _S.UNABLE_TO_COMPLETE}
)
"""States from which an order may be cancelled (the work is not done)."""

ACTIVE_STATES: Final[frozenset[WorkOrderStatus]] = OPEN_STATES | {_S.COMPLETED}
"""States in which an order still stands for its problem: a second order for the same meter
and problem is a duplicate. A completed order counts until it is verified, since a new
verdict before verification most likely sees the fault the visit just fixed."""

REASON_REQUIRED: Final[frozenset[WorkOrderStatus]] = frozenset(
    {_S.CANCELLED, _S.UNABLE_TO_COMPLETE}
)
"""Target states that need a reason from the actor."""
del _S


def check_transition(entity: str, current: WorkOrderStatus, target: WorkOrderStatus) -> None:
    """Refuse an illegal move.

    Args:
        entity: What moves, for the message (e.g. ``"work order WO-000012"``).
        current: Current state.
        target: Requested state.

    Raises:
        IllegalTransitionError: ``target`` is not reachable from ``current``.

    Examples:
        >>> check_transition("work order WO-1", WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED)
        >>> check_transition("work order WO-1", WorkOrderStatus.CLOSED, WorkOrderStatus.CREATED)
        Traceback (most recent call last):
        ...
        meterops.errors.IllegalTransitionError: work order WO-1 is 'closed' and cannot move to \
'created'; from 'closed' it can move to: none (final state).
    """
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise IllegalTransitionError(
            entity=entity,
            current=current.value,
            target=target.value,
            allowed=(state.value for state in allowed),
        )
