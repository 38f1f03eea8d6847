"""Changes during the day: insert, cancel or move an order, send a technician home.

Every change starts by pinning what the field has already done (:func:`pin_progress`): visits
and breaks started before ``now_s`` stay where they are (completed, or in progress when they
end later), and each technician continues from where their pinned work ends. The change is
then applied to the current plan, not solved from scratch:

1. orders that need a place (the new order, the moved one, the departed technician's) go to
   their cheapest feasible position among the routes nearest to them
   (:func:`~meterops.routing.insertion.best_insertion`);
2. the changed routes and their nearest neighbours, with the orders left out near them, are
   searched again by PyVRP for a short budget, warm-started from the current routes; the
   result is kept only when it is cheaper.

On the benchmark day (60 technicians, 1,500 orders, at 11:00) an insert, cancel or move
answers in 70-150 ms and the changed plan costs no more than a 55 s re-solve of the changed
day from scratch (``benchmarks/bench_routing.py``): one change rarely affects more than a few
neighbouring routes, and two full solves of one day differ by about as much as a change does.

Pure module: standard library, numpy and other ``meterops.routing`` modules (the solver
through ``_pyvrp``); it must not import ``meterops.db``, ``models``, ``web``, ``cli`` or
``config``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from meterops.errors import ConflictError
from meterops.routing.editing import with_stops, without_stops
from meterops.routing.insertion import best_insertion, can_serve, repair_route, route_travel_cost
from meterops.routing.plan import LeaveOutReason, LeftOut, RoutePlan, TakenBreak, Visit
from meterops.routing.problem import (
    PinnedBreak,
    PinnedVisit,
    RoutingProblem,
    Stop,
    VisitStatus,
)
from meterops.routing.schedule import TechnicianState, break_step, technician_states
from meterops.routing.solve import build_plan, unservable
from meterops.routing.stop import MaxRuntime
from meterops.routing.travel import TravelTimeSource

__all__ = [
    "Replan",
    "ReplanParams",
    "cancel_order",
    "insert_order",
    "move_order",
    "pin_progress",
    "remove_technician",
]


@dataclass(frozen=True, slots=True)
class ReplanParams:
    """How far a change looks around itself.

    Attributes:
        neighbour_routes: Routes searched again besides the changed ones.
        search_s: Budget of the warm-started search; 0 skips it [s].
        retry_left_out: Orders left out earlier, nearest to the change, offered again.
    """

    neighbour_routes: int = 4
    search_s: float = 0.04
    retry_left_out: int = 10


@dataclass(frozen=True, slots=True)
class Replan:
    """The day after a change.

    Attributes:
        problem: The updated problem (progress pinned at ``now_s``, change applied).
        plan: The updated plan.
        changed_technicians: Technicians whose routes differ from before.
        seconds: Wall time of the change [s].
    """

    problem: RoutingProblem
    plan: RoutePlan
    changed_technicians: tuple[str, ...]
    seconds: float


def pin_progress(problem: RoutingProblem, plan: RoutePlan, *, now_s: float) -> RoutingProblem:
    """Pin every visit and break of the plan that has started by ``now_s``.

    Args:
        problem: The problem the plan answers.
        plan: The plan being executed.
        now_s: The current time [s from day start].

    Returns:
        The problem with the new pins and ``now_s``.

    Raises:
        ConflictError: ``now_s`` is earlier than the problem's re-planning instant.
    """
    if problem.now_s is not None and now_s < problem.now_s:
        raise ConflictError(
            f"cannot re-plan at {now_s:g} s: the day was already re-planned at {problem.now_s:g} s",
            code="routing.time_backwards",
        )
    visits = list(problem.pinned_visits)
    breaks = list(problem.pinned_breaks)
    pinned_orders = {p.order_id for p in visits}
    pinned_breaks = {(p.technician_id, p.break_index) for p in breaks}
    for route in plan.routes:
        for activity in route.activities:
            if activity.start_s >= now_s or activity.pinned:
                continue
            if isinstance(activity, Visit) and activity.order_id not in pinned_orders:
                status = (
                    VisitStatus.COMPLETED if activity.end_s <= now_s else VisitStatus.IN_PROGRESS
                )
                visits.append(
                    PinnedVisit(
                        order_id=activity.order_id,
                        technician_id=route.technician_id,
                        start_s=activity.start_s,
                        end_s=activity.end_s,
                        status=status,
                    )
                )
            elif isinstance(activity, TakenBreak):
                key = (route.technician_id, activity.break_index)
                if key not in pinned_breaks:
                    breaks.append(
                        PinnedBreak(
                            technician_id=route.technician_id,
                            break_index=activity.break_index,
                            start_s=activity.start_s,
                            location_index=activity.location_index,
                        )
                    )
    return problem.replace(pinned_visits=tuple(visits), pinned_breaks=tuple(breaks), now_s=now_s)


def _plan_steps(problem: RoutingProblem, plan: RoutePlan) -> dict[int, list[int]]:
    """Unpinned steps per technician index (orders no longer in the problem are skipped)."""
    pinned = {p.order_id for p in problem.pinned_visits}
    taken = {(p.technician_id, p.break_index) for p in problem.pinned_breaks}
    steps: dict[int, list[int]] = {}
    for route in plan.routes:
        if not problem.has_technician(route.technician_id):
            continue
        t = problem.technician_index(route.technician_id)
        open_breaks = len(problem.technicians[t].breaks)
        own: list[int] = []
        for activity in route.activities:
            if isinstance(activity, Visit):
                if activity.order_id not in pinned and problem.has_order(activity.order_id):
                    own.append(problem.stop_index(activity.order_id))
            elif (
                route.technician_id,
                activity.break_index,
            ) not in taken and activity.break_index < open_breaks:
                own.append(break_step(activity.break_index))
        steps[t] = own
    return steps


def _nearest_technicians(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    steps: Mapping[int, Sequence[int]],
    *,
    stops: Iterable[int],
    count: int,
    exclude: Iterable[int] = (),
) -> list[int]:
    """Technicians whose route (or position) comes nearest to any of the stops."""
    targets = np.array([problem.stop_locations[s] for s in stops], dtype=np.int64)
    skip = set(exclude)
    scored: list[tuple[float, int]] = []
    if targets.size == 0:
        return []
    for t, state in enumerate(states):
        if t in skip:
            continue
        places = [state.location_index] + [
            problem.stop_locations[s] for s in steps.get(t, ()) if s >= 0
        ]
        gap = problem.duration_s[np.ix_(np.array(places, dtype=np.int64), targets)]
        scored.append((float(gap.min()), t))
    scored.sort()
    return [t for _, t in scored[:count]]


def _cost(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    steps: Mapping[int, Sequence[int]],
    unserved: Iterable[int],
) -> float:
    travel = sum(route_travel_cost(problem, states[t], s) for t, s in steps.items())
    return travel + sum(problem.penalty(s) for s in unserved)


def _polish(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    steps: dict[int, list[int]],
    technicians: Sequence[int],
    extra_stops: Sequence[int],
    *,
    seconds: float,
    seed: int,
) -> dict[int, list[int]]:
    """Search some routes again, warm-started; keep the answer only when it is cheaper."""
    from meterops.routing import _pyvrp

    own = sorted({s for t in technicians for s in steps.get(t, ()) if s >= 0} | set(extra_stops))
    if not own or seconds <= 0:
        return steps
    translation = _pyvrp.translate(problem, states, technicians=technicians, stops=own)
    answer = _pyvrp.run_pyvrp(
        translation,
        problem,
        states,
        stop=MaxRuntime(seconds),
        seed=seed,
        warm_start={t: steps.get(t, []) for t in technicians},
    )
    candidate = dict(steps)
    for t in technicians:
        fixed, _ = repair_route(problem, states[t], answer.get(t, []))
        candidate[t] = fixed
    served_before = {s for t in technicians for s in steps.get(t, ()) if s >= 0}
    served_after = {s for t in technicians for s in candidate.get(t, ()) if s >= 0}
    before = _cost(
        problem, states, {t: steps.get(t, []) for t in technicians}, set(own) - served_before
    )
    after = _cost(problem, states, {t: candidate[t] for t in technicians}, set(own) - served_after)
    return candidate if after < before - 1e-9 else steps


def _replan(
    problem: RoutingProblem,
    plan: RoutePlan,
    *,
    pending: Sequence[int],
    touched: Iterable[int],
    params: ReplanParams,
    seed: int,
    started: float,
) -> Replan:
    states = technician_states(problem)
    steps = _plan_steps(problem, plan)
    for t in list(steps):
        fixed, dropped = repair_route(problem, states[t], steps[t])
        steps[t] = fixed
        pending = [*pending, *dropped]
    changed = set(touched)
    hard: dict[str, LeftOut] = {
        o.order_id: o
        for o in plan.left_out
        if problem.has_order(o.order_id) and o.reason is not LeaveOutReason.NOT_WORTH_SERVING
    }
    waiting: list[int] = []
    for s in pending:
        reason = unservable(problem, states, s)
        if reason is not None:
            hard[reason.order_id] = reason
            continue
        limit = math.inf if problem.stops[s].mandatory else problem.penalty(s)
        near = _nearest_technicians(
            problem, states, steps, stops=[s], count=params.neighbour_routes + 2
        )
        fixed_to = problem.stops[s].technician_id
        if fixed_to is not None:
            near = [problem.technician_index(fixed_to)]
        insertion = best_insertion(problem, states, steps, s, technicians=near, max_cost=limit)
        if insertion is None:
            everyone = [t for t in range(len(states)) if can_serve(problem, t, s)]
            insertion = best_insertion(
                problem, states, steps, s, technicians=everyone, max_cost=limit
            )
        if insertion is None:
            waiting.append(s)
            continue
        steps[insertion.technician_index] = list(insertion.steps)
        changed.add(insertion.technician_index)
    soft_left = [
        problem.stop_index(o.order_id)
        for o in plan.left_out
        if problem.has_order(o.order_id) and o.order_id not in hard
    ]
    if changed and params.search_s > 0:
        around = sorted(changed)
        around += _nearest_technicians(
            problem,
            states,
            steps,
            stops=[s for t in around for s in steps.get(t, ()) if s >= 0] or pending,
            count=params.neighbour_routes,
            exclude=around,
        )
        retry = _nearby(
            problem,
            candidates=soft_left,
            technicians=around,
            steps=steps,
            states=states,
            count=params.retry_left_out,
        )
        polished = _polish(
            problem,
            states,
            steps,
            around,
            [*waiting, *retry],
            seconds=params.search_s,
            seed=seed,
        )
        changed |= {t for t in around if polished.get(t) != steps.get(t)}
        steps = polished
    pinned = {p.order_id for p in problem.pinned_visits}
    planned = [
        s
        for s, stop in enumerate(problem.stops)
        if stop.order_id not in pinned and stop.order_id not in hard
    ]
    new_plan = build_plan(
        problem,
        states,
        steps,
        planned=planned,
        left_out=list(hard.values()),
        notes=(),
        border_repair=False,
    )
    new_plan = dataclasses.replace(new_plan, solver_seconds=time.perf_counter() - started)
    before = {r.technician_id: r for r in plan.routes}
    after = {r.technician_id: r for r in new_plan.routes}
    differs = tuple(
        sorted(
            who
            for who in set(before) | set(after)
            if _visit_ids(before.get(who)) != _visit_ids(after.get(who))
        )
    )
    return Replan(
        problem=problem,
        plan=new_plan,
        changed_technicians=differs,
        seconds=time.perf_counter() - started,
    )


def _visit_ids(route: object) -> tuple[str, ...]:
    visits = getattr(route, "visits", ())
    return tuple(v.order_id for v in visits)


def _nearby(
    problem: RoutingProblem,
    *,
    candidates: Sequence[int],
    technicians: Sequence[int],
    steps: Mapping[int, Sequence[int]],
    states: Sequence[TechnicianState],
    count: int,
) -> list[int]:
    """The candidate stops nearest to some technicians' routes."""
    if not candidates or count <= 0:
        return []
    places = np.array(
        [states[t].location_index for t in technicians]
        + [problem.stop_locations[s] for t in technicians for s in steps.get(t, ()) if s >= 0],
        dtype=np.int64,
    )
    targets = np.array([problem.stop_locations[s] for s in candidates], dtype=np.int64)
    gap = problem.duration_s[np.ix_(places, targets)].min(axis=0)
    order = np.argsort(gap, kind="stable")[:count]
    return [candidates[int(i)] for i in order]


def insert_order(
    problem: RoutingProblem,
    plan: RoutePlan,
    *,
    stop: Stop,
    now_s: float,
    travel: TravelTimeSource,
    seed: int,
    params: ReplanParams = ReplanParams(),
) -> Replan:
    """Add an order (e.g. an emergency reconnect) to the day.

    Args:
        problem: The problem the plan answers.
        plan: The current plan.
        stop: The new order.
        now_s: The current time [s from day start].
        travel: Travel source for the new location.
        seed: Random seed of the short search.
        params: Search scope.

    Returns:
        The updated day; the order is left out (with its reason) only when it cannot be
        served or is not worth its cost.
    """
    started = time.perf_counter()
    updated = with_stops(pin_progress(problem, plan, now_s=now_s), [stop], travel)
    new = updated.stop_index(stop.order_id)
    return _replan(
        updated, plan, pending=[new], touched=(), params=params, seed=seed, started=started
    )


def cancel_order(
    problem: RoutingProblem,
    plan: RoutePlan,
    *,
    order_id: str,
    now_s: float,
    seed: int,
    params: ReplanParams = ReplanParams(),
) -> Replan:
    """Remove an order that has not started; its route closes the gap.

    Raises:
        NotFoundError: The order is not in the problem.
        ConflictError: The order is completed or in progress.
    """
    started = time.perf_counter()
    pinned = pin_progress(problem, plan, now_s=now_s)
    holder = next(
        (r.technician_id for r in plan.routes for v in r.visits if v.order_id == order_id), None
    )
    updated = without_stops(pinned, [order_id])
    touched = [updated.technician_index(holder)] if holder is not None else []
    return _replan(
        updated, plan, pending=[], touched=touched, params=params, seed=seed, started=started
    )


