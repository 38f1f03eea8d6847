"""Outage inference against the simulator's injected transformer and feeder outages."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from meterops.nomenclature import EVENT_BY_NAME
from meterops.outages.inference import OutageParams, infer_outages
from meterops.simulator.fleetfiles import fleet_frames
from meterops.simulator.scenarios import small_town
from meterops.simulator.world import World

DAYS = 10
CODES = {
    EVENT_BY_NAME["last_gasp"].code: "last_gasp",
    EVENT_BY_NAME["power_restored"].code: "power_restored",
}


def simulate(seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    base = small_town(seed=seed, service_points=800, start=dt.date(2026, 3, 2))
    faults = dataclasses.replace(
        base.faults,
        transformer_outage_per_transformer_year=4.0,
        feeder_outage_per_feeder_year=25.0,
    )
    world = World(dataclasses.replace(base, faults=faults))
    events = pl.concat([world.day(i).events for i in range(DAYS)])
    events = events.filter(pl.col("cim_event_type").is_in(list(CODES))).select(
        pl.col("serial_number").alias("meter_key"),
        "event_time_utc",
        pl.col("cim_event_type").replace_strict(CODES).alias("event"),
    )
    fleet = fleet_frames(world, as_of=world.date_of(0))
    grid = (
        fleet["meters"]
        .filter(pl.col("service_point_number").is_not_null())
        .select(pl.col("serial_number").alias("meter_key"), "service_point_number")
        .join(
            fleet["service_points"].select("service_point_number", "transformer_code"),
            on="service_point_number",
        )
        .join(
            fleet["transformers"].select("transformer_code", "feeder_code"), on="transformer_code"
        )
        .drop("service_point_number")
    )
    first = dt.datetime.combine(world.date_of(0), dt.time(6), tzinfo=dt.UTC)
    end = dt.datetime.combine(world.date_of(DAYS), dt.time(0), tzinfo=dt.UTC)
    truth = world.ground_truth().filter(
        pl.col("kind").is_in(["transformer_outage", "feeder_outage"])
        & (pl.col("start_utc") >= first)
        & (pl.col("start_utc") < end)
    )
    return events, grid, truth


@pytest.mark.parametrize("seed", [3, 8])
def test_injected_outages_are_placed_at_the_right_device(seed: int) -> None:
    events, grid, truth = simulate(seed)
    assert truth.height >= 5, "the scenario should inject outages"
    incidents, members = infer_outages(events, grid, params=OutageParams())
    found = 0
    for row in truth.iter_rows(named=True):
        level = "transformer" if row["kind"] == "transformer_outage" else "feeder"
        device = row["transformer_code"] if level == "transformer" else row["feeder_code"]
        start = row["start_utc"]
        hit = incidents.filter(
            (pl.col("level") == level)
            & (pl.col("device_code") == device)
            & ((pl.col("started_at_utc") - pl.lit(start)).abs() <= dt.timedelta(minutes=5))
        )
        found += hit.height >= 1
    assert found / truth.height >= 0.95
    # Every incident's members are on its device.
    feeders = incidents.filter(pl.col("level") == "feeder")
    for incident in feeders.iter_rows(named=True):
        keys = members.filter(pl.col("incident") == incident["incident"])["meter_key"]
        assert grid.filter(pl.col("meter_key").is_in(keys.implode()))[
            "feeder_code"
        ].unique().to_list() == [incident["device_code"]]


def test_momentary_interruptions_and_single_meters_are_not_grid_outages() -> None:
    t = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    grid = pl.DataFrame(
        {
            "meter_key": [f"m{i}" for i in range(10)],
            "transformer_code": ["T1"] * 5 + ["T2"] * 5,
            "feeder_code": ["F1"] * 10,
        }
    )
    second = dt.timedelta(seconds=1)
    events = pl.DataFrame(
        {
            "meter_key": ["m0", "m1", "m0", "m1", "m7"],
            "event_time_utc": [t, t, t + 20 * second, t + 20 * second, t + 3600 * second],
            "event": ["last_gasp", "last_gasp", "power_restored", "power_restored", "last_gasp"],
        }
    )
    incidents, _ = infer_outages(events, grid, params=OutageParams())
    assert incidents.select("level", "device_code").rows() == [("meter", "m7")]
    assert incidents["restored_at_utc"].to_list() == [None]
