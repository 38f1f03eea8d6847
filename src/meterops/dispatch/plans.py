"""Between stored day plans and routing values: load, rebuild the problem, store, show.

A stored plan keeps what is needed to rebuild its routing problem: each technician's day as
it was planned (:class:`~meterops.models.DayPlanRoute`) and the orders it considered with
their stop keys (:class:`~meterops.models.DayPlanOrder`). The stops are rebuilt from the
orders as they are now, so an order cancelled since is no longer a stop and the routing
functions close its gap. Activities are stored unpinned; re-planning pins what has started by
its own clock (``routing.reoptimize.pin_progress``).

Role: conversion helpers of the dispatch service (no SQL: queries go through the
repository); never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from meterops.dispatch.problem import (
    CrewDay,
    OrderInput,
    seconds_from,
    stock_token,
    stops_from_orders,
    technician_from_crew,
)
from meterops.dispatch.repository import DayPlanRepository
from meterops.models import DayPlan, DayPlanActivity, DayPlanOrder, DayPlanRoute, WorkOrder
from meterops.routing import (
    LeaveOutReason,
    LeftOut,
    Route,
    RoutePlan,
    RoutingProblem,
    TakenBreak,
    TravelTimeSource,
    Visit,
    build_problem,
    plan_kpis,
)
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import ORDER_TYPES, stock_items

__all__ = [
    "STOCK_REASON",
    "LoadedDay",
    "crew_from_route",
    "kpis_of",
    "load_day",
    "order_input",
    "problem_for",
    "store_day",
]

STOCK_REASON = "truck_stock_short"
"""Left-out reason of stops taken off a route because the truck runs out of an item."""

_AFTER_PLANNING = frozenset(
    {
        WorkOrderStatus.SCHEDULED,
        WorkOrderStatus.ASSIGNED,
        WorkOrderStatus.EN_ROUTE,
        WorkOrderStatus.ON_SITE,
        WorkOrderStatus.COMPLETED,
        WorkOrderStatus.UNABLE_TO_COMPLETE,
    }
)


@dataclass(slots=True)
class LoadedDay:
    """A stored plan as routing values.

    Attributes:
        row: The plan row.
        crews: Technicians' days.
        technician_ids: Employee number → technician id.
        orders: Orders by stop key (those still belonging to the day).
        inputs: The orders as planner inputs.
        problem: The rebuilt problem.
        plan: The stored plan (unpinned).
        reasons: Stop key → (reason, detail) of stops left out for reasons routing does not
            know (truck stock).
    """

    row: DayPlan
    crews: list[CrewDay]
    technician_ids: dict[str, int]
    orders: dict[str, list[WorkOrder]]
    inputs: list[OrderInput]
    problem: RoutingProblem
    plan: RoutePlan
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)


def order_input(
    order: WorkOrder,
    *,
    stop_key: str,
    day_start_utc: dt.datetime,
    day_end_utc: dt.datetime,
    fixed_to: str | None,
) -> OrderInput:
    """An order as the planner sees it on a day."""
    appointment = None
    if order.appointment_start_utc is not None and order.appointment_end_utc is not None:
        appointment = (
            seconds_from(day_start_utc, order.appointment_start_utc),
            seconds_from(day_start_utc, order.appointment_end_utc),
        )
    due = None
    if order.due_at_utc is not None and order.due_at_utc < day_end_utc:
        due = seconds_from(day_start_utc, order.due_at_utc)
    spec = ORDER_TYPES[order.order_type]
    return OrderInput(
        order_number=order.order_number,
        stop_key=stop_key,
        latitude=order.latitude,
        longitude=order.longitude,
        duration_s=order.duration_min * 60.0,
        skills=frozenset({order.required_skill, *(f"cert:{c}" for c in order.certifications)}),
        stock_items=stock_items(spec, meter_form=order.meter_form),
        priority=order.priority,
        appointment_s=appointment,
        due_s=due,
        technician_id=fixed_to,
    )


def crew_from_route(row: DayPlanRoute, employee_number: str) -> CrewDay:
    """A technician's day as stored in a plan."""
    break_s = None
    if row.break_earliest_s is not None and row.break_latest_s is not None:
        break_s = (row.break_earliest_s, row.break_latest_s, row.break_duration_s or 0.0)
    return CrewDay(
        technician_id=employee_number,
        start=(row.start_latitude, row.start_longitude),
        end=(row.end_latitude, row.end_longitude),
        shift_start_s=row.shift_start_s,
        shift_end_s=row.shift_end_s,
        skills=frozenset(row.skills),
        break_s=break_s,
        max_stops=row.max_stops,
        stock=None if row.stock is None else {k: int(v) for k, v in row.stock.items()},
    )


