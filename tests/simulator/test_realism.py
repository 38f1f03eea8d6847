"""The simulated utility looks like a real one: territory, meters, load, mesh, voltage."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from meterops.nomenclature import METER_FORMS
from meterops.simulator import World, county, metro, small_town
from meterops.simulator.fleetfiles import fleet_frames
from meterops.simulator.stats import realism_table


def test_the_town_lies_in_its_real_world_bounding_box(quiet_world: World) -> None:
    premises = quiet_world.territory.premises
    p = quiet_world.scenario.territory
    assert premises["latitude"].is_between(p.center_latitude - 0.1, p.center_latitude + 0.1).all()
    assert (
        premises["longitude"].is_between(p.center_longitude - 0.15, p.center_longitude + 0.15).all()
    )
    assert premises["address_line"].str.contains(r"^\d+ \S").all()
    assert premises["premise_number"].is_unique().all()


def test_most_meters_are_2s_cl200_with_network_and_ct_rated_c_and_i(quiet_world: World) -> None:
    meters = fleet_frames(quiet_world, as_of=quiet_world.date_of(0))["meters"]
    installed = meters.filter(pl.col("lifecycle_status") == "installed")
    share = (
        installed.group_by("form", "meter_class")
        .len()
        .with_columns(pl.col("len") / installed.height)
    )
    residential = share.filter((pl.col("form") == "2S") & (pl.col("meter_class") == "CL200"))
    assert residential["len"][0] > 0.7
    assert {"12S", "9S", "16S"} <= set(installed["form"].to_list())
    ct = installed.filter(pl.col("form") == "9S")
    assert (ct["ct_ratio"] > 1).all()
    assert not METER_FORMS["9S"].self_contained
    assert installed["vendor"].n_unique() >= 3
    assert installed["firmware_revision"].n_unique() >= 6
    assert installed["serial_number"].is_unique().all()


def test_transformers_feed_five_to_twelve_homes_in_town(quiet_world: World) -> None:
    sites = quiet_world.territory.sites
    per_tx = np.bincount(sites.transformer)
    homes = np.bincount(sites.transformer, weights=sites.site_class == 0) == per_tx
    town_homes = per_tx[homes & (per_tx >= 5)]
    assert (town_homes <= 12).all()
    assert np.mean(per_tx[homes] >= 5) > 0.85


def test_residential_customers_use_about_what_a_us_home_uses(quiet_world: World) -> None:
    table = realism_table(quiet_world, [quiet_world.day(d) for d in range(3)])
    row = table.filter(pl.col("figure") == "residential kWh per customer-day").row(0, named=True)
    assert 22.0 <= row["simulated"] <= 45.0  # a July week in Iowa; the US year averages ~29
    lf = table.filter(pl.col("figure") == "residential daily load factor").row(0, named=True)
    assert 0.2 <= lf["simulated"] <= 0.6


def test_fleet_read_success_is_at_least_the_995_percent_ami_fleets_report(
    quiet_world: World,
) -> None:
    stats = pl.concat([quiet_world.day(d).comm_stats for d in range(3)])
    assert stats["reads_received"].sum() / stats["reads_expected"].sum() >= 0.995
    assert (stats["reads_received"] == stats["reads_expected"]).mean() >= 0.99


def test_solar_homes_export_at_midday_and_never_at_night(quiet_world: World) -> None:
    received = quiet_world.day(1).interval_reads.filter(pl.col("channel") == "kwh_received")
    local = received.with_columns(
        pl.col("interval_start_utc").dt.convert_time_zone("America/Chicago").dt.hour().alias("h")
    )
    assert local.filter(pl.col("h").is_in([11, 12, 13]))["value"].mean() > 0.2
    assert local.filter(pl.col("h").is_in([0, 1, 2, 3]))["value"].max() == 0.0


def test_service_voltage_stays_mostly_inside_ansi_range_a(quiet_world: World) -> None:
    reads = quiet_world.day(1).interval_reads.filter(pl.col("channel") == "voltage_max_v")
    home = reads.filter(pl.col("value").is_between(200, 260))
    inside = home["value"].is_between(228.0, 252.0).mean()
    assert inside > 0.97


def test_the_mesh_gives_every_meter_a_parent_hops_and_a_plausible_rssi(
    quiet_world: World,
) -> None:
    stats = quiet_world.day(0).comm_stats
    assert stats["parent_node"].null_count() == 0
    assert stats["hop_count"].is_between(1, 10).all()
    assert stats["rssi_dbm"].drop_nulls().is_between(-100.0, -20.0).all()
    topology = quiet_world.day(0).topology
    collectors = topology.filter(pl.col("node_kind") == "collector")
    assert collectors["parent_node"].null_count() == collectors.height
    assert set(stats["collector_code"].unique().to_list()) <= set(collectors["node_id"])


def test_registers_advance_by_the_sum_of_their_intervals(quiet_world: World) -> None:
    before = quiet_world.day(0).register_reads
    after = quiet_world.day(1).register_reads
    reads = quiet_world.day(1).interval_reads.filter(pl.col("channel") == "kwh_delivered")
    sums = reads.group_by("serial_number").agg(pl.col("value").sum(), pl.len().alias("n"))
    total = (pl.col("channel") == "kwh_delivered") & pl.col("tou_period").is_null()
    joined = (
        before.filter(total)
        .join(after.filter(total), on="serial_number")
        .join(sums, on="serial_number", suffix="_sum")
        .filter(pl.col("n") == 96)
    )
    meters = fleet_frames(quiet_world, as_of=quiet_world.date_of(0))["meters"]
    joined = joined.join(
        meters.select("serial_number", "register_digits", "register_decimals"), on="serial_number"
    )
    dial = 10.0 ** joined["register_digits"]
    advance = (joined["value_right"] - joined["value"]) % dial
    resolution = 10.0 ** -joined["register_decimals"]
    assert ((advance - joined["value_sum"]).abs() <= resolution + 1e-6).all()
    assert joined.height > 1_500


def test_some_dials_roll_over_in_a_month_of_a_county() -> None:
    world = World(county(seed=1, service_points=4_000), keep_days=1)
    registers = world._register_start[0][: world.territory.sites.count, 0] / 1000.0
    digits = world.register_digits[: world.territory.sites.count]
    near = registers % 10.0**digits > 10.0**digits - 1_500.0
    assert near.sum() > 5


@pytest.mark.parametrize("scenario", [small_town, county])
def test_scenarios_have_about_the_advertised_number_of_meters(scenario: object) -> None:
    built = World(scenario(seed=1), keep_days=1)  # type: ignore[operator]
    wanted = {"small_town": 2_000, "county": 50_000}[built.scenario.name]
    assert built.territory.sites.count == wanted
    assert metro(seed=1).territory.service_points == 1_000_000
