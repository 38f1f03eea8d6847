"""JSON API of the dispatch capability (mounted under ``/api/v1``).

Day plans by date (``/dayplans/{date}``): optimise (pinging the waiting non-comm orders'
meters first when a head-end is configured), read, KPIs, GeoJSON, dispatch, insert an
emergency, ping on the morning of the visit; per order: reassign by hand, cancel. Thin: each
endpoint calls one service function.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from meterops.dispatch import changes, crews, flows, schemas, views, wiring
from meterops.dispatch import service as dispatch_service
from meterops.headend.protocol import HeadEnd
from meterops.timeutil import utc_now
from meterops.web.deps import SessionDep, SettingsDep
from meterops.web.errors import ERROR_RESPONSES
from meterops.workorders import schemas as workorder_schemas
from meterops.workorders import service as workorders_service

__all__ = [
    "ACTOR",
    "HeadEndDep",
    "cancel_order",
    "day_kpis",
    "day_plan",
    "day_plan_geojson",
    "dispatch_day",
    "get_head_end",
    "insert_order",
    "list_technicians",
    "optimize_day",
    "ping_day",
    "reassign_order",
    "router",
    "send_home",
    "set_availability",
    "set_stock",
]

ACTOR = "api"
"""Actor recorded in the audit trail for changes made through the API."""

router = APIRouter(tags=["dispatch"], responses=ERROR_RESPONSES)


def get_head_end(request: Request) -> HeadEnd | None:
    """The app's head-end: ``app.state.head_end`` (demo, tests), else from the settings."""
    found: HeadEnd | None = getattr(request.app.state, "head_end", None)
    if found is not None:
        return found
    return wiring.head_end(request.app.state.settings)


HeadEndDep = Annotated[HeadEnd | None, Depends(get_head_end)]
TerritoryQuery = Annotated[
    str | None, Query(max_length=32, description="Territory code (default: all).")
]
SecondsQuery = Annotated[float, Query(gt=0, le=120, description="Longest solve per territory [s].")]


@router.post("/dayplans/{day}/optimize", response_model=schemas.OptimizeResult)
def optimize_day(  # noqa: PLR0917 (FastAPI dependencies and query parameters)
    request: Request,
    day: dt.date,
    session: SessionDep,
    settings: SettingsDep,
    head_end: HeadEndDep,
    territory: TerritoryQuery = None,
    seconds: SecondsQuery = wiring.DEFAULT_SOLVE_SECONDS,
) -> schemas.OptimizeResult:
    """Optimise a day (409 once dispatched): ping non-comm meters, then plan every route."""
    _, report = flows.plan_day_with_pings(
        session,
        head_end,
        day=day,
        territory_code=territory,
        planner=wiring.planner(settings, seconds=seconds),
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )
    plans = views.day_plans(
        session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
    )
    return schemas.OptimizeResult(pings=report, plans=plans)


@router.get("/dayplans/{day}", response_model=list[schemas.DayPlanRead])
def day_plan(
    day: dt.date, session: SessionDep, settings: SettingsDep, territory: TerritoryQuery = None
) -> list[schemas.DayPlanRead]:
    """A day's plans (one per territory; empty when the day is not planned)."""
    return views.day_plans(
        session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
    )


@router.get("/dayplans/{day}/kpis", response_model=list[schemas.TerritoryKpis])
def day_kpis(
    day: dt.date, session: SessionDep, settings: SettingsDep, territory: TerritoryQuery = None
) -> list[schemas.TerritoryKpis]:
    """A day's figures per territory: stops per technician, drive-time and on-time shares."""
    return [
        schemas.TerritoryKpis(
            territory=read.territory,
            plan_date=read.plan_date,
            revision=read.revision,
            kpis=read.kpis,
            left_out=read.left_out,
        )
        for read in views.day_plans(
            session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
        )
    ]


@router.get("/dayplans/{day}/geojson")
def day_plan_geojson(
    day: dt.date, session: SessionDep, settings: SettingsDep, territory: TerritoryQuery = None
) -> dict[str, Any]:
    """The day's routes as a GeoJSON FeatureCollection (``[lon, lat]``)."""
    return views.plan_geojson(
        session, day=day, territory_code=territory, utility_timezone=settings.utility_timezone
    )


@router.post("/dayplans/{day}/dispatch", response_model=list[schemas.DayPlanRead])
def dispatch_day(
    request: Request,
    day: dt.date,
    session: SessionDep,
    settings: SettingsDep,
    territory: TerritoryQuery = None,
) -> list[schemas.DayPlanRead]:
    """Give the technicians their routes: the day's scheduled orders become assigned."""
    rows = dispatch_service.dispatch_day(
        session,
        day=day,
        territory_code=territory,
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )
    return [views.plan_view(session, r, utility_timezone=settings.utility_timezone) for r in rows]


