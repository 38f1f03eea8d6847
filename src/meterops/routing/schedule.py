"""Exact timing of one technician's route: the solver side's scheduler.

A route to plan is a list of *steps* after the technician's pinned prefix: a stop index
(``>= 0``) or a break (``-1 - break_index``). :func:`simulate` times the steps as early as
possible (waiting is allowed, the earliest window that is still open is used), a break being
taken where the technician is (at the previous step's location). :func:`place_breaks` finds
feasible break positions for a sequence of stops; :func:`to_route` turns timed steps into a
plan :class:`~meterops.routing.plan.Route`, pinned prefix first.

Waiting before a visit never hurts feasibility here, so the earliest-start schedule is
feasible whenever any schedule of the same sequence is; departure is then pushed as late as
the first visit allows, so the plan shows no waiting at the first stop.

The independent check of a plan is :mod:`meterops.routing.feasibility`, which shares no code
with this module. Pure module: standard library, numpy and other pure ``meterops.routing``
modules; it must not import ``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli``
or ``config``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from meterops.routing.plan import Route, TakenBreak, Visit
from meterops.routing.problem import EPSILON, Break, RoutingProblem, TimeWindow

__all__ = [
    "TechnicianState",
    "Timeline",
    "break_step",
    "is_break",
    "place_breaks",
    "simulate",
    "technician_states",
    "to_route",
]


def break_step(break_index: int) -> int:
    """The step encoding a technician's break."""
    return -1 - break_index


def is_break(step: int) -> bool:
    """Whether a step is a break."""
    return step < 0


@dataclass(frozen=True, slots=True)
class TechnicianState:
    """Where a technician stands when planning starts (after their pinned work).

    Attributes:
        technician_index: Index into the problem's technicians.
        location_index: Current location (start, or where the last pinned activity was).
        available_s: Earliest time a new activity may begin [s from day start].
        idle_from_s: When the pinned work ends (the shift start without pins) [s]; a
            technician with nothing more to do heads home then.
        pinned: Pinned visits and breaks, in time order.
        pinned_stops: Number of pinned visits.
        pinned_demand: Load taken by pinned visits [units].
        open_breaks: Indices of the technician's breaks not yet taken.
        first_departure_s: Departure of a route that already has pinned work, else ``None``.
    """

    technician_index: int
    location_index: int
    available_s: float
    idle_from_s: float
    pinned: tuple[Visit | TakenBreak, ...]
    pinned_stops: int
    pinned_demand: int
    open_breaks: tuple[int, ...]
    first_departure_s: float | None


def technician_states(problem: RoutingProblem) -> list[TechnicianState]:
    """The planning start state of every technician, pinned work taken into account."""
    visits: dict[str, list[Visit | TakenBreak]] = {t.technician_id: [] for t in problem.technicians}
    for pin in problem.pinned_visits:
        stop_index = problem.stop_index(pin.order_id)
        visits[pin.technician_id].append(
            Visit(
                order_id=pin.order_id,
                location_index=problem.stop_locations[stop_index],
                arrival_s=pin.start_s,
                start_s=pin.start_s,
                end_s=pin.end_s,
                wait_s=0.0,
                travel_s=0.0,
                distance_m=0.0,
                pinned=True,
            )
        )
    taken: dict[str, set[int]] = {t.technician_id: set() for t in problem.technicians}
    for pinned_break in problem.pinned_breaks:
        technician = problem.technicians[problem.technician_index(pinned_break.technician_id)]
        duration = technician.breaks[pinned_break.break_index].duration_s
        visits[pinned_break.technician_id].append(
            TakenBreak(
                break_index=pinned_break.break_index,
                location_index=pinned_break.location_index,
                start_s=pinned_break.start_s,
                end_s=pinned_break.start_s + duration,
                pinned=True,
            )
        )
        taken[pinned_break.technician_id].add(pinned_break.break_index)
    states = []
    for index, technician in enumerate(problem.technicians):
        pinned = sorted(visits[technician.technician_id], key=lambda a: a.start_s)
        # Fill in the travel leading to each pinned visit, for the plan's drive totals.
        previous = problem.start_locations[index]
        filled: list[Visit | TakenBreak] = []
        for activity in pinned:
            kept = activity
            if isinstance(activity, Visit):
                kept = Visit(
                    order_id=activity.order_id,
                    location_index=activity.location_index,
                    arrival_s=activity.start_s,
                    start_s=activity.start_s,
                    end_s=activity.end_s,
                    wait_s=0.0,
                    travel_s=float(problem.duration_s[previous, activity.location_index]),
                    distance_m=float(problem.distance_m[previous, activity.location_index]),
                    pinned=True,
                )
            filled.append(kept)
            previous = activity.location_index
        idle_from = max((a.end_s for a in filled), default=technician.shift_start_s)
        available = max(technician.shift_start_s, idle_from)
        if problem.now_s is not None:
            available = max(available, problem.now_s)
        first_departure = None
        if filled:
            first = filled[0]
            lead = problem.duration_s[problem.start_locations[index], first.location_index]
            first_departure = max(technician.shift_start_s, first.start_s - float(lead))
            first_departure = min(first_departure, first.start_s)
        pinned_visits = [a for a in filled if isinstance(a, Visit)]
        states.append(
            TechnicianState(
                technician_index=index,
                location_index=previous,
                available_s=available,
                idle_from_s=idle_from,
                pinned=tuple(filled),
                pinned_stops=len(pinned_visits),
                pinned_demand=sum(
                    problem.stops[problem.stop_index(v.order_id)].demand for v in pinned_visits
                ),
                open_breaks=tuple(
                    k
                    for k in range(len(technician.breaks))
                    if k not in taken[technician.technician_id]
                ),
                first_departure_s=first_departure,
            )
        )
    return states


