"""Cheapest feasible insertion: the construction heuristic and the quick repair move.

:func:`best_insertion` finds the cheapest place for one stop among some technicians' routes:
the cost increase of every position is computed at once with numpy, then positions are timed
exactly (:func:`~meterops.routing.schedule.simulate`) cheapest first until one fits; when none
fits with the breaks where they are, the breaks are placed again around the cheapest few.
:func:`construct` builds a whole plan by inserting stops one after the other (urgent and
tight-window orders first); it is the benchmark's plain construction baseline and the
fallback when the solver extra is missing. :func:`repair_route` makes an infeasible route
feasible by dropping the stops cheapest to leave out.

Pure module: standard library, numpy and other pure ``meterops.routing`` modules; it must not
import ``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from meterops.routing.problem import RoutingProblem
from meterops.routing.schedule import TechnicianState, place_breaks, simulate

__all__ = [
    "Insertion",
    "best_insertion",
    "can_serve",
    "construct_steps",
    "repair_route",
    "route_travel_cost",
]


@dataclass(frozen=True, slots=True)
class Insertion:
    """Where a stop goes.

    Attributes:
        technician_index: The route's technician.
        steps: The route's new steps.
        delta: Cost increase [objective units].
    """

    technician_index: int
    steps: tuple[int, ...]
    delta: float


def can_serve(problem: RoutingProblem, technician_index: int, stop_index: int) -> bool:
    """Whether a technician has the skills for a stop (and is its fixed technician, if any)."""
    technician = problem.technicians[technician_index]
    stop = problem.stops[stop_index]
    if stop.technician_id is not None and stop.technician_id != technician.technician_id:
        return False
    return stop.skills <= technician.skills


def route_travel_cost(
    problem: RoutingProblem, state: TechnicianState, steps: Sequence[int]
) -> float:
    """Objective cost of driving a route's steps from the start state home [units]."""
    arc = problem.arc_cost()
    location = state.location_index
    total = 0.0
    for step in steps:
        if step >= 0:
            target = problem.stop_locations[step]
            total += float(arc[location, target])
            location = target
    return total + float(arc[location, problem.end_locations[state.technician_index]])


def _position_deltas(
    problem: RoutingProblem, state: TechnicianState, steps: Sequence[int], stop_index: int
) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Cost increase of inserting before each position ``0..len(steps)``."""
    arc = problem.arc_cost()
    new = problem.stop_locations[stop_index]
    previous = np.empty(len(steps) + 1, dtype=np.int64)
    following = np.empty(len(steps) + 1, dtype=np.int64)
    location = state.location_index
    for k, step in enumerate(steps):
        previous[k] = location
        if step >= 0:
            location = problem.stop_locations[step]
    previous[len(steps)] = location
    location = problem.end_locations[state.technician_index]
    for k in range(len(steps), -1, -1):
        following[k] = location
        if k > 0 and steps[k - 1] >= 0:
            location = problem.stop_locations[steps[k - 1]]
    return np.asarray(arc[previous, new] + arc[new, following] - arc[previous, following])


def best_insertion(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    routes: Mapping[int, Sequence[int]],
    stop_index: int,
    *,
    technicians: Iterable[int],
    max_cost: float = math.inf,
    break_tries: int = 3,
) -> Insertion | None:
    """The cheapest feasible insertion of a stop into some technicians' routes.

    Args:
        problem: The problem.
        states: Start state of every technician.
        routes: Current steps per technician index (missing means empty).
        stop_index: The stop to insert.
        technicians: Technician indices to consider.
        max_cost: Ignore insertions costing more than this [objective units].
        break_tries: Routes, cheapest first, on which breaks may be placed again when they
            are in the way.

    Returns:
        The insertion, or ``None`` when no considered route can take the stop.
    """
    candidates: list[tuple[float, int, int]] = []
    for t in technicians:
        if not can_serve(problem, t, stop_index):
            continue
        steps = routes.get(t, ())
        deltas = _position_deltas(problem, states[t], steps, stop_index)
        candidates.extend(
            (float(deltas[position]), t, int(position))
            for position in np.flatnonzero(deltas <= max_cost)
        )
    candidates.sort()
    tried_breaks: set[int] = set()
    for delta, t, position in candidates:
        steps = list(routes.get(t, ()))
        trial = [*steps[:position], stop_index, *steps[position:]]
        if simulate(problem, states[t], trial) is not None:
            return Insertion(technician_index=t, steps=tuple(trial), delta=delta)
        if t in tried_breaks or not states[t].open_breaks or len(tried_breaks) >= break_tries:
            continue
        # The breaks may be in the way: place them again around this position.
        tried_breaks.add(t)
        stops = [s for s in trial if s >= 0]
        placed = place_breaks(problem, states[t], stops)
        if placed is not None:
            return Insertion(technician_index=t, steps=tuple(placed), delta=delta)
    return None


def repair_route(
    problem: RoutingProblem, state: TechnicianState, steps: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Make a route feasible, dropping the stops that are cheapest to leave out.

    Args:
        problem: The problem.
        state: The technician's start state.
        steps: Steps that may be infeasible (breaks are hints).

    Returns:
        Feasible steps and the stop indices dropped.
    """
    stops = [s for s in steps if s >= 0]
    dropped: list[int] = []
    hint: list[int] | None = list(steps)
    while True:
        placed = place_breaks(problem, state, stops, hint)
        if placed is not None:
            return placed, dropped
        hint = None
        best: tuple[float, int] | None = None
        for k, s in enumerate(stops):
            if problem.stops[s].mandatory:
                continue
            rest = stops[:k] + stops[k + 1 :]
            if place_breaks(problem, state, rest) is not None:
                key = (problem.penalty(s), k)
                if best is None or key < best:
                    best = key
        if best is None:
            optional = [k for k, s in enumerate(stops) if not problem.stops[s].mandatory]
            if not optional:
                optional = list(range(len(stops)))
            worst = min(optional, key=lambda k: problem.penalty(stops[k]))
            best = (0.0, worst)
        dropped.append(stops.pop(best[1]))


def construct_steps(
    problem: RoutingProblem,
    states: Sequence[TechnicianState],
    stops: Sequence[int],
    *,
    technicians: Sequence[int],
    routes: Mapping[int, Sequence[int]] | None = None,
    respect_penalties: bool = True,
) -> tuple[dict[int, list[int]], list[int]]:
    """Sequential cheapest insertion: urgent, then tight-window stops first.

    Args:
        problem: The problem.
        states: Start state of every technician.
        stops: Stop indices to insert.
        technicians: Technician indices that may take them.
        routes: Routes to start from (empty by default).
        respect_penalties: Leave a stop out when inserting it costs more than its penalty.

    Returns:
        Steps per technician index, and the stops that could not be inserted.
    """
    current: dict[int, list[int]] = {t: list((routes or {}).get(t, ())) for t in technicians}

    def urgency(s: int) -> tuple[int, float, int]:
        stop = problem.stops[s]
        deadline = stop.windows[-1].end_s if stop.windows else math.inf
        return (0 if stop.mandatory else stop.priority, deadline, s)

    left: list[int] = []
    for s in sorted(stops, key=urgency):
        limit = math.inf
        if respect_penalties and not problem.stops[s].mandatory:
            limit = problem.penalty(s)
        insertion = best_insertion(
            problem, states, current, s, technicians=technicians, max_cost=limit
        )
        if insertion is None:
            left.append(s)
            continue
        current[insertion.technician_index] = list(insertion.steps)
    return {t: steps for t, steps in current.items() if steps}, left
