"""Plan a territory's day, dispatch it, and change it during the day.

:func:`plan_day` builds the routing problem from the waiting orders and the technicians who
work the day, solves it (:func:`meterops.routing.solve`), takes stops off routes whose truck
would run out of an item, stores the plan and moves orders to ``scheduled`` (or back to
``created`` when a re-plan leaves them out). :func:`dispatch_day` gives the technicians their
routes (orders ``assigned``). Changes during the day are :mod:`meterops.dispatch.changes`.

Service module: ``session`` first, keyword-only options, audits every change, never commits.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterops.audit import service as audit_service
from meterops.dispatch.crews import WEEKDAYS, crews_for
from meterops.dispatch.plans import (
    STOCK_REASON,
    order_input,
    problem_for,
    store_day,
)
from meterops.dispatch.problem import BreakRule, CrewDay, OrderInput, seconds_from, stock_excess
from meterops.dispatch.repository import DayPlanRepository, TechnicianRepository
from meterops.errors import ConflictError, InvalidInputError, NotFoundError
from meterops.models import DayPlan, Territory, WorkOrder
from meterops.models.workorders import DayPlanStatus
from meterops.routing import LeftOut, RoutePlan, RoutingProblem, StoppingCriterion, Visit, solve
from meterops.routing.plan import LeaveOutReason
from meterops.routing.reoptimize import ReplanParams
from meterops.routing.schedule import break_step, technician_states
from meterops.routing.solve import build_plan
from meterops.routing.travel import TravelTimeSource
from meterops.timeutil import local_day_bounds_utc
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.repository import WorkOrderRepository
from meterops.workorders.types import ORDER_TYPES

__all__ = [
    "Planner",
    "apply_plan",
    "dispatch_day",
    "enforce_stock",
    "orders_to_ping",
    "plan_day",
    "plan_rows",
    "territory_of",
]

S = WorkOrderStatus
_MOVABLE = frozenset({S.CREATED, S.SCHEDULED, S.ASSIGNED})


@dataclass(frozen=True, slots=True)
class Planner:
    """How to plan (built from settings by the adapters).

    Attributes:
        travel: Where travel times come from.
        utility_timezone: IANA zone of the territory (shifts are local times).
        stop: When a full solve stops (an unstarted criterion).
        seed: Random seed of every solve and change.
        break_rule: Where breaks fall in a shift.
        workdays: Usual working days (Monday = 0).
        replan: How far a change during the day looks around itself.
    """

    travel: TravelTimeSource
    utility_timezone: str
    stop: StoppingCriterion
    seed: int = 0
    break_rule: BreakRule = field(default_factory=BreakRule)
    workdays: frozenset[int] = WEEKDAYS
    replan: ReplanParams = field(default_factory=ReplanParams)

    @property
    def zone(self) -> ZoneInfo:
        """The utility's zone."""
        return ZoneInfo(self.utility_timezone)


def territory_of(session: Session, code: str) -> Territory:
    """A territory by code.

    Raises:
        NotFoundError: No such territory.
    """
    territory = TechnicianRepository(session).territory(code)
    if territory is None:
        raise NotFoundError(f"No territory '{code}'.", code="territory.not_found")
    return territory


def _territories(session: Session, code: str | None) -> list[Territory]:
    if code is not None:
        return [territory_of(session, code)]
    return list(TechnicianRepository(session).territories_with_technicians())


def plan_rows(session: Session, *, day: dt.date, territory_code: str | None) -> list[DayPlan]:
    """The stored plans of a day (one territory's, or all)."""
    repository = DayPlanRepository(session)
    if territory_code is None:
        return list(repository.plans_on(day))
    row = repository.plan(day, territory_of(session, territory_code).id)
    return [] if row is None else [row]


def _left_out_all(
    stops: Sequence[str], reason: str
) -> tuple[RoutePlan, dict[str, tuple[str, str]]]:
    plan = RoutePlan(
        routes=(),
        left_out=tuple(LeftOut(key, LeaveOutReason.NOT_WORTH_SERVING, reason) for key in stops),
    )
    return plan, dict.fromkeys(stops, ("no_technician_available", reason))


def _stock_detail(technician: str, item: str, carried: int, needed: int) -> str:
    return f"{technician}'s truck carries {carried} × {item}; the route needed {needed}"


def enforce_stock(
    problem: RoutingProblem,
    plan: RoutePlan,
    inputs: Sequence[OrderInput],
    crews: Sequence[CrewDay],
) -> tuple[RoutePlan, dict[str, tuple[str, str]]]:
    """Take stops off routes whose truck runs out of an item; their left-out reasons."""
    excess = stock_excess(plan, inputs, crews)
    if not excess:
        return plan, {}
    drop = {key for e in excess for key in e.stop_keys}
    states = technician_states(problem)
    steps: dict[int, list[int]] = {}
    for route in plan.routes:
        own: list[int] = []
        for activity in route.activities:
            if activity.pinned:
                continue
            if isinstance(activity, Visit):
                if activity.order_id not in drop:
                    own.append(problem.stop_index(activity.order_id))
            else:
                own.append(break_step(activity.break_index))
        steps[problem.technician_index(route.technician_id)] = own
    pinned = {p.order_id for p in problem.pinned_visits}
    hard = [o for o in plan.left_out if o.reason is not LeaveOutReason.NOT_WORTH_SERVING]
    known = {o.order_id for o in hard} | pinned
    planned = [i for i, stop in enumerate(problem.stops) if stop.order_id not in known]
    trimmed = build_plan(
        problem,
        states,
        steps,
        planned=planned,
        left_out=hard,
        solver_seconds=plan.solver_seconds,
        notes=plan.notes,
        border_repair=False,
    )
    reasons = {
        key: (STOCK_REASON, _stock_detail(e.technician_id, e.item, e.carried, e.needed))
        for e in excess
        for key in e.stop_keys
    }
    return trimmed, reasons


def apply_plan(
    session: Session,
    row: DayPlan,
    plan: RoutePlan,
    orders: Mapping[str, Sequence[WorkOrder]],
    technician_ids: Mapping[str, int],
    *,
    actor: str,
    now: dt.datetime,
    by_hand: frozenset[str] = frozenset(),
) -> None:
    """Bring the orders' status and technician in line with a stored plan."""
    served = {v.order_id: r.technician_id for r in plan.routes for v in r.visits}
    reasons = {o.order_id: o.detail or o.reason.value for o in plan.left_out}
    dispatched = row.status is DayPlanStatus.DISPATCHED
    reassigned: list[audit_service.Entry] = []
    for key, members in orders.items():
        code = served.get(key)
        for order in members:
            if code is None:
                if order.status in (S.SCHEDULED, S.ASSIGNED):
                    reason = f"left out of the plan of {row.plan_date}: {reasons.get(key, '')}"
                    workorders_service.move(
                        session, order, S.CREATED, actor=actor, now=now, reason=reason[:500]
                    )
                continue
            technician_id = technician_ids[code]
            if order.status is S.CREATED:
                order.technician_id = technician_id
                order.scheduled_date = row.plan_date
                workorders_service.move(
                    session,
                    order,
                    S.SCHEDULED,
                    actor=actor,
                    now=now,
                    data={"technician": code, "date": row.plan_date.isoformat()},
                )
                if dispatched:
                    workorders_service.move(session, order, S.ASSIGNED, actor=actor, now=now)
            elif order.technician_id != technician_id or key in by_hand:
                reassigned.append(
                    audit_service.Entry(
                        action="workorder.reassign",
                        entity_type="work_order",
                        entity_id=order.order_number,
                        reason="by hand" if key in by_hand else "re-planned",
                        data={"from_technician_id": order.technician_id, "to": code},
                    )
                )
                order.technician_id = technician_id
    # One chained bulk insert: a re-plan during the day can move dozens of orders.
    audit_service.record_many(session, reassigned, actor=actor, now=now)


def _group(orders: Sequence[WorkOrder]) -> dict[str, list[WorkOrder]]:
    grouped: dict[str, list[WorkOrder]] = {}
    for order in orders:
        grouped.setdefault(order.stop_key, []).append(order)
    return grouped


def _plan_territory(
    session: Session,
    territory: Territory,
    *,
    day: dt.date,
    planner: Planner,
    actor: str,
    now: dt.datetime,
) -> DayPlan:
    zone = planner.zone
    day_start, day_end = local_day_bounds_utc(day, zone)
    if now >= day_end:
        raise InvalidInputError(f"{day} is over; plan today or a later day.", code="dispatch.past")
    repository = DayPlanRepository(session)
    row = repository.plan(day, territory.id)
    if row is not None and row.status is DayPlanStatus.DISPATCHED:
        msg = (
            f"The plan of {territory.code} on {day} is dispatched: the technicians have their "
            "routes. Change it by reassigning, inserting or cancelling orders."
        )
        raise ConflictError(msg, code="dispatch.already_dispatched")
    earliest = None
    if day_start <= now:
        earliest = math.ceil(seconds_from(day_start, now) / 60) * 60.0
    crews, ids = crews_for(
        session,
        territory_id=territory.id,
        day=day,
        day_start_utc=day_start,
        zone=zone,
        rule=planner.break_rule,
        workdays=planner.workdays,
        earliest_s=earliest,
    )
    working = {crew.technician_id: ids[crew.technician_id] for crew in crews}
    codes = {v: k for k, v in working.items()}
    orders = list(
        repository.plannable_orders(
            territory_id=territory.id, day=day, day_start=day_start, day_end=day_end
        )
    )
    grouped = _group(orders)
    inputs = [
        order_input(
            order,
            stop_key=order.stop_key,
            day_start_utc=day_start,
            day_end_utc=day_end,
            fixed_to=codes.get(order.technician_id or -1) if order.fixed_technician else None,
        )
        for order in orders
    ]
    problem = problem_for(crews, inputs, planner.travel)
    extra: dict[str, tuple[str, str]] = {}
    if not problem.stops:
        plan = RoutePlan(routes=(), left_out=())
    elif not crews:
        plan, extra = _left_out_all(list(grouped), f"no technician of {territory.code} works {day}")
    else:
        plan = solve(problem, stop=planner.stop, seed=planner.seed)
        plan, extra = enforce_stock(problem, plan, inputs, crews)
    if row is None:
        row = DayPlan(
            plan_date=day,
            territory_id=territory.id,
            day_start_utc=day_start,
            seed=planner.seed,
            revision=0,
            solver_seconds=0.0,
            kpis={},
            notes=[],
            planned_by=actor,
        )
        repository.add(row)
    row.revision += 1
    row.seed = planner.seed
    row.solver_seconds = plan.solver_seconds
    row.planned_by = actor
    store_day(
        session,
        row,
        problem=problem,
        plan=plan,
        crews=crews,
        technician_ids=working,
        orders=grouped,
        extra=extra,
    )
    apply_plan(session, row, plan, grouped, working, actor=actor, now=now)
    audit_service.record(
        session,
        actor=actor,
        action="dayplan.optimize",
        entity_type="day_plan",
        entity_id=f"{territory.code}:{day.isoformat()}",
        data={"revision": row.revision, "seed": planner.seed, "kpis": row.kpis},
        now=now,
    )
    return row


def plan_day(
    session: Session,
    *,
    day: dt.date,
    territory_code: str | None,
    planner: Planner,
    actor: str,
    now: dt.datetime,
) -> list[DayPlan]:
    """Optimise a day: one plan per territory (the given one, or all with technicians).

    Re-planning a draft starts from scratch with the day's waiting and scheduled orders;
    orders a dispatcher gave to a technician by hand stay with them (when they work the day).

    Raises:
        ConflictError: The day's plan is dispatched already.
        InvalidInputError: The day is over.
        NotFoundError: Unknown territory.
    """
    return [
        _plan_territory(session, territory, day=day, planner=planner, actor=actor, now=now)
        for territory in _territories(session, territory_code)
    ]


def dispatch_day(
    session: Session, *, day: dt.date, territory_code: str | None, actor: str, now: dt.datetime
) -> list[DayPlan]:
    """Give the technicians their routes: the day's scheduled orders become assigned.

    Raises:
        NotFoundError: There is no plan for the day.
    """
    rows = plan_rows(session, day=day, territory_code=territory_code)
    if not rows:
        raise NotFoundError(f"No plan for {day}; optimise the day first.", code="dispatch.no_plan")
    for row in rows:
        if row.status is DayPlanStatus.DISPATCHED:
            continue
        row.status = DayPlanStatus.DISPATCHED
        row.dispatched_at_utc = now
        repository = DayPlanRepository(session)
        links = repository.plan_orders(row.id)
        orders = repository.orders([link.work_order_id for link in links])
        for order in orders.values():
            if order.status is S.SCHEDULED and order.scheduled_date == day:
                workorders_service.move(session, order, S.ASSIGNED, actor=actor, now=now)
        territory = TechnicianRepository(session).territory_code(row.territory_id)
        audit_service.record(
            session,
            actor=actor,
            action="dayplan.dispatch",
            entity_type="day_plan",
            entity_id=f"{territory}:{day.isoformat()}",
            data={"revision": row.revision},
            now=now,
        )
    return rows


def orders_to_ping(
    session: Session, *, day: dt.date, morning: bool, territory_code: str | None
) -> list[tuple[WorkOrder, str]]:
    """Orders whose meter is pinged before a visit, with the meter's serial.

    Before planning: waiting orders of a type that exists because the meter does not
    communicate. On the morning of the visit: such orders scheduled or assigned for ``day``.
    """
    statuses = [S.SCHEDULED, S.ASSIGNED] if morning else [S.CREATED]
    types = [t for t, spec in ORDER_TYPES.items() if spec.cancel_when_meter_answers]
    territory_id = None if territory_code is None else territory_of(session, territory_code).id
    rows = WorkOrderRepository(session).rows(
        statuses=statuses,
        territory_id=territory_id,
        scheduled_date=day if morning else None,
        limit=100_000,
    )
    return [
        (row.order, row.meter_serial)
        for row in rows
        if row.order.order_type in types and row.meter_serial is not None
    ]