@dataclass(frozen=True, slots=True)
class Timeline:
    """Times of each step of a route, as early as possible.

    Attributes:
        arrival_s: Arrival per step (for a break: when it could begin) [s].
        start_s: Start per step [s].
        end_s: End per step [s].
        location: Location index per step.
        departure_s: Departure from the current location at the start of planning [s].
        return_s: Arrival at the end location [s].
    """

    arrival_s: tuple[float, ...]
    start_s: tuple[float, ...]
    end_s: tuple[float, ...]
    location: tuple[int, ...]
    departure_s: float
    return_s: float


def simulate(
    problem: RoutingProblem, state: TechnicianState, steps: Sequence[int]
) -> Timeline | None:
    """Time a route's steps as early as possible, or ``None`` when they cannot all fit.

    Checks time windows, break windows, the shift end, skills, a fixed technician, max stops,
    capacity, and that every open break which the route spans is on it.

    Args:
        problem: The problem.
        state: The technician's start state.
        steps: Stops (``>= 0``) and breaks (``-1 - k``) in order.

    Returns:
        The timeline, or ``None``.
    """
    technician = problem.technicians[state.technician_index]
    duration = problem.duration_s
    location = state.location_index
    if not steps:
        # Nothing left to plan: the technician heads home when their pinned work ends. What
        # already happened (a shift overrun, a break missed) is a fact, not a plan to refuse.
        home = state.idle_from_s + float(
            duration[location, problem.end_locations[state.technician_index]]
        )
        if not state.pinned and home > technician.shift_end_s + EPSILON:
            return None
        if state.pinned_stops and any(
            _still_owed(problem, technician.breaks[k], state.idle_from_s, home)
            for k in state.open_breaks
        ):
            return None  # a break can still begin before the technician is home: plan it
        return Timeline((), (), (), (), state.idle_from_s, home)
    time = state.available_s
    arrivals: list[float] = []
    starts: list[float] = []
    ends: list[float] = []
    locations: list[int] = []
    visits = demand = 0
    for step in steps:
        if step < 0:
            brk = technician.breaks[-1 - step]
            start = max(time, brk.earliest_start_s)
            if start > brk.latest_start_s + EPSILON:
                return None
            arrivals.append(time)
            starts.append(start)
            time = start + brk.duration_s
            ends.append(time)
            locations.append(location)
            continue
        stop = problem.stops[step]
        target = problem.stop_locations[step]
        arrival = time + float(duration[location, target])
        service_start = _window_start(stop.windows, arrival)
        if service_start is None:
            return None
        if not stop.skills <= technician.skills:
            return None
        if stop.technician_id is not None and stop.technician_id != technician.technician_id:
            return None
        arrivals.append(arrival)
        starts.append(service_start)
        time = service_start + stop.service_s
        ends.append(time)
        locations.append(target)
        location = target
        visits += 1
        demand += stop.demand
    end_location = problem.end_locations[state.technician_index]
    return_s = time + float(duration[location, end_location])
    if return_s > technician.shift_end_s + EPSILON:
        return None
    if technician.max_stops is not None and visits + state.pinned_stops > technician.max_stops:
        return None
    if technician.capacity is not None and demand + state.pinned_demand > technician.capacity:
        return None
    departure = _departure(problem, state, steps, starts)
    has_work = visits > 0 or state.pinned_stops > 0
    if has_work:
        route_start = state.first_departure_s if state.first_departure_s is not None else departure
        for k in state.open_breaks:
            if break_step(k) in steps:
                continue
            latest = technician.breaks[k].latest_start_s
            if problem.now_s is not None and latest < problem.now_s:
                continue  # missed before re-planning: the past cannot be planned
            if route_start <= latest < return_s - EPSILON:
                return None
    return Timeline(
        arrival_s=tuple(arrivals),
        start_s=tuple(starts),
        end_s=tuple(ends),
        location=tuple(locations),
        departure_s=departure,
        return_s=return_s,
    )


def _still_owed(problem: RoutingProblem, rule: Break, free_s: float, home_s: float) -> bool:
    """A break not missed yet (it can begin at ``free_s`` or later) that falls before home."""
    if problem.now_s is not None and rule.latest_start_s < problem.now_s:
        return False
    return free_s <= rule.latest_start_s + EPSILON and rule.latest_start_s < home_s - EPSILON


def _window_start(windows: Sequence[TimeWindow], arrival: float) -> float | None:
    if not windows:
        return arrival
    for window in windows:
        if arrival <= window.end_s + EPSILON:
            return max(arrival, window.start_s)
    return None


def _departure(
    problem: RoutingProblem, state: TechnicianState, steps: Sequence[int], starts: list[float]
) -> float:
    """Leave as late as the first step allows (no waiting at the first stop)."""
    if state.pinned or not steps or steps[0] < 0:
        return state.available_s
    lead = float(problem.duration_s[state.location_index, problem.stop_locations[steps[0]]])
    return max(state.available_s, starts[0] - lead)


def place_breaks(
    problem: RoutingProblem,
    state: TechnicianState,
    stops: Sequence[int],
    hint: Sequence[int] | None = None,
) -> list[int] | None:
    """Steps for a stop sequence with every owed break in a feasible place, or ``None``.

    The ``hint`` (steps with breaks, e.g. where the solver put them) is tried first; otherwise
    each open break is tried at every position, in window order, keeping the placement that
    returns earliest. Breaks the route does not span are left out.

    Args:
        problem: The problem.
        state: The technician's start state.
        stops: Stop indices in visiting order.
        hint: Preferred steps (breaks included) for the same stops.

    Returns:
        Steps, or ``None`` when no placement is feasible.
    """
    if hint is not None and simulate(problem, state, hint) is not None:
        return _drop_unowed(problem, state, list(hint))
    if simulate(problem, state, stops) is not None:
        return list(stops)
    best: list[int] | None = None
    best_return = math.inf
    candidates: list[list[int]] = [list(stops)]
    for number, k in enumerate(state.open_breaks):
        extended: list[list[int]] = []
        for base in candidates:
            floor = max((i + 1 for i, s in enumerate(base) if s < 0), default=0)
            extended.extend(
                [*base[:position], break_step(k), *base[position:]]
                for position in range(floor, len(base) + 1)
            )
        if number + 1 < len(state.open_breaks):
            # Keep the placements feasible so far (later breaks are still missing).
            candidates = [c for c in extended if _prefix_feasible(problem, state, c)] or extended
            continue
        for steps in extended:
            timeline = simulate(problem, state, steps)
            if timeline is not None and timeline.return_s < best_return:
                best, best_return = steps, timeline.return_s
    return _drop_unowed(problem, state, best) if best is not None else None


def _prefix_feasible(problem: RoutingProblem, state: TechnicianState, steps: list[int]) -> bool:
    relaxed = TechnicianState(
        technician_index=state.technician_index,
        location_index=state.location_index,
        available_s=state.available_s,
        idle_from_s=state.idle_from_s,
        pinned=state.pinned,
        pinned_stops=state.pinned_stops,
        pinned_demand=state.pinned_demand,
        open_breaks=tuple(k for k in state.open_breaks if break_step(k) in steps),
        first_departure_s=state.first_departure_s,
    )
    return simulate(problem, relaxed, steps) is not None


def _drop_unowed(problem: RoutingProblem, state: TechnicianState, steps: list[int]) -> list[int]:
    """Remove breaks that the route does not need (it ends before they are due)."""
    for step in [s for s in steps if s < 0]:
        without = [s for s in steps if s != step]
        if simulate(problem, state, without) is not None:
            steps = without
    return steps


def to_route(
    problem: RoutingProblem, state: TechnicianState, steps: Sequence[int], timeline: Timeline
) -> Route:
    """A plan route from timed steps, the pinned prefix first."""
    technician = problem.technicians[state.technician_index]
    activities: list[Visit | TakenBreak] = list(state.pinned)
    drive = sum(a.travel_s for a in state.pinned if isinstance(a, Visit))
    distance = sum(a.distance_m for a in state.pinned if isinstance(a, Visit))
    location = state.location_index
    previous_end = timeline.departure_s
    for k, step in enumerate(steps):
        if step < 0:
            activities.append(
                TakenBreak(
                    break_index=-1 - step,
                    location_index=location,
                    start_s=timeline.start_s[k],
                    end_s=timeline.end_s[k],
                )
            )
            previous_end = timeline.end_s[k]
            continue
        target = timeline.location[k]
        travel = float(problem.duration_s[location, target])
        metres = float(problem.distance_m[location, target])
        arrival = max(timeline.arrival_s[k], previous_end + travel)
        activities.append(
            Visit(
                order_id=problem.stops[step].order_id,
                location_index=target,
                arrival_s=arrival,
                start_s=timeline.start_s[k],
                end_s=timeline.end_s[k],
                wait_s=max(0.0, timeline.start_s[k] - arrival),
                travel_s=travel,
                distance_m=metres,
            )
        )
        drive += travel
        distance += metres
        location = target
        previous_end = timeline.end_s[k]
    end_location = problem.end_locations[state.technician_index]
    drive += float(problem.duration_s[location, end_location])
    distance += float(problem.distance_m[location, end_location])
    departure = (
        state.first_departure_s if state.first_departure_s is not None else timeline.departure_s
    )
    return Route(
        technician_id=technician.technician_id,
        departure_s=departure,
        return_s=timeline.return_s,
        activities=tuple(activities),
        drive_s=drive,
        distance_m=distance,
    )
