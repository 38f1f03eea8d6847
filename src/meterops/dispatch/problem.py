"""From orders and technicians (plain values) to routing stops and technicians, and back.

Times are seconds from the local midnight of the plan date (``day_start_utc``). A stop is one
order or a bundle (orders sharing a stop key): its service time is the sum of its orders',
its skills the union (``cert:<name>`` for certifications, ``stock:<item>`` for truck stock it
uses up), its priority the most urgent, its window the intersection of its orders' windows.
An appointment is a window on the visit's start; a deadline inside the day is a window that
ends when the work must start to finish by it; a deadline already passed adds no window (the
order stays as urgent as its priority says).

Truck stock is enforced for technicians whose stock is recorded: they get a ``stock:<item>``
skill for each item they carry and a capacity of their items; technicians without recorded
stock get every stock skill (stock not tracked). Per-item quantities beyond that single
capacity are checked after solving by :func:`stock_excess`.

Pure module: standard library and :mod:`meterops.routing`; no database, web or settings.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from meterops.routing import Break, Location, RoutePlan, Stop, Technician, TimeWindow

__all__ = [
    "BreakRule",
    "CrewDay",
    "OrderInput",
    "StockExcess",
    "break_for",
    "seconds_from",
    "stock_excess",
    "stock_token",
    "stops_from_orders",
    "technician_from_crew",
]


def stock_token(item: str) -> str:
    """Routing skill standing for carrying an item (``stock:meter:2S``)."""
    return f"stock:{item}"


def seconds_from(day_start_utc: dt.datetime, moment: dt.datetime) -> float:
    """Seconds from the plan day's start to a moment, negative before it [s]."""
    return (moment - day_start_utc).total_seconds()


@dataclass(frozen=True, slots=True)
class OrderInput:
    """One order to plan.

    Attributes:
        order_number: The order.
        stop_key: Orders with the same key are one stop.
        latitude: Where [deg].
        longitude: Where [deg].
        duration_s: Time on site [s].
        skills: Routing skills needed (skill, ``cert:…``).
        stock_items: Truck-stock items used up.
        priority: 1 (most urgent) to 5.
        appointment_s: Appointment window ``(start, end)`` [s from day start], or None.
        due_s: Deadline [s from day start], or None.
        technician_id: Fixed technician (employee number), or None.
    """

    order_number: str
    stop_key: str
    latitude: float
    longitude: float
    duration_s: float
    skills: frozenset[str]
    stock_items: tuple[str, ...]
    priority: int
    appointment_s: tuple[float, float] | None = None
    due_s: float | None = None
    technician_id: str | None = None


@dataclass(frozen=True, slots=True)
class BreakRule:
    """Where a technician's break may fall: around the middle of the shift.

    Attributes:
        before_mid_s: Earliest start before the shift's midpoint [s].
        after_mid_s: Latest start after the shift's midpoint [s].
    """

    before_mid_s: float = 5400.0
    after_mid_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class CrewDay:
    """A technician's day as the planner uses it.

    Attributes:
        technician_id: Employee number.
        start: Where the day starts ``(lat, lon)``.
        end: Where it ends.
        shift_start_s: Earliest departure [s from day start].
        shift_end_s: Latest return [s from day start].
        skills: Skills and ``cert:…`` tokens (no stock tokens).
        break_s: Break ``(earliest, latest, duration)`` [s], or None.
        max_stops: Most stops.
        stock: Items carried, or None when the technician's stock is not tracked.
    """

    technician_id: str
    start: tuple[float, float]
    end: tuple[float, float]
    shift_start_s: float
    shift_end_s: float
    skills: frozenset[str]
    break_s: tuple[float, float, float] | None
    max_stops: int
    stock: Mapping[str, int] | None = field(default=None)

    @property
    def capacity(self) -> int | None:
        """Stock items carried, or None when not tracked."""
        return None if self.stock is None else sum(self.stock.values())


def break_for(
    shift_start_s: float, shift_end_s: float, minutes: int, rule: BreakRule
) -> tuple[float, float, float] | None:
    """The break window of a shift, or None for no break (or no room for one).

    Examples:
        >>> break_for(7 * 3600, 15.5 * 3600, 30, BreakRule())
        (35100.0, 44100.0, 1800.0)
    """
    duration = minutes * 60.0
    if duration <= 0 or shift_end_s - shift_start_s <= duration:
        return None
    middle = (shift_start_s + shift_end_s) / 2
    earliest = max(shift_start_s, middle - rule.before_mid_s)
    latest = min(middle + rule.after_mid_s, shift_end_s - duration)
    return (min(earliest, latest), latest, duration)


