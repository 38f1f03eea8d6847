"""An independent check of a plan against its problem.

:func:`check_plan` reads the times the plan states and verifies every rule from the problem's
raw data, sharing no code with the solver side (``schedule``, ``insertion``, ``_pyvrp``): each
order at most once and either served or left out, the fixed technician and skills, time
windows, travel time between consecutive activities, shift bounds, breaks in their windows
and taken when owed, max stops, capacity, pinned visits and breaks unchanged and first, no new
activity before the re-planning instant. :func:`plan_distance` prices routes with any matrix,
so a benchmark can cost a plan with its own independently computed distances.

Pinned activities are facts from the field: their own timing is not judged, only that they
are unchanged.

Pure module: standard library, numpy and other pure ``meterops.routing`` modules; it must not
import ``pyvrp``, ``httpx``, the solver-side modules, ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meterops.routing.plan import Route, RoutePlan, TakenBreak, Visit
from meterops.routing.problem import RoutingProblem, Technician

__all__ = ["Violation", "check_plan", "plan_distance"]

#: Slack allowed on stated times [s]; solver resolution is far coarser than this.
TOLERANCE_S = 1e-5


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule.

    Attributes:
        code: Stable dotted code, e.g. ``"window.late"``.
        message: Plain sentence with the values involved.
        technician_id: The technician concerned, if any.
        order_id: The order concerned, if any.
    """

    code: str
    message: str
    technician_id: str | None = None
    order_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


def plan_distance(problem: RoutingProblem, plan: RoutePlan, matrix: npt.ArrayLike) -> float:
    """Sum of ``matrix`` over every leg of every route, home legs included.

    Args:
        problem: The problem (for start and end locations).
        plan: The plan.
        matrix: Any location-by-location matrix (distance, time, cost).

    Returns:
        The total [the matrix's unit].
    """
    values = np.asarray(matrix, dtype=np.float64)
    starts = {
        t.technician_id: problem.start_locations[i] for i, t in enumerate(problem.technicians)
    }
    ends = {t.technician_id: problem.end_locations[i] for i, t in enumerate(problem.technicians)}
    total = 0.0
    for route in plan.routes:
        here = starts[route.technician_id]
        for activity in route.activities:
            total += float(values[here, activity.location_index])
            here = activity.location_index
        total += float(values[here, ends[route.technician_id]])
    return total


def check_plan(
    problem: RoutingProblem, plan: RoutePlan, *, duration_s: npt.ArrayLike | None = None
) -> list[Violation]:
    """Every rule the plan breaks (an empty list means feasible).

    Args:
        problem: The problem the plan claims to answer.
        plan: The plan.
        duration_s: Travel times to check against (defaults to the problem's); a benchmark
            passes its own, independently computed matrix.

    Returns:
        Violations, in route order.
    """
    travel = np.asarray(problem.duration_s if duration_s is None else duration_s, dtype=float)
    found = _check_orders(problem, plan)
    technicians = {t.technician_id: i for i, t in enumerate(problem.technicians)}
    for technician_id, count in Counter(r.technician_id for r in plan.routes).items():
        if count > 1:
            found.append(
                Violation("route.repeated", f"{technician_id} has {count} routes", technician_id)
            )
    for route in plan.routes:
        index = technicians.get(route.technician_id)
        if index is None:
            found.append(
                Violation(
                    "route.unknown_technician",
                    f"route of unknown technician {route.technician_id}",
                    route.technician_id,
                )
            )
            continue
        found.extend(_check_route(problem, route, index=index, travel=travel))
    found.extend(_check_pins(problem, plan))
    return found


def _check_orders(problem: RoutingProblem, plan: RoutePlan) -> list[Violation]:
    """Each order served at most once, or left out, never both; mandatory ones served."""
    found: list[Violation] = []
    stops = {s.order_id: s for s in problem.stops}
    served = Counter(v.order_id for r in plan.routes for v in r.visits)
    left = Counter(o.order_id for o in plan.left_out)
    for order_id, count in sorted((served + left).items()):
        if order_id not in stops:
            message = f"order {order_id} is not in the problem"
            found.append(Violation("order.unknown", message, order_id=order_id))
        elif count > 1:
            message = (
                f"order {order_id} is on routes {served[order_id]} times "
                f"and left out {left[order_id]} times"
            )
            found.append(Violation("order.repeated", message, order_id=order_id))
    for order_id, stop in stops.items():
        if served[order_id] + left[order_id] == 0:
            message = f"order {order_id} is neither served nor left out"
            found.append(Violation("order.missing", message, order_id=order_id))
        if stop.mandatory and left[order_id]:
            message = f"mandatory order {order_id} is left out"
            found.append(Violation("order.mandatory_left_out", message, order_id=order_id))
    return found


