"""JSON API of the work-order capability (mounted under ``/api/v1``).

Thin: each endpoint parses, calls one service function and returns its schema. Cancelling an
order that is on a technician's route goes through dispatch, which re-plans that route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, status

from meterops.dispatch import changes, wiring
from meterops.timeutil import utc_now
from meterops.web.auth import UserDep
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES
from meterops.workorders import schemas
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import WorkOrderType

__all__ = [
    "ACTOR",
    "book_appointment",
    "create_order",
    "get_board",
    "get_order",
    "import_programme",
    "list_order_types",
    "list_orders",
    "order_history",
    "router",
    "transition_order",
]

ACTOR = "api"
"""Actor recorded in the audit trail for changes made through the API."""

router = APIRouter(tags=["work orders"], responses=ERROR_RESPONSES)


def _filters(
    *,
    status_: list[WorkOrderStatus] | None,
    order_type: WorkOrderType | None,
    territory: str | None,
    technician: str | None,
    date: str | None,
    campaign: str | None,
    priority_at_most: int | None,
    limit: int,
) -> schemas.OrderFilter:
    return schemas.OrderFilter.model_validate(
        {
            "statuses": status_ or [],
            "order_type": order_type,
            "territory_code": territory,
            "technician": technician,
            "scheduled_date": date,
            "campaign": campaign,
            "priority_at_most": priority_at_most,
            "limit": limit,
        }
    )


StatusQuery = Annotated[
    list[WorkOrderStatus] | None, Query(alias="status", description="Repeat for several.")
]
TerritoryQuery = Annotated[str | None, Query(max_length=32, description="Territory code.")]
TechnicianQuery = Annotated[str | None, Query(max_length=32, description="Employee number.")]
DateQuery = Annotated[str | None, Query(description="Scheduled date, YYYY-MM-DD.")]


@router.get("/orders", response_model=list[schemas.WorkOrderRead])
def list_orders(  # noqa: PLR0917 (query parameters)
    session: SessionDep,
    status_: StatusQuery = None,
    order_type: Annotated[WorkOrderType | None, Query(alias="type")] = None,
    territory: TerritoryQuery = None,
    technician: TechnicianQuery = None,
    date: DateQuery = None,
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    priority_at_most: Annotated[int | None, Query(ge=1, le=5)] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> list[schemas.WorkOrderRead]:
    """Work orders matching the filters, most urgent first."""
    filters = _filters(
        status_=status_,
        order_type=order_type,
        territory=territory,
        technician=technician,
        date=date,
        campaign=campaign,
        priority_at_most=priority_at_most,
        limit=limit,
    )
    return workorders_service.list_orders(session, filters)


@router.get("/orders/board", response_model=schemas.Board)
def get_board(
    session: SessionDep,
    territory: TerritoryQuery = None,
    date: DateQuery = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> schemas.Board:
    """The dispatcher's board: a column per status with its orders."""
    filters = _filters(
        status_=None,
        order_type=None,
        territory=territory,
        technician=None,
        date=date,
        campaign=None,
        priority_at_most=None,
        limit=limit,
    )
    return workorders_service.board(session, filters)


@router.get("/orders/types", response_model=list[schemas.WorkOrderTypeRead])
def list_order_types() -> list[schemas.WorkOrderTypeRead]:
    """Every order type with its default duration, skill, parts and checklist."""
    return workorders_service.order_types()


@router.post("/orders", response_model=schemas.WorkOrderRead, status_code=status.HTTP_201_CREATED)
def create_order(
    request: Request,
    order: schemas.OrderRequest,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
) -> schemas.WorkOrderRead:
    """Create an order by hand.

    409 when one is already active for the subject and problem; 403
    ``permission_denied.territory`` when the subject lies outside the user's territories.
    """
    return workorders_service.create_order(
        session,
        order,
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
        policy=wiring.policy(settings),
        territory_ids=user.territory_ids,
    )


@router.post("/orders/import", response_model=schemas.ImportResult)
async def import_programme(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    file: Annotated[str, Query(max_length=200, description="File name for messages.")] = (
        "programme.csv"
    ),
) -> schemas.ImportResult:
    """Import a programme CSV (the request body, ``text/csv``): whole file or nothing."""
    data = await request.body()
    return workorders_service.import_programme(
        session,
        data,
        file=file,
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
        policy=wiring.policy(settings),
        territory_ids=user.territory_ids,
    )


@router.get("/orders/{order_number}", response_model=schemas.WorkOrderRead)
def get_order(order_number: str, session: SessionDep) -> schemas.WorkOrderRead:
    """One order."""
    return workorders_service.read_order(session, order_number)


@router.get("/orders/{order_number}/history", response_model=list[schemas.OrderEvent])
def order_history(order_number: str, session: SessionDep) -> list[schemas.OrderEvent]:
    """An order's history from the audit trail (moves, pings, reassignments), oldest first."""
    return workorders_service.history(session, order_number)


@router.post("/orders/{order_number}/transition", response_model=schemas.WorkOrderRead)
def transition_order(
    request: Request,
    order_number: str,
    move: schemas.TransitionRequest,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.WorkOrderRead:
    """Move an order along its lifecycle (409 for an illegal move; cancelling needs a reason).

    Cancelling an order on a route re-plans that route.
    """
    now = utc_now()
    if move.status is WorkOrderStatus.CANCELLED:
        changes.cancel_order(
            session,
            order_number,
            reason=move.reason or "",
            planner=wiring.planner(settings),
            actor=wiring.actor_of(request, ACTOR),
            now=now,
        )
        return workorders_service.read_order(session, order_number)
    return workorders_service.transition(
        session,
        order_number,
        move.status,
        actor=wiring.actor_of(request, ACTOR),
        now=now,
        reason=move.reason,
    )


@router.put("/orders/{order_number}/appointment", response_model=schemas.WorkOrderRead)
def book_appointment(
    request: Request,
    order_number: str,
    window: Annotated[schemas.AppointmentUpdate, Body()],
    session: SessionDep,
) -> schemas.WorkOrderRead:
    """Book the customer's appointment: the visit starts inside the window."""
    return workorders_service.book_appointment(
        session,
        order_number,
        start_utc=window.start_utc,
        end_utc=window.end_utc,
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )
