"""Changes to a day under way: reassign by hand, insert an emergency, cancel, send home.

Each change loads the stored plan, rebuilds its routing problem from the orders as they are
now and re-plans with :mod:`meterops.routing.reoptimize`, pinning what has started by
``now``: :func:`reassign_order` (the order stays with that technician in later re-plans),
:func:`insert_order` (an emergency such as a reconnect after payment) and
:func:`cancel_order` (the route closes the gap) and :func:`send_home` (a technician
leaves early: their work not started goes to the others). The result is checked against truck stock,
stored, and the orders' status and technician follow it.

Service module: ``session`` first, keyword-only options, audits every change, never commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from meterops.audit import service as audit_service
from meterops.dispatch import crews as crews_service
from meterops.dispatch.plans import LoadedDay, load_day, order_input, problem_for, store_day
from meterops.dispatch.problem import seconds_from
from meterops.dispatch.problem import stops_from_orders as _stops
from meterops.dispatch.repository import DayPlanRepository, TechnicianRepository
from meterops.dispatch.service import Planner, apply_plan, enforce_stock
from meterops.errors import ConflictError, InvalidInputError, NotFoundError
from meterops.models import DayPlan, WorkOrder
from meterops.routing import RoutePlan, RoutingProblem, Visit
from meterops.routing import reoptimize as routing_reoptimize
from meterops.routing.editing import without_stops
from meterops.routing.plan import LeaveOutReason
from meterops.routing.schedule import break_step, technician_states
from meterops.routing.solve import build_plan
from meterops.timeutil import local_day_bounds_utc
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import ORDER_TYPES, stock_items

__all__ = ["cancel_order", "insert_order", "reassign_order", "send_home"]

S = WorkOrderStatus
_MOVABLE = frozenset({S.CREATED, S.SCHEDULED, S.ASSIGNED})


def _open_day(
    session: Session,
    order: WorkOrder,
    *,
    day: dt.date,
    planner: Planner,
    now: dt.datetime,
    more_items: Sequence[str] = (),
) -> tuple[LoadedDay, float]:
    row = DayPlanRepository(session).plan(day, order.territory_id)
    if row is None:
        msg = f"No plan for {day} in the order's territory; optimise the day first."
        raise NotFoundError(msg, code="dispatch.no_plan")
    day_end = local_day_bounds_utc(day, planner.zone)[1]
    if now >= day_end:
        raise InvalidInputError(f"{day} is over; its plan no longer changes.", code="dispatch.past")
    loaded = load_day(
        session, row, travel=planner.travel, day_end_utc=day_end, more_items=more_items
    )
    return loaded, seconds_from(row.day_start_utc, now)


def _key_of(loaded: LoadedDay, order: WorkOrder) -> str | None:
    for key, members in loaded.orders.items():
        if any(m.id == order.id for m in members):
            return key
    return None


def _commit(
    session: Session,
    loaded: LoadedDay,
    problem: RoutingProblem,
    plan: RoutePlan,
    *,
    actor: str,
    now: dt.datetime,
    what: str,
    by_hand: frozenset[str] = frozenset(),
) -> DayPlan:
    plan, extra = enforce_stock(problem, plan, loaded.inputs, loaded.crews)
    still_left = {o.order_id for o in plan.left_out if o.reason is LeaveOutReason.NOT_WORTH_SERVING}
    kept = {k: v for k, v in loaded.reasons.items() if k in still_left}
    row = loaded.row
    row.revision += 1
    store_day(
        session,
        row,
        problem=problem,
        plan=plan,
        crews=loaded.crews,
        technician_ids=loaded.technician_ids,
        orders=loaded.orders,
        extra={**kept, **extra},
    )
    apply_plan(
        session,
        row,
        plan,
        loaded.orders,
        loaded.technician_ids,
        actor=actor,
        now=now,
        by_hand=by_hand,
    )
    territory = TechnicianRepository(session).territory_code(row.territory_id)
    audit_service.record(
        session,
        actor=actor,
        action="dayplan.change",
        entity_type="day_plan",
        entity_id=f"{territory}:{row.plan_date.isoformat()}",
        reason=what,
        data={"revision": row.revision, "kpis": row.kpis},
        now=now,
    )
    return row


def _new_stop(loaded: LoadedDay, order: WorkOrder, *, fixed_to: str | None) -> str:
    key = order.order_number if loaded.problem.has_order(order.stop_key) else order.stop_key
    row = loaded.row
    day_end = row.day_start_utc + dt.timedelta(days=1, hours=1)
    loaded.inputs.append(
        order_input(
            order,
            stop_key=key,
            day_start_utc=row.day_start_utc,
            day_end_utc=day_end,
            fixed_to=fixed_to,
        )
    )
    loaded.orders[key] = [order]
    return key


def reassign_order(
    session: Session,
    order_number: str,
    *,
    technician: str,
    planner: Planner,
    actor: str,
    now: dt.datetime,
    day: dt.date | None = None,
) -> DayPlan:
    """Give an order to a technician by hand and re-plan (``routing.reoptimize``).

    The order (with its bundle) stays with that technician in later re-plans.

    Raises:
        ConflictError: The order is under way or done, the technician does not work the
            day, or they have no feasible place for it (nothing changes then).
        InvalidInputError: The order is not scheduled and no date was given.
    """
    order = workorders_service.get_order(session, order_number)
    if order.status not in _MOVABLE:
        msg = f"Work order {order.order_number} is '{order.status.value}' and cannot move."
        raise ConflictError(msg, code="dispatch.order_under_way")
    day = order.scheduled_date or day
    if day is None:
        raise InvalidInputError(
            f"Work order {order.order_number} is not scheduled; give the plan date.",
            code="dispatch.date_needed",
        )
    items = stock_items(ORDER_TYPES[order.order_type], meter_form=order.meter_form)
    loaded, now_s = _open_day(session, order, day=day, planner=planner, now=now, more_items=items)
    if not loaded.problem.has_technician(technician):
        msg = f"Technician {technician} does not work on {day} in this plan."
        raise ConflictError(msg, code="dispatch.technician_not_working")
    key = _key_of(loaded, order)
    if key is not None:
        replan = routing_reoptimize.move_order(
            loaded.problem,
            loaded.plan,
            order_id=key,
            technician_id=technician,
            now_s=now_s,
            seed=planner.seed,
            params=planner.replan,
        )
    else:
        key = _new_stop(loaded, order, fixed_to=technician)
        stop = _stops([loaded.inputs[-1]])[0]
        replan = routing_reoptimize.insert_order(
            loaded.problem,
            loaded.plan,
            stop=stop,
            now_s=now_s,
            travel=planner.travel,
            seed=planner.seed,
            params=planner.replan,
        )
        if key not in replan.plan.served_order_ids():
            msg = (
                f"Technician {technician} cannot take order {order.order_number}: no feasible "
                "place on their route (skills, window, shift or breaks)."
            )
            raise ConflictError(msg, code="routing.move_infeasible")
    for member in loaded.orders[key]:
        member.fixed_technician = True
    return _commit(
        session,
        loaded,
        replan.problem,
        replan.plan,
        actor=actor,
        now=now,
        what=f"{order.order_number} to {technician} by hand",
        by_hand=frozenset({key}),
    )


def insert_order(
    session: Session,
    order_number: str,
    *,
    day: dt.date,
    planner: Planner,
    actor: str,
    now: dt.datetime,
) -> tuple[DayPlan, bool]:
    """Insert a waiting order (an emergency reconnect) into a day under way.

    Returns:
        The plan and whether the order got a place (else it is left out, with the reason).

    Raises:
        ConflictError: The order is not waiting (created).
    """
    order = workorders_service.get_order(session, order_number)
    if order.status is not S.CREATED:
        msg = (
            f"Work order {order.order_number} is '{order.status.value}'; only waiting orders "
            "are inserted."
        )
        raise ConflictError(msg, code="dispatch.not_waiting")
    items = stock_items(ORDER_TYPES[order.order_type], meter_form=order.meter_form)
    loaded, now_s = _open_day(session, order, day=day, planner=planner, now=now, more_items=items)
    key = _key_of(loaded, order)
    if key is None:
        key = _new_stop(loaded, order, fixed_to=None)
        stop = _stops([loaded.inputs[-1]])[0]
        problem, plan = loaded.problem, loaded.plan
    else:  # left out of this plan before: offer it again as a new stop
        stop = loaded.problem.stops[loaded.problem.stop_index(key)]
        problem = without_stops(loaded.problem, [key])
        plan = RoutePlan(
            routes=loaded.plan.routes,
            left_out=tuple(o for o in loaded.plan.left_out if o.order_id != key),
        )
    replan = routing_reoptimize.insert_order(
        problem,
        plan,
        stop=stop,
        now_s=now_s,
        travel=planner.travel,
        seed=planner.seed,
        params=planner.replan,
    )
    row = _commit(
        session,
        loaded,
        replan.problem,
        replan.plan,
        actor=actor,
        now=now,
        what=f"insert {order.order_number}",
    )
    return row, key in replan.plan.served_order_ids()


def cancel_order(
    session: Session,
    order_number: str,
    *,
    reason: str,
    planner: Planner,
    actor: str,
    now: dt.datetime,
    evidence: dict[str, object] | None = None,
) -> WorkOrder:
    """Cancel an order with a reason; when it is on a route, re-plan that route.

    Raises:
        ReasonRequiredError: No reason.
        IllegalTransitionError: The order is done (completed, verified, closed) or cancelled.
    """
    order = workorders_service.get_order(session, order_number)
    data = dict(evidence or {})
    on_route = order.status in (S.SCHEDULED, S.ASSIGNED, S.EN_ROUTE) and order.scheduled_date
    if not on_route:
        workorders_service.move(
            session, order, S.CANCELLED, actor=actor, now=now, reason=reason, data=data
        )
        return order
    day = order.scheduled_date
    assert day is not None
    loaded, now_s = _open_day(session, order, day=day, planner=planner, now=now)
    key = _key_of(loaded, order)
    workorders_service.move(
        session, order, S.CANCELLED, actor=actor, now=now, reason=reason, data=data
    )
    if key is None:
        return order
    members = [m for m in loaded.orders[key] if m.id != order.id]
    if members:
        loaded.orders[key] = members
        loaded.inputs = [i for i in loaded.inputs if i.order_number != order.order_number]
        problem = problem_for(loaded.crews, loaded.inputs, planner.travel)
        replan_plan = _retime(problem, loaded.plan, now_s)
        _commit(
            session,
            loaded,
            replan_plan[0],
            replan_plan[1],
            actor=actor,
            now=now,
            what=f"cancel {order.order_number}",
        )
        return order
    del loaded.orders[key]
    replan = routing_reoptimize.cancel_order(
        loaded.problem,
        loaded.plan,
        order_id=key,
        now_s=now_s,
        seed=planner.seed,
        params=planner.replan,
    )
    _commit(
        session,
        loaded,
        replan.problem,
        replan.plan,
        actor=actor,
        now=now,
        what=f"cancel {order.order_number}",
    )
    return order


def _retime(
    problem: RoutingProblem, plan: RoutePlan, now_s: float
) -> tuple[RoutingProblem, RoutePlan]:
    """Time the stored routes again on a changed problem (a bundle lost an order)."""
    pinned = routing_reoptimize.pin_progress(problem, plan, now_s=now_s)
    done = {p.order_id for p in pinned.pinned_visits}
    states = technician_states(pinned)
    steps: dict[int, list[int]] = {}
    for route in plan.routes:
        own: list[int] = []
        for activity in route.activities:
            if isinstance(activity, Visit):
                if activity.order_id not in done and pinned.has_order(activity.order_id):
                    own.append(pinned.stop_index(activity.order_id))
            elif activity.start_s >= now_s:
                own.append(break_step(activity.break_index))
        steps[pinned.technician_index(route.technician_id)] = own
    hard = [o for o in plan.left_out if o.reason is not LeaveOutReason.NOT_WORTH_SERVING]
    known = {o.order_id for o in hard} | done
    planned = [i for i, s in enumerate(pinned.stops) if s.order_id not in known]
    return pinned, build_plan(
        pinned, states, steps, planned=planned, left_out=hard, border_repair=False
    )


def send_home(
    session: Session,
    employee_number: str,
    *,
    day: dt.date,
    reason: str,
    planner: Planner,
    actor: str,
    now: dt.datetime,
) -> DayPlan:
    """A technician goes home early: their stops not started go to the others.

    Visits that have started (by ``now``) stay with them; they take no new work for the rest
    of the day (their stored day is cut to the stops they made) and owe no break they have
    not started. Orders a dispatcher had given them by hand are freed. Stops nobody can take
    are left out with the reason and go back to waiting.

    Raises:
        NotFoundError: No such technician, or no plan for the day in their territory.
        ConflictError: They do not work that day in the plan.
        InvalidInputError: No reason, or the day is over.
    """
    if not reason.strip():
        raise InvalidInputError("say why the technician goes home", code="dispatch.reason_needed")
    technician = crews_service.get_technician(session, employee_number)
    row = DayPlanRepository(session).plan(day, technician.territory_id)
    if row is None:
        msg = f"No plan for {day} in {employee_number}'s territory; nothing to change."
        raise NotFoundError(msg, code="dispatch.no_plan")
    day_end = local_day_bounds_utc(day, planner.zone)[1]
    if now >= day_end:
        raise InvalidInputError(f"{day} is over; its plan no longer changes.", code="dispatch.past")
    for order in DayPlanRepository(session).fixed_orders(technician.id, day):
        if order.status in _MOVABLE:
            order.fixed_technician = False
    session.flush()
    loaded = load_day(session, row, travel=planner.travel, day_end_utc=day_end)
    if not loaded.problem.has_technician(employee_number):
        msg = f"Technician {employee_number} does not work on {day} in this plan."
        raise ConflictError(msg, code="dispatch.technician_not_working")
    replan = routing_reoptimize.remove_technician(
        loaded.problem,
        loaded.plan,
        technician_id=employee_number,
        now_s=seconds_from(row.day_start_utc, now),
        seed=planner.seed,
        params=planner.replan,
    )
    kept = replan.problem.technicians[replan.problem.technician_index(employee_number)]
    loaded.crews = [
        dataclasses.replace(
            crew,
            max_stops=kept.max_stops if kept.max_stops is not None else crew.max_stops,
            break_s=crew.break_s if kept.breaks else None,
        )
        if crew.technician_id == employee_number
        else crew
        for crew in loaded.crews
    ]
    return _commit(
        session,
        loaded,
        replan.problem,
        replan.plan,
        actor=actor,
        now=now,
        what=f"{employee_number} went home: {reason}"[:500],
    )