def _window(order: OrderInput) -> tuple[float, float] | None:
    window = order.appointment_s
    if order.due_s is not None and order.due_s - order.duration_s >= 0:
        latest = order.due_s - order.duration_s
        if window is None:
            window = (0.0, latest)
        elif min(window[1], latest) >= window[0]:
            window = (window[0], min(window[1], latest))
        # An appointment outside the deadline wins: it is a promise to the customer.
    return window


def stops_from_orders(orders: Sequence[OrderInput]) -> list[Stop]:
    """One routing stop per stop key, in order of first appearance.

    Returns:
        Stops whose ``order_id`` is the stop key.
    """
    groups: dict[str, list[OrderInput]] = {}
    for order in orders:
        groups.setdefault(order.stop_key, []).append(order)
    stops: list[Stop] = []
    for key, members in groups.items():
        lead = members[0]
        start, end = -math.inf, math.inf
        for member in members:
            window = _window(member)
            if window is not None:
                start, end = max(start, window[0]), min(end, window[1])
        windows: tuple[TimeWindow, ...] = ()
        if end < math.inf:
            if start > end:  # members' windows do not meet: keep the lead's
                lead_window = _window(lead) or (start, start)
                start, end = lead_window
            windows = (TimeWindow(max(start, 0.0), end),)
        fixed = {m.technician_id for m in members if m.technician_id is not None}
        items = [item for m in members for item in m.stock_items]
        stops.append(
            Stop(
                order_id=key,
                location=Location.from_lat_lon(lead.latitude, lead.longitude),
                service_s=sum(m.duration_s for m in members),
                windows=windows,
                skills=frozenset().union(*(m.skills for m in members))
                | {stock_token(item) for item in items},
                priority=min(m.priority for m in members),
                technician_id=min(fixed) if fixed else None,
                demand=len(items),
            )
        )
    return stops


def technician_from_crew(crew: CrewDay, *, stock_skills: frozenset[str]) -> Technician:
    """The routing technician of a crew day.

    Args:
        crew: The technician's day.
        stock_skills: Every ``stock:…`` skill the day's stops need (given to technicians
            whose stock is not tracked).
    """
    if crew.stock is None:
        skills = crew.skills | stock_skills
    else:
        skills = crew.skills | {stock_token(i) for i, n in crew.stock.items() if n > 0}
    breaks = () if crew.break_s is None else (Break(*crew.break_s),)
    return Technician(
        technician_id=crew.technician_id,
        start=Location.from_lat_lon(*crew.start),
        end=Location.from_lat_lon(*crew.end),
        shift_start_s=crew.shift_start_s,
        shift_end_s=crew.shift_end_s,
        skills=skills,
        breaks=breaks,
        max_stops=crew.max_stops,
        capacity=crew.capacity,
    )


@dataclass(frozen=True, slots=True)
class StockExcess:
    """Stops a route cannot serve because the truck runs out of an item.

    Attributes:
        technician_id: Whose route.
        item: The item.
        needed: Items the route's stops use.
        carried: Items on the truck.
        stop_keys: Stops to take off the route (least urgent, latest first).
    """

    technician_id: str
    item: str
    needed: int
    carried: int
    stop_keys: tuple[str, ...]


def stock_excess(
    plan: RoutePlan, orders: Sequence[OrderInput], crews: Sequence[CrewDay]
) -> list[StockExcess]:
    """Routes that use more of an item than their truck carries.

    Args:
        plan: The solved plan.
        orders: The orders of the problem (their stop keys and the items they use).
        crews: The technicians' days (their stock).

    Returns:
        One excess per technician and item, naming the stops to drop.
    """
    items: dict[str, Counter[str]] = {}
    priority: dict[str, int] = {}
    for order in orders:
        items.setdefault(order.stop_key, Counter()).update(order.stock_items)
        priority[order.stop_key] = min(priority.get(order.stop_key, 5), order.priority)
    stock = {crew.technician_id: crew.stock for crew in crews}
    found: list[StockExcess] = []
    for route in plan.routes:
        carried = stock.get(route.technician_id)
        if carried is None:
            continue
        uses: dict[str, list[tuple[int, int, str, int]]] = {}
        for position, visit in enumerate(route.visits):
            for item, count in items.get(visit.order_id, Counter()).items():
                key = visit.order_id
                # Work already done used its items too, but only later stops can drop.
                rank = -1 if visit.pinned else priority[key]
                uses.setdefault(item, []).append((rank, position, key, count))
        for item, users in sorted(uses.items()):
            have = carried.get(item, 0)
            needed = sum(u[3] for u in users)
            if needed <= have:
                continue
            drop: list[str] = []
            short = needed - have
            for rank, _, key, count in sorted(users, key=lambda u: (-u[0], -u[1])):
                if short <= 0 or rank < 0:
                    break
                drop.append(key)
                short -= count
            found.append(StockExcess(route.technician_id, item, needed, have, tuple(drop)))
    return found
