"""Named, seeded scenarios: ``small_town`` (demo), ``county`` and ``metro`` (benchmarks).

Each function returns a :class:`~meterops.simulator.params.Scenario`: a description, not the
built world (``World(scenario)`` or ``simulate_days(scenario, ...)`` build it). ``seed`` is
required everywhere so every demo, test and benchmark states its seed. The territories sit in
real places of the US Midwest (America/Chicago) with fictional town names.

Pure module: standard library and meterops.simulator; must not import ``meterops.db``,
``models``, ``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

from meterops.simulator.params import FaultRates, Scenario, TerritoryParams

__all__ = ["SCENARIOS", "county", "metro", "small_town"]

_DEFAULT_START: Final = dt.date(2026, 7, 1)


def small_town(
    *,
    seed: int,
    start: dt.date = _DEFAULT_START,
    faults: FaultRates | None = None,
    service_points: int = 2_000,
    horizon_days: int = 365,
) -> Scenario:
    """A town of about 2,000 meters in central Iowa with its farms: the demo.

    Args:
        seed: Seed of every random draw.
        start: First simulated local day.
        faults: Fault rates (default :class:`FaultRates`).
        service_points: Number of meters (tests may shrink it).
        horizon_days: Days over which faults are scheduled.

    Returns:
        The scenario.
    """
    territory = TerritoryParams(
        utility_name="Prairie Junction Municipal Utilities",
        territory_names=("Prairie Junction",),
        state="IA",
        timezone="America/Chicago",
        center_latitude=42.0494,
        center_longitude=-92.9080,
        extent_km=5.0,
        service_points=service_points,
        towns=1,
        rural_share=0.08,
        sites_per_collector=800,
        technicians=4,
    )
    return Scenario("small_town", seed, territory, faults or FaultRates(), start, horizon_days)


def county(
    *,
    seed: int,
    start: dt.date = _DEFAULT_START,
    faults: FaultRates | None = None,
    service_points: int = 50_000,
    horizon_days: int = 365,
) -> Scenario:
    """A county of about 50,000 meters: eight towns and farmland in central Iowa.

    Args:
        seed: Seed of every random draw.
        start: First simulated local day.
        faults: Fault rates (default :class:`FaultRates`).
        service_points: Number of meters.
        horizon_days: Days over which faults are scheduled.

    Returns:
        The scenario.
    """
    territory = TerritoryParams(
        utility_name="Story Valley Electric Cooperative",
        territory_names=("North District", "Central District", "South District"),
        state="IA",
        timezone="America/Chicago",
        center_latitude=42.0308,
        center_longitude=-93.6319,
        extent_km=24.0,
        service_points=service_points,
        towns=8,
        rural_share=0.12,
        sites_per_collector=1_500,
        technicians=24,
    )
    return Scenario("county", seed, territory, faults or FaultRates(), start, horizon_days)


def metro(
    *,
    seed: int,
    start: dt.date = _DEFAULT_START,
    faults: FaultRates | None = None,
    service_points: int = 1_000_000,
    horizon_days: int = 365,
) -> Scenario:
    """A metropolitan utility of 1,000,000 meters around Kansas City: for benchmarks.

    Args:
        seed: Seed of every random draw.
        start: First simulated local day.
        faults: Fault rates (default :class:`FaultRates`).
        service_points: Number of meters.
        horizon_days: Days over which faults are scheduled.

    Returns:
        The scenario.
    """
    territory = TerritoryParams(
        utility_name="Heartland Metro Power & Light",
        territory_names=("Downtown", "Northland", "Eastside", "Southside", "Westport", "Riverside"),
        state="MO",
        timezone="America/Chicago",
        center_latitude=39.0997,
        center_longitude=-94.5786,
        extent_km=45.0,
        service_points=service_points,
        towns=12,
        rural_share=0.03,
        network_share=0.08,
        sites_per_collector=2_500,
        technicians=320,
    )
    return Scenario("metro", seed, territory, faults or FaultRates(), start, horizon_days)


SCENARIOS: Final[dict[str, Callable[..., Scenario]]] = {
    "small_town": small_town,
    "county": county,
    "metro": metro,
}
"""Scenario functions by name (the CLI's ``--scenario`` choices)."""