def _check_pins(problem: RoutingProblem, plan: RoutePlan) -> list[Violation]:
    """Pinned visits and breaks are still on their technician."""
    found: list[Violation] = []
    for pin in problem.pinned_visits:
        route = plan.route_of(pin.technician_id)
        visits = route.visits if route is not None else ()
        if not any(v.order_id == pin.order_id for v in visits):
            message = f"pinned order {pin.order_id} is no longer on {pin.technician_id}"
            found.append(Violation("pinned.moved", message, pin.technician_id, pin.order_id))
    for pinned in problem.pinned_breaks:
        route = plan.route_of(pinned.technician_id)
        breaks = route.breaks if route is not None else ()
        if not any(
            b.break_index == pinned.break_index and abs(b.start_s - pinned.start_s) <= TOLERANCE_S
            for b in breaks
        ):
            message = f"pinned break {pinned.break_index} of {pinned.technician_id} moved"
            found.append(Violation("pinned.break_moved", message, pinned.technician_id))
    return found


def _is_pinned(problem: RoutingProblem, who: str, activity: Visit | TakenBreak) -> bool:
    if isinstance(activity, Visit):
        return any(p.order_id == activity.order_id for p in problem.pinned_visits)
    return any(
        p.technician_id == who
        and p.break_index == activity.break_index
        and abs(p.start_s - activity.start_s) <= TOLERANCE_S
        for p in problem.pinned_breaks
    )


def _check_route(
    problem: RoutingProblem, route: Route, *, index: int, travel: npt.NDArray[np.float64]
) -> list[Violation]:
    """Shift, travel, windows, skills, breaks, limits and pins of one route."""
    technician = problem.technicians[index]
    who = technician.technician_id
    found: list[Violation] = []
    tol = TOLERANCE_S
    if route.departure_s < technician.shift_start_s - tol:
        message = (
            f"{who} leaves at {route.departure_s:g}, shift starts {technician.shift_start_s:g}"
        )
        found.append(Violation("shift.early", message, who))
    if route.return_s > technician.shift_end_s + tol:
        message = f"{who} is back at {route.return_s:g}, shift ends {technician.shift_end_s:g}"
        found.append(Violation("shift.late", message, who))
    here = problem.start_locations[index]
    clock = route.departure_s
    seen_unpinned = False
    for activity in route.activities:
        pinned = _is_pinned(problem, who, activity)
        if pinned and seen_unpinned:
            message = f"{who}: a pinned activity comes after newly planned work"
            found.append(Violation("pinned.order", message, who))
        if not pinned:
            seen_unpinned = True
            found.extend(
                _check_timing(problem, who, activity, clock=clock, here=here, travel=travel)
            )
        if isinstance(activity, TakenBreak):
            found.extend(_check_break(technician, activity, pinned=pinned))
        else:
            found.extend(_check_visit(problem, technician, activity, pinned=pinned))
        clock = max(clock, activity.end_s)
        here = activity.location_index
    home = travel[here, problem.end_locations[index]]
    if route.return_s < clock + home - tol:
        message = f"{who} is home at {route.return_s:g}, before {clock:g} + {home:g} s of travel"
        found.append(Violation("travel.too_fast", message, who))
    found.extend(_check_limits(problem, technician, route))
    return found


def _check_timing(
    problem: RoutingProblem,
    who: str,
    activity: Visit | TakenBreak,
    *,
    clock: float,
    here: int,
    travel: npt.NDArray[np.float64],
) -> list[Violation]:
    """A planned activity starts after the previous one ends plus the travel between them."""
    found: list[Violation] = []
    order_id = activity.order_id if isinstance(activity, Visit) else None
    if activity.end_s < activity.start_s - TOLERANCE_S:
        message = f"{who}: an activity ends before it starts ({activity.start_s:g})"
        found.append(Violation("activity.negative", message, who, order_id))
    if problem.now_s is not None and activity.start_s < problem.now_s - TOLERANCE_S:
        message = f"{who}: planned activity at {activity.start_s:g} is before now {problem.now_s:g}"
        found.append(Violation("now.past", message, who, order_id))
    needed = float(travel[here, activity.location_index])
    if activity.start_s < clock + needed - TOLERANCE_S:
        message = (
            f"{who}: activity at {activity.start_s:g} starts before the previous one ends "
            f"({clock:g}) plus {needed:g} s of travel"
        )
        found.append(Violation("travel.too_fast", message, who, order_id))
    return found