def problem_for(
    crews: Sequence[CrewDay],
    inputs: Sequence[OrderInput],
    travel: TravelTimeSource,
    *,
    more_items: Sequence[str] = (),
) -> RoutingProblem:
    """The routing problem of a day.

    ``more_items`` are stock items of orders to be added later (technicians whose stock is
    not tracked get those stock skills too).
    """
    stops = stops_from_orders(inputs)
    items = {i for o in inputs for i in o.stock_items} | set(more_items)
    needed = frozenset(stock_token(i) for i in items)
    technicians = [technician_from_crew(c, stock_skills=needed) for c in crews]
    return build_problem(stops=stops, technicians=technicians, travel=travel)


def _belongs(order: WorkOrder, day: dt.date) -> bool:
    if order.status is WorkOrderStatus.CREATED:
        return True
    return order.status in _AFTER_PLANNING and order.scheduled_date == day


def load_day(
    session: Session,
    row: DayPlan,
    *,
    travel: TravelTimeSource,
    day_end_utc: dt.datetime,
    more_items: Sequence[str] = (),
) -> LoadedDay:
    """A stored plan with its problem rebuilt from the orders as they are now."""
    repository = DayPlanRepository(session)
    routes = repository.routes(row.id)
    people = repository.technicians([r.technician_id for r in routes])
    technician_ids = {people[r.technician_id].employee_number: r.technician_id for r in routes}
    crews = [crew_from_route(r, people[r.technician_id].employee_number) for r in routes]
    links = repository.plan_orders(row.id)
    all_orders = repository.orders([link.work_order_id for link in links])
    codes = {r.technician_id: people[r.technician_id].employee_number for r in routes}
    orders: dict[str, list[WorkOrder]] = {}
    inputs: list[OrderInput] = []
    reasons: dict[str, tuple[str, str]] = {}
    for link in links:
        order = all_orders[link.work_order_id]
        if not _belongs(order, row.plan_date):
            continue
        fixed = codes.get(order.technician_id or -1) if order.fixed_technician else None
        orders.setdefault(link.stop_key, []).append(order)
        inputs.append(
            order_input(
                order,
                stop_key=link.stop_key,
                day_start_utc=row.day_start_utc,
                day_end_utc=day_end_utc,
                fixed_to=fixed,
            )
        )
        if link.left_out_reason is not None:
            reasons[link.stop_key] = (link.left_out_reason, link.left_out_detail or "")
    problem = problem_for(crews, inputs, travel, more_items=more_items)
    activities = repository.activities([r.id for r in routes])
    plan_routes: list[Route] = []
    for route_row in routes:
        steps = activities[route_row.id]
        if not steps or route_row.departure_s is None or route_row.return_s is None:
            continue
        code = codes[route_row.technician_id]
        t = problem.technician_index(code)
        previous = problem.start_locations[t]
        kept: list[Visit | TakenBreak] = []
        for step in steps:
            if step.stop_key is not None:
                if not problem.has_order(step.stop_key):
                    continue
                previous = problem.stop_locations[problem.stop_index(step.stop_key)]
                kept.append(
                    Visit(
                        step.stop_key,
                        previous,
                        step.arrival_s,
                        step.start_s,
                        step.end_s,
                        step.wait_s,
                        step.travel_s,
                        step.distance_m,
                    )
                )
            elif step.break_index is not None:
                kept.append(TakenBreak(step.break_index, previous, step.start_s, step.end_s))
        plan_routes.append(
            Route(
                code,
                route_row.departure_s,
                route_row.return_s,
                tuple(kept),
                route_row.drive_s,
                route_row.distance_m,
            )
        )
    served = {v.order_id for r in plan_routes for v in r.visits}
    left = [
        LeftOut(key, _routing_reason(reasons.get(key, ("", ""))[0]), reasons.get(key, ("", ""))[1])
        for key in orders
        if key not in served
    ]
    plan = RoutePlan(routes=tuple(plan_routes), left_out=tuple(left))
    return LoadedDay(row, crews, technician_ids, orders, inputs, problem, plan, reasons)


def _routing_reason(reason: str) -> LeaveOutReason:
    try:
        return LeaveOutReason(reason)
    except ValueError:
        return LeaveOutReason.NOT_WORTH_SERVING


