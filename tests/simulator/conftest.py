"""Named, seeded worlds shared by the simulator tests (built once per session).

``busy_world`` is a small town whose faults are scheduled over a short horizon at high rates,
so that every kind of fault starts inside the first simulated days and leaves its traces
there. ``quiet_world`` has no faults at all except vacancies: the baseline a fault's traces are
compared against.
"""

from __future__ import annotations

import datetime as dt

import pytest

from meterops.simulator import FaultRates, World, small_town

BUSY_SEED = 11
BUSY_START = dt.date(2026, 7, 6)  # a Monday in summer (TOU summer season, cooling, solar)
BUSY_DAYS = 6

BUSY_RATES = FaultRates(
    radio_failure_per_meter_year=1.5,
    weak_path_per_meter_year=1.0,
    collector_down_per_collector_year=120.0,
    transformer_outage_per_transformer_year=12.0,
    feeder_outage_per_feeder_year=30.0,
    meter_removed_per_meter_year=0.4,
    theft_per_meter_year=0.8,
    theft_tamper_event_share=0.5,
    tamper_without_theft_per_meter_year=0.6,
    hot_socket_per_meter_year=0.4,
    stopped_register_per_meter_year=0.5,
    clock_drift_share=0.02,
    tou_misprogram=True,
    wrong_multiplier_share=0.3,
    ct_polarity_share=0.3,
    crossed_pairs_per_1000=5.0,
    unknown_serial_per_1000=5.0,
)
"""Rates per year over a 12-day horizon: tens of each fault inside the first days."""

NO_FAULTS = FaultRates(
    radio_failure_per_meter_year=0.0,
    weak_path_per_meter_year=0.0,
    collector_down_per_collector_year=0.0,
    transformer_outage_per_transformer_year=0.0,
    feeder_outage_per_feeder_year=0.0,
    meter_removed_per_meter_year=0.0,
    theft_per_meter_year=0.0,
    tamper_without_theft_per_meter_year=0.0,
    hot_socket_per_meter_year=0.0,
    stopped_register_per_meter_year=0.0,
    clock_drift_share=0.0,
    tou_misprogram=False,
    wrong_multiplier_share=0.0,
    ct_polarity_share=0.0,
    crossed_pairs_per_1000=0.0,
    unknown_serial_per_1000=0.0,
)


@pytest.fixture(scope="session")
def busy_world() -> World:
    """1,500 meters, faults galore over a 12-day horizon; days 0-5 generated and cached."""
    scenario = small_town(
        seed=BUSY_SEED, start=BUSY_START, faults=BUSY_RATES, service_points=1_500, horizon_days=12
    )
    world = World(scenario, keep_days=BUSY_DAYS + 2)
    world.day(BUSY_DAYS - 1)
    return world


@pytest.fixture(scope="session")
def quiet_world() -> World:
    """The small town of the demo with no faults (vacancies only)."""
    world = World(
        small_town(seed=5, start=BUSY_START, faults=NO_FAULTS, horizon_days=30), keep_days=4
    )
    world.day(2)
    return world
