"""The answer of the solver: per-technician routes, orders left out (and why), and KPIs.

A :class:`RoutePlan` is an immutable value: each :class:`Route` lists its activities in time
order (:class:`Visit` and :class:`TakenBreak`), each with arrival, start, end and wait; orders
not served are :class:`LeftOut` with a :class:`LeaveOutReason`. :func:`plan_kpis` computes the
figures dispatchers look at (stops per technician, drive-time share of the shift, on-time
share, orders left out by reason) and :func:`plan_to_geojson` exports the plan as a GeoJSON
FeatureCollection (a LineString per technician, a Point per stop) for maps.

Pure module: standard library and other pure ``meterops.routing`` modules; it must not import
``pyvrp``, ``httpx``, ``meterops.db``, ``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from meterops.routing.problem import RoutingProblem

__all__ = [
    "LeaveOutReason",
    "LeftOut",
    "PlanKpis",
    "Route",
    "RoutePlan",
    "TakenBreak",
    "Visit",
    "plan_cost",
    "plan_kpis",
    "plan_to_geojson",
]


class LeaveOutReason(StrEnum):
    """Why an order is not in the plan."""

    NO_SKILL = "no_technician_with_skill"
    """No technician (or not the fixed one) has every skill the order needs."""
    WINDOW_UNREACHABLE = "window_unreachable"
    """No suitable technician can reach it inside its window and still get home in shift."""
    NOT_WORTH_SERVING = "over_capacity_or_penalty_cheaper"
    """Capacity is short, or serving it costs more than the penalty of leaving it out."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One order served on a route.

    Attributes:
        order_id: The order.
        location_index: Where (index into the problem's locations).
        arrival_s: Arrival on site [s from day start].
        start_s: Service start [s from day start].
        end_s: Service end [s from day start].
        wait_s: Idle time on site before service (a break taken there is not waiting) [s].
        travel_s: Drive from the previous location [s].
        distance_m: Distance from the previous location [m].
        pinned: True for completed and in-progress visits kept from before.
    """

    order_id: str
    location_index: int
    arrival_s: float
    start_s: float
    end_s: float
    wait_s: float
    travel_s: float
    distance_m: float
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class TakenBreak:
    """A break on a route, taken where the technician is.

    Attributes:
        break_index: Index into the technician's ``breaks``.
        location_index: Where it is taken (index into the problem's locations).
        start_s: Start [s from day start].
        end_s: End [s from day start].
        pinned: True when it had started before re-planning.
    """

    break_index: int
    location_index: int
    start_s: float
    end_s: float
    pinned: bool = False


Activity = Visit | TakenBreak


@dataclass(frozen=True, slots=True)
class Route:
    """One technician's day.

    Attributes:
        technician_id: Whose route.
        departure_s: Departure from the start location [s from day start].
        return_s: Arrival at the end location [s from day start].
        activities: Visits and breaks in time order.
        drive_s: Total driving, the way home included [s].
        distance_m: Total distance, the way home included [m].
    """

    technician_id: str
    departure_s: float
    return_s: float
    activities: tuple[Activity, ...]
    drive_s: float
    distance_m: float

    @property
    def visits(self) -> tuple[Visit, ...]:
        """The visits, in order."""
        return tuple(a for a in self.activities if isinstance(a, Visit))

    @property
    def breaks(self) -> tuple[TakenBreak, ...]:
        """The breaks, in order."""
        return tuple(a for a in self.activities if isinstance(a, TakenBreak))


@dataclass(frozen=True, slots=True)
class LeftOut:
    """An order the plan does not serve.

    Attributes:
        order_id: The order.
        reason: Why.
        detail: One plain sentence for a dispatcher.
    """

    order_id: str
    reason: LeaveOutReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PlanKpis:
    """The plan in figures.

    Attributes:
        orders: Orders in the problem.
        orders_served: Orders on a route (pinned ones included).
        orders_left_out: Orders not served.
        left_out_share: ``orders_left_out / orders`` (0 when there are no orders).
        left_out_by_reason: Count per :class:`LeaveOutReason` value.
        technicians: Technicians in the problem.
        technicians_used: Technicians with at least one visit.
        stops_per_technician: Mean visits per used technician.
        max_stops_per_technician: Most visits on one route.
        drive_s: Total driving [s].
        distance_m: Total distance [m].
        shift_s: Total shift length of the used technicians [s].
        drive_time_share: ``drive_s / shift_s`` (0 when nobody is used).
        on_time_share: Share of visits with a window whose start lies in one of them.
        cost: Objective plus penalties of the orders left out [objective units].
    """

    orders: int
    orders_served: int
    orders_left_out: int
    left_out_share: float
    left_out_by_reason: dict[str, int]
    technicians: int
    technicians_used: int
    stops_per_technician: float
    max_stops_per_technician: int
    drive_s: float
    distance_m: float
    shift_s: float
    drive_time_share: float
    on_time_share: float
    cost: float


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """A plan for the day.

    Attributes:
        routes: Routes of technicians with work, in the problem's technician order.
        left_out: Orders not served.
        solver_seconds: Wall time spent in the solver [s].
        notes: Plain remarks (decomposition used, repairs made) for logs.
    """

    routes: tuple[Route, ...]
    left_out: tuple[LeftOut, ...]
    solver_seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def route_of(self, technician_id: str) -> Route | None:
        """The route of a technician, or ``None`` when they have no work."""
        for route in self.routes:
            if route.technician_id == technician_id:
                return route
        return None

    def served_order_ids(self) -> set[str]:
        """Ids of every order on a route."""
        return {v.order_id for r in self.routes for v in r.visits}


def plan_cost(problem: RoutingProblem, plan: RoutePlan) -> float:
    """Objective of a plan: travel cost plus penalties of orders left out [objective units]."""
    arc = problem.arc_cost()
    travel = 0.0
    for route in plan.routes:
        index = problem.technician_index(route.technician_id)
        previous = problem.start_locations[index]
        for activity in route.activities:
            travel += float(arc[previous, activity.location_index])
            previous = activity.location_index
        travel += float(arc[previous, problem.end_locations[index]])
    penalties = sum(problem.penalty(problem.stop_index(o.order_id)) for o in plan.left_out)
    return travel + penalties


def plan_kpis(problem: RoutingProblem, plan: RoutePlan) -> PlanKpis:
    """Figures of a plan for dispatchers and benchmarks."""
    used = [r for r in plan.routes if r.visits]
    stops = [len(r.visits) for r in used]
    shift_s = sum(
        problem.technicians[problem.technician_index(r.technician_id)].shift_end_s
        - problem.technicians[problem.technician_index(r.technician_id)].shift_start_s
        for r in used
    )
    drive_s = sum(r.drive_s for r in plan.routes)
    windowed = on_time = 0
    for route in plan.routes:
        for visit in route.visits:
            windows = problem.stops[problem.stop_index(visit.order_id)].windows
            if windows:
                windowed += 1
                on_time += any(w.start_s - 1e-6 <= visit.start_s <= w.end_s + 1e-6 for w in windows)
    reasons = Counter(o.reason.value for o in plan.left_out)
    n_orders = len(problem.stops)
    return PlanKpis(
        orders=n_orders,
        orders_served=sum(stops),
        orders_left_out=len(plan.left_out),
        left_out_share=len(plan.left_out) / n_orders if n_orders else 0.0,
        left_out_by_reason=dict(sorted(reasons.items())),
        technicians=len(problem.technicians),
        technicians_used=len(used),
        stops_per_technician=sum(stops) / len(used) if used else 0.0,
        max_stops_per_technician=max(stops, default=0),
        drive_s=drive_s,
        distance_m=sum(r.distance_m for r in plan.routes),
        shift_s=shift_s,
        drive_time_share=drive_s / shift_s if shift_s else 0.0,
        on_time_share=on_time / windowed if windowed else 1.0,
        cost=plan_cost(problem, plan),
    )


def _point(problem: RoutingProblem, location_index: int) -> list[float]:
    location = problem.locations[location_index]
    return [location.lon, location.lat]


def plan_to_geojson(problem: RoutingProblem, plan: RoutePlan) -> dict[str, Any]:
    """The plan as a GeoJSON FeatureCollection ([lon, lat] coordinates, RFC 7946).

    One LineString per route (start, visits, end) with the technician's id and totals; one
    Point per served stop with its sequence and times; one Point per order left out with its
    reason.

    Args:
        problem: The problem the plan answers.
        plan: The plan.

    Returns:
        A JSON-able FeatureCollection.
    """
    features: list[dict[str, Any]] = []
    for route in plan.routes:
        index = problem.technician_index(route.technician_id)
        line = [_point(problem, problem.start_locations[index])]
        line += [_point(problem, v.location_index) for v in route.visits]
        line.append(_point(problem, problem.end_locations[index]))
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {
                    "kind": "route",
                    "technician_id": route.technician_id,
                    "stops": len(route.visits),
                    "departure_s": route.departure_s,
                    "return_s": route.return_s,
                    "drive_s": route.drive_s,
                    "distance_m": route.distance_m,
                    "breaks": [{"start_s": b.start_s, "end_s": b.end_s} for b in route.breaks],
                },
            }
        )
        for sequence, visit in enumerate(route.visits, start=1):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": _point(problem, visit.location_index),
                    },
                    "properties": {
                        "kind": "stop",
                        "order_id": visit.order_id,
                        "technician_id": route.technician_id,
                        "sequence": sequence,
                        "arrival_s": visit.arrival_s,
                        "start_s": visit.start_s,
                        "end_s": visit.end_s,
                        "pinned": visit.pinned,
                    },
                }
            )
    for left in plan.left_out:
        location_index = problem.stop_locations[problem.stop_index(left.order_id)]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": _point(problem, location_index)},
                "properties": {
                    "kind": "left_out",
                    "order_id": left.order_id,
                    "reason": left.reason.value,
                    "detail": left.detail,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