def kpis_of(
    problem: RoutingProblem,
    plan: RoutePlan,
    extra: Mapping[str, tuple[str, str]],
    members: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The plan's figures as stored on the plan row (reasons routing does not know added).

    Routing counts stops (a bundle is one stop); ``members`` (stop key → number of work
    orders in it) adds the counts of work orders, ``work_orders`` and ``work_orders_served``.
    """
    figures = asdict(plan_kpis(problem, plan))
    sizes = members or {}
    served = plan.served_order_ids()
    figures["work_orders"] = sum(sizes.get(s.order_id, 1) for s in problem.stops)
    figures["work_orders_served"] = sum(sizes.get(key, 1) for key in served)
    by_reason: dict[str, int] = {}
    for left in plan.left_out:
        reason = extra.get(left.order_id, (left.reason.value, ""))[0]
        by_reason[reason] = by_reason.get(reason, 0) + 1
    figures["left_out_by_reason"] = dict(sorted(by_reason.items()))
    return figures


def _activity_row(route_id: int, position: int, activity: Visit | TakenBreak) -> dict[str, Any]:
    """Column values of one activity row (inserted in bulk, without ORM objects)."""
    if isinstance(activity, Visit):
        return {
            "route_id": route_id,
            "position": position,
            "stop_key": activity.order_id,
            "break_index": None,
            "arrival_s": activity.arrival_s,
            "start_s": activity.start_s,
            "end_s": activity.end_s,
            "wait_s": activity.wait_s,
            "travel_s": activity.travel_s,
            "distance_m": activity.distance_m,
        }
    return {
        "route_id": route_id,
        "position": position,
        "stop_key": None,
        "break_index": activity.break_index,
        "arrival_s": activity.start_s,
        "start_s": activity.start_s,
        "end_s": activity.end_s,
        "wait_s": 0.0,
        "travel_s": 0.0,
        "distance_m": 0.0,
    }


def store_day(
    session: Session,
    row: DayPlan,
    *,
    problem: RoutingProblem,
    plan: RoutePlan,
    crews: Sequence[CrewDay],
    technician_ids: Mapping[str, int],
    orders: Mapping[str, Sequence[WorkOrder]],
    extra: Mapping[str, tuple[str, str]],
) -> None:
    """Replace a plan row's routes, activities and order links with a routing plan."""
    repository = DayPlanRepository(session)
    repository.clear(row.id)
    by_technician = {route.technician_id: route for route in plan.routes}
    route_rows: list[tuple[DayPlanRoute, Route | None]] = []
    for crew in crews:
        route = by_technician.get(crew.technician_id)
        route_row = DayPlanRoute(
            day_plan_id=row.id,
            technician_id=technician_ids[crew.technician_id],
            shift_start_s=crew.shift_start_s,
            shift_end_s=crew.shift_end_s,
            start_latitude=crew.start[0],
            start_longitude=crew.start[1],
            end_latitude=crew.end[0],
            end_longitude=crew.end[1],
            skills=sorted(crew.skills),
            stock=None if crew.stock is None else dict(crew.stock),
            break_earliest_s=None if crew.break_s is None else crew.break_s[0],
            break_latest_s=None if crew.break_s is None else crew.break_s[1],
            break_duration_s=None if crew.break_s is None else crew.break_s[2],
            max_stops=crew.max_stops,
            departure_s=None if route is None else route.departure_s,
            return_s=None if route is None else route.return_s,
            drive_s=0.0 if route is None else route.drive_s,
            distance_m=0.0 if route is None else route.distance_m,
        )
        route_rows.append((route_row, route))
    # One flush for the routes' ids, then the activities and order links as two bulk inserts
    # (Core executemany: no ORM objects, which cost most of a change's time otherwise).
    session.add_all([route_row for route_row, _ in route_rows])
    session.flush()
    activities = [
        _activity_row(route_row.id, position, activity)
        for route_row, route in route_rows
        for position, activity in enumerate(route.activities if route else ())
    ]
    if activities:
        session.execute(insert(DayPlanActivity), activities)
    left = {o.order_id: o for o in plan.left_out}
    links: list[dict[str, Any]] = []
    for key, members in orders.items():
        reason = detail = None
        if key in left:
            reason, detail = extra.get(key, (left[key].reason.value, left[key].detail))
        links.extend(
            {
                "day_plan_id": row.id,
                "work_order_id": order.id,
                "stop_key": key,
                "left_out_reason": reason,
                "left_out_detail": (detail or "")[:500] if reason else None,
            }
            for order in members
        )
    if links:
        session.execute(insert(DayPlanOrder), links)
    row.kpis = kpis_of(problem, plan, extra, {key: len(m) for key, m in orders.items()})
    row.notes = list(plan.notes)
    session.flush()