def move_order(
    problem: RoutingProblem,
    plan: RoutePlan,
    *,
    order_id: str,
    technician_id: str,
    now_s: float,
    seed: int,
    params: ReplanParams = ReplanParams(),
) -> Replan:
    """Give an order to another technician (it becomes fixed to them).

    Raises:
        NotFoundError: The order or the technician is not in the problem.
        ConflictError: The order is completed or in progress, or the technician cannot fit
            it (nothing changes then).
    """
    started = time.perf_counter()
    pinned = pin_progress(problem, plan, now_s=now_s)
    target = pinned.technician_index(technician_id)
    index = pinned.stop_index(order_id)
    if any(p.order_id == order_id for p in pinned.pinned_visits):
        raise ConflictError(
            f"order {order_id} is completed or in progress and cannot move",
            code="routing.order_pinned",
            details={"order_id": order_id},
        )
    moved = dataclasses.replace(pinned.stops[index], technician_id=technician_id)
    stops = list(pinned.stops)
    stops[index] = moved
    updated = pinned.replace(stops=tuple(stops))
    holder = next(
        (r.technician_id for r in plan.routes for v in r.visits if v.order_id == order_id), None
    )
    source = [updated.technician_index(holder)] if holder is not None else []
    cleared = RoutePlan(
        routes=tuple(
            dataclasses.replace(
                r,
                activities=tuple(
                    a for a in r.activities if not (isinstance(a, Visit) and a.order_id == order_id)
                ),
            )
            for r in plan.routes
        ),
        left_out=tuple(o for o in plan.left_out if o.order_id != order_id),
    )
    replan = _replan(
        updated,
        cleared,
        pending=[index],
        touched=[target, *source],
        params=params,
        seed=seed,
        started=started,
    )
    if order_id not in replan.plan.served_order_ids():
        raise ConflictError(
            f"technician {technician_id} cannot take order {order_id}: no feasible place on "
            "their route (skills, window, shift or breaks)",
            code="routing.move_infeasible",
            details={"order_id": order_id, "technician_id": technician_id},
        )
    return replan