def _check_break(technician: Technician, taken: TakenBreak, *, pinned: bool) -> list[Violation]:
    who = technician.technician_id
    if not 0 <= taken.break_index < len(technician.breaks):
        return [Violation("break.unknown", f"{who}: break {taken.break_index} does not exist", who)]
    rule = technician.breaks[taken.break_index]
    found: list[Violation] = []
    inside = rule.earliest_start_s - TOLERANCE_S <= taken.start_s
    inside &= taken.start_s <= rule.latest_start_s + TOLERANCE_S
    if not pinned and not inside:
        message = (
            f"{who}: break starts at {taken.start_s:g}, outside "
            f"[{rule.earliest_start_s:g}, {rule.latest_start_s:g}]"
        )
        found.append(Violation("break.window", message, who))
    if taken.end_s - taken.start_s < rule.duration_s - TOLERANCE_S:
        length = taken.end_s - taken.start_s
        message = f"{who}: break lasts {length:g} s, needs {rule.duration_s:g} s"
        found.append(Violation("break.short", message, who))
    return found


def _check_visit(
    problem: RoutingProblem, technician: Technician, visit: Visit, *, pinned: bool
) -> list[Violation]:
    who = technician.technician_id
    if not problem.has_order(visit.order_id):
        return []  # reported by the order checks
    stop_index = problem.stop_index(visit.order_id)
    stop = problem.stops[stop_index]
    found: list[Violation] = []
    if visit.location_index != problem.stop_locations[stop_index]:
        message = f"{who}: order {stop.order_id} is visited at the wrong location"
        found.append(Violation("visit.location", message, who, stop.order_id))
    if not stop.skills <= technician.skills:
        missing = sorted(stop.skills - technician.skills)
        message = f"{who} lacks skills {missing} for order {stop.order_id}"
        found.append(Violation("skill.missing", message, who, stop.order_id))
    if stop.technician_id is not None and stop.technician_id != who:
        message = f"order {stop.order_id} is fixed to {stop.technician_id}, not {who}"
        found.append(Violation("technician.fixed", message, who, stop.order_id))
    if pinned:
        pin = next(p for p in problem.pinned_visits if p.order_id == visit.order_id)
        same_times = abs(pin.start_s - visit.start_s) <= TOLERANCE_S
        same_times &= abs(pin.end_s - visit.end_s) <= TOLERANCE_S
        if pin.technician_id != who or not same_times:
            message = f"pinned order {stop.order_id} changed technician or times"
            found.append(Violation("pinned.changed", message, who, stop.order_id))
        return found
    if stop.windows and not any(
        w.start_s - TOLERANCE_S <= visit.start_s <= w.end_s + TOLERANCE_S for w in stop.windows
    ):
        message = f"{who}: order {stop.order_id} starts at {visit.start_s:g}, outside its windows"
        found.append(Violation("window.missed", message, who, stop.order_id))
    if visit.end_s - visit.start_s < stop.service_s - TOLERANCE_S:
        length = visit.end_s - visit.start_s
        message = f"{who}: order {stop.order_id} gets {length:g} s, needs {stop.service_s:g} s"
        found.append(Violation("service.short", message, who, stop.order_id))
    return found


def _check_limits(problem: RoutingProblem, technician: Technician, route: Route) -> list[Violation]:
    """Max stops, capacity, each break at most once, owed breaks taken."""
    who = technician.technician_id
    found: list[Violation] = []
    visits = route.visits
    demand = sum(
        problem.stops[problem.stop_index(v.order_id)].demand
        for v in visits
        if problem.has_order(v.order_id)
    )
    if technician.max_stops is not None and len(visits) > technician.max_stops:
        message = f"{who} has {len(visits)} stops, at most {technician.max_stops} allowed"
        found.append(Violation("max_stops", message, who))
    if technician.capacity is not None and demand > technician.capacity:
        message = f"{who} carries {demand}, capacity {technician.capacity}"
        found.append(Violation("capacity", message, who))
    taken = Counter(b.break_index for b in route.breaks)
    for k, count in taken.items():
        if count > 1:
            found.append(Violation("break.repeated", f"{who} takes break {k} {count} times", who))
    if visits:
        for k, rule in enumerate(technician.breaks):
            if problem.now_s is not None and rule.latest_start_s < problem.now_s:
                continue  # missed before re-planning: a fact, not a planning error
            owed = route.departure_s <= rule.latest_start_s < route.return_s - TOLERANCE_S
            if owed and not taken[k]:
                message = f"{who} is out at {rule.latest_start_s:g} but takes no break {k}"
                found.append(Violation("break.missing", message, who))
    return found
