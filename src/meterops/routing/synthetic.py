"""Seeded synthetic technician days for tests, benchmarks and demos.

:func:`technician_day` draws a utility's AMI field day: orders clustered around towns with a
rural remainder over a territory about 50 km across; skills as a utility's crews hold them
(residential meters, CT-rated commercial and industrial services, network collectors and
routers, meter shop testing; a few substation orders no one in this dispatch can do);
customer appointment windows on part of the orders (a few before any shift starts); priorities
from emergency reconnects (1) to routine reads (5); technicians starting from service centres
or home with a lunch break. Every random choice comes from one ``numpy.random.Generator``
seeded by the required ``seed``.

It lives in ``routing`` (not ``simulator``) because it builds only routing value objects; the
territory simulator may call it. Pure module: standard library, numpy and other pure
``meterops.routing`` modules; it must not import ``pyvrp``, ``httpx``, ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import math

import numpy as np

from meterops.routing.problem import (
    Break,
    Location,
    RoutingProblem,
    Stop,
    Technician,
    TimeWindow,
    build_problem,
)
from meterops.routing.travel import GreatCircleTravel, TravelTimeSource

__all__ = ["SKILLS", "UNSTAFFED_SKILL", "technician_day"]

#: The skills technicians of the synthetic day hold.
SKILLS = ("residential", "ct_rated", "network_collector", "meter_shop")

#: A skill some orders need and no technician of the day holds.
UNSTAFFED_SKILL = "substation_metering"

# Order kinds: skill, share of orders, service time range [min].
_ORDER_KINDS = (
    ("residential", 0.84, (3.0, 9.0)),
    ("ct_rated", 0.06, (20.0, 40.0)),
    ("network_collector", 0.05, (15.0, 30.0)),
    ("meter_shop", 0.05, (10.0, 25.0)),
)
# Technician crews: skills held, share of technicians.
_CREWS = (
    (frozenset({"residential"}), 0.55),
    (frozenset({"residential", "ct_rated"}), 0.15),
    (frozenset({"residential", "network_collector"}), 0.10),
    (frozenset({"residential", "ct_rated", "network_collector"}), 0.07),
    (frozenset({"residential", "meter_shop"}), 0.13),
)
_PRIORITY_SHARES = (0.04, 0.10, 0.50, 0.26, 0.10)
# Orders that cannot be served by design, so the plan shows each reason for leaving out.
_UNSTAFFED_SHARE = 0.004
_TOO_EARLY_SHARE = 0.003
_HOUR = 3600.0


def _offset(centre: tuple[float, float], east_km: float, north_km: float) -> Location:
    lat, lon = centre
    return Location.from_lat_lon(
        lat + north_km / 110.57, lon + east_km / (111.32 * math.cos(math.radians(lat)))
    )


def technician_day(
    *,
    seed: int,
    technicians: int = 60,
    orders: int = 1500,
    radius_km: float = 25.0,
    centre: tuple[float, float] = (45.50, -73.60),
    appointment_share: float = 0.35,
    travel: TravelTimeSource | None = None,
) -> RoutingProblem:
    """A seeded AMI field day.

    Args:
        seed: Random seed (required).
        technicians: Number of technicians.
        orders: Number of orders.
        radius_km: Territory radius [km].
        centre: Territory centre (latitude, longitude) [deg].
        appointment_share: Share of orders with a customer appointment window.
        travel: Travel source (default: great circle with circuity 1.3 and speed bands).

    Returns:
        The problem, times in seconds from midnight.
    """
    rng = np.random.default_rng(seed)
    towns = [
        (
            float(rng.uniform(-0.7, 0.7) * radius_km),
            float(rng.uniform(-0.7, 0.7) * radius_km),
            float(rng.uniform(1.5, 4.0)),
        )
        for _ in range(6)
    ]
    town_weights = rng.dirichlet(np.full(len(towns), 2.0))

    def draw_point() -> Location:
        if rng.random() < 0.75:
            east, north, spread = towns[int(rng.choice(len(towns), p=town_weights))]
            dx, dy = rng.normal(0.0, spread, size=2)
            return _offset(centre, east + float(dx), north + float(dy))
        angle = rng.uniform(0, 2 * math.pi)
        reach = radius_km * math.sqrt(rng.random())
        return _offset(centre, reach * math.cos(angle), reach * math.sin(angle))

    service_centres = [_offset(centre, e, n) for e, n, _ in towns[:3]]
    # Crews by quota (largest remainder), not by draw: a utility staffs each skill on purpose.
    quota = np.array([share * technicians for _, share in _CREWS])
    counts = np.floor(quota).astype(int)
    for k in np.argsort(counts - quota)[: technicians - int(counts.sum())]:
        counts[k] += 1
    crew_choice = rng.permutation(np.repeat(np.arange(len(_CREWS)), counts))
    crews = []
    for k in range(technicians):
        skills = _CREWS[int(crew_choice[k])][0]
        start = service_centres[k % len(service_centres)] if rng.random() < 0.5 else draw_point()
        shift_start = float(rng.choice([7.0, 7.5, 8.0])) * _HOUR
        shift_end = shift_start + 8.5 * _HOUR
        # One company lunch rule (30 min starting 11:00-13:30) whatever the shift start.
        lunch = Break(earliest_start_s=11.0 * _HOUR, latest_start_s=13.5 * _HOUR, duration_s=1800.0)
        crews.append(
            Technician(
                technician_id=f"T{k + 1:03d}",
                start=start,
                end=start,
                shift_start_s=shift_start,
                shift_end_s=shift_end,
                skills=skills,
                breaks=(lunch,),
                max_stops=40,
            )
        )
    slots = [(8.0, 10.0), (10.0, 12.0), (12.0, 14.0), (14.0, 16.0), (8.0, 12.0), (12.0, 16.0)]
    kind_choice = rng.choice(len(_ORDER_KINDS), size=orders, p=[k[1] for k in _ORDER_KINDS])
    stops = []
    for k in range(orders):
        skill, _, (low, high) = _ORDER_KINDS[int(kind_choice[k])]
        windows: tuple[TimeWindow, ...] = ()
        if rng.random() < appointment_share:
            begin, end = slots[int(rng.integers(len(slots)))]
            windows = (TimeWindow(begin * _HOUR, end * _HOUR),)
        odd = rng.random()
        if odd < _UNSTAFFED_SHARE:
            skill = UNSTAFFED_SKILL  # a crew outside this dispatch: nobody here holds it
        elif odd < _UNSTAFFED_SHARE + _TOO_EARLY_SHARE:
            windows = (TimeWindow(5.5 * _HOUR, 6.5 * _HOUR),)  # asked before any shift starts
        priority = int(rng.choice(5, p=_PRIORITY_SHARES)) + 1
        stops.append(
            Stop(
                order_id=f"WO{k + 1:05d}",
                location=draw_point(),
                service_s=round(float(rng.uniform(low, high)) * 60.0),
                windows=windows,
                skills=frozenset({skill}),
                priority=priority,
            )
        )
    return build_problem(stops=stops, technicians=crews, travel=travel or GreatCircleTravel())