def remove_technician(
    problem: RoutingProblem,
    plan: RoutePlan,
    *,
    technician_id: str,
    now_s: float,
    seed: int,
    params: ReplanParams = ReplanParams(search_s=0.5),
) -> Replan:
    """A technician goes home: their work not started is spread over the others.

    Their completed and in-progress visits stay on them; they take no new work and owe no
    break they have not started.

    Raises:
        NotFoundError: The technician is not in the problem.
    """
    started = time.perf_counter()
    pinned = pin_progress(problem, plan, now_s=now_s)
    t = pinned.technician_index(technician_id)
    technician = pinned.technicians[t]
    taken = sorted(p.break_index for p in pinned.pinned_breaks if p.technician_id == technician_id)
    remap = {old: new for new, old in enumerate(taken)}
    done = sum(p.technician_id == technician_id for p in pinned.pinned_visits)
    gone = dataclasses.replace(
        technician, breaks=tuple(technician.breaks[k] for k in taken), max_stops=done
    )
    technicians = list(pinned.technicians)
    technicians[t] = gone
    breaks = tuple(
        dataclasses.replace(p, break_index=remap[p.break_index])
        if p.technician_id == technician_id
        else p
        for p in pinned.pinned_breaks
    )
    updated = pinned.replace(technicians=tuple(technicians), pinned_breaks=breaks)
    route = plan.route_of(technician_id)
    orphans = [
        updated.stop_index(v.order_id)
        for v in (route.visits if route else ())
        if not any(p.order_id == v.order_id for p in updated.pinned_visits)
    ]
    cleared = RoutePlan(
        routes=tuple(
            dataclasses.replace(
                r, activities=tuple(a for a in r.activities if a.pinned or a.start_s < now_s)
            )
            if r.technician_id == technician_id
            else r
            for r in plan.routes
        ),
        left_out=plan.left_out,
    )
    return _replan(
        updated,
        cleared,
        pending=orphans,
        touched=[t],
        params=params,
        seed=seed,
        started=started,
    )