@router.post("/dayplans/{day}/insert", response_model=schemas.InsertResult)
def insert_order(
    request: Request,
    day: dt.date,
    body: schemas.InsertRequest,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.InsertResult:
    """Insert a waiting order (an emergency reconnect) into a day under way."""
    row, placed = changes.insert_order(
        session,
        body.order_number,
        day=day,
        planner=wiring.planner(settings),
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )
    return schemas.InsertResult(
        order_number=body.order_number,
        placed=placed,
        plan=views.plan_view(session, row, utility_timezone=settings.utility_timezone),
    )


@router.post("/dayplans/{day}/pings", response_model=schemas.PingReport)
def ping_day(  # noqa: PLR0917 (FastAPI dependencies and query parameters)
    request: Request,
    day: dt.date,
    session: SessionDep,
    settings: SettingsDep,
    head_end: HeadEndDep,
    territory: TerritoryQuery = None,
    morning: Annotated[
        bool, Query(description="The day's planned orders (else the waiting ones).")
    ] = True,
) -> schemas.PingReport:
    """Ping the meters of non-comm orders; cancel the orders whose meter answers."""
    return flows.ping_before_visits(
        session,
        flows.require_head_end(head_end),
        day=day,
        purpose=flows.PingPurpose.MORNING_OF_VISIT
        if morning
        else flows.PingPurpose.BEFORE_PLANNING,
        territory_code=territory,
        planner=wiring.planner(settings),
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )


@router.post("/orders/{order_number}/reassign", response_model=schemas.DayPlanRead)
def reassign_order(
    request: Request,
    order_number: str,
    body: schemas.ReassignRequest,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.DayPlanRead:
    """Give an order to a technician by hand; re-plans that technician's day (409 if no fit)."""
    row = changes.reassign_order(
        session,
        order_number,
        technician=body.technician,
        planner=wiring.planner(settings),
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
        day=body.plan_date,
    )
    return views.plan_view(session, row, utility_timezone=settings.utility_timezone)


@router.post("/orders/{order_number}/cancel", response_model=workorder_schemas.WorkOrderRead)
def cancel_order(
    request: Request,
    order_number: str,
    body: schemas.CancelRequest,
    session: SessionDep,
    settings: SettingsDep,
) -> workorder_schemas.WorkOrderRead:
    """Cancel an order with a reason; when it is on a route, the route closes the gap."""
    changes.cancel_order(
        session,
        order_number,
        reason=body.reason,
        planner=wiring.planner(settings),
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )
    return workorders_service.read_order(session, order_number)


@router.get("/technicians", response_model=list[schemas.TechnicianRead])
def list_technicians(
    session: SessionDep, territory: TerritoryQuery = None
) -> list[schemas.TechnicianRead]:
    """Active technicians with skills, certifications, shift, stop limit and truck stock."""
    return crews.list_technicians(session, territory_code=territory)


@router.put("/technicians/{employee_number}/stock", response_model=schemas.TechnicianRead)
def set_stock(
    request: Request, employee_number: str, update: schemas.StockUpdate, session: SessionDep
) -> schemas.TechnicianRead:
    """Set how many of an item (``meter:2S``, ``radio_module``) the truck carries."""
    return crews.set_stock(
        session, employee_number, update, actor=wiring.actor_of(request, ACTOR), now=utc_now()
    )


@router.put("/technicians/{employee_number}/days/{day}", status_code=204)
def set_availability(
    request: Request,
    employee_number: str,
    day: dt.date,
    update: schemas.AvailabilityUpdate,
    session: SessionDep,
) -> None:
    """A technician's day: off, or another shift or start and end place (for planning)."""
    crews.set_availability(
        session, employee_number, day, update, actor=wiring.actor_of(request, ACTOR), now=utc_now()
    )


@router.post(
    "/technicians/{employee_number}/days/{day}/send-home", response_model=schemas.DayPlanRead
)
def send_home(  # noqa: PLR0917 (FastAPI dependencies and path parameters)
    request: Request,
    employee_number: str,
    day: dt.date,
    body: schemas.SendHomeRequest,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.DayPlanRead:
    """A technician goes home early: their stops not started are re-planned onto others."""
    row = changes.send_home(
        session,
        employee_number,
        day=day,
        reason=body.reason,
        planner=wiring.planner(settings),
        actor=wiring.actor_of(request, ACTOR),
        now=utc_now(),
    )
    return views.plan_view(session, row, utility_timezone=settings.utility_timezone)
