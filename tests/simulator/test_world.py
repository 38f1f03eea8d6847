"""A technician's visit changes the world from that moment on, and the data shows it."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from meterops.errors import ConflictError, NotFoundError
from meterops.simulator import FaultKind, World, small_town

from .conftest import BUSY_RATES, BUSY_START


@pytest.fixture
def world() -> World:
    """A fresh busy world per test (actions change it)."""
    scenario = small_town(
        seed=31, start=BUSY_START, faults=BUSY_RATES, service_points=900, horizon_days=12
    )
    return World(scenario, keep_days=12)


def _truth(world: World, kind: FaultKind) -> list[dict[str, object]]:
    rows = world.ground_truth().filter(pl.col("kind") == str(kind)).to_dicts()
    for row in rows:
        row["parameters"] = json.loads(str(row["parameters"]))
    return rows


def _received(world: World, day: int, serial: str) -> int:
    stats = world.day(day).comm_stats.filter(pl.col("serial_number") == serial)
    return int(stats["reads_received"].sum())


def _noon(world: World, day: int) -> dt.datetime:
    return world.day(day).start_utc + dt.timedelta(hours=12)


def test_a_new_radio_makes_a_silent_meter_talk_again(world: World) -> None:
    fault = next(
        f for f in _truth(world, FaultKind.RADIO_FAILURE) if f["start_utc"] < world.day(1).start_utc
    )
    serial = str(fault["meter_serial"])
    assert _received(world, 2, serial) == 0
    world.replace_radio_module(serial, at=_noon(world, 3))
    assert _received(world, 3, serial) in range(30, 50)  # the afternoon and evening
    assert _received(world, 4, serial) >= 90
    ended = next(
        f for f in _truth(world, FaultKind.RADIO_FAILURE) if f["fault_id"] == fault["fault_id"]
    )
    assert ended["end_utc"] == _noon(world, 3)


def test_a_new_radio_does_not_cure_a_weak_path(world: World) -> None:
    fault = next(
        f
        for f in _truth(world, FaultKind.WEAK_MESH_PATH)
        if f["start_utc"] < world.day(1).start_utc
    )
    world.replace_radio_module(str(fault["meter_serial"]), at=_noon(world, 2))
    still = next(
        f for f in _truth(world, FaultKind.WEAK_MESH_PATH) if f["fault_id"] == fault["fault_id"]
    )
    assert still["end_utc"] is None


def test_days_before_an_action_do_not_change(world: World) -> None:
    before = world.day(2).interval_reads
    fault = _truth(world, FaultKind.RADIO_FAILURE)[0]
    world.replace_radio_module(str(fault["meter_serial"]), at=_noon(world, 3))
    assert world.day(2).interval_reads.equals(before)


def test_an_exchange_installs_a_spare_that_reads_from_its_install_read(world: World) -> None:
    fault = next(
        f
        for f in _truth(world, FaultKind.STOPPED_REGISTER)
        if f["start_utc"] < world.day(1).start_utc
    )
    old = str(fault["meter_serial"])
    new = world.exchange_meter(old, at=_noon(world, 2))
    assert new != old
    reads = world.day(3).interval_reads.filter(
        (pl.col("serial_number") == new) & (pl.col("channel") == "kwh_delivered")
    )
    assert reads.height == 96
    assert reads["value"].sum() > 0
    assert not (world.day(3).interval_reads["serial_number"] == old).any()
    registers = world.day(3).register_reads.filter(
        (pl.col("serial_number") == new)
        & pl.col("tou_period").is_null()
        & (pl.col("channel") == "kwh_delivered")
    )
    assert registers["value"][0] < 200  # a fresh dial: install read plus a day and a half
    with pytest.raises(ConflictError):
        world.exchange_meter(old, at=_noon(world, 4))


def test_relocating_a_collector_next_to_a_weak_meter_improves_its_rssi(world: World) -> None:
    fault = next(
        f
        for f in _truth(world, FaultKind.WEAK_MESH_PATH)
        if f["start_utc"] < world.day(1).start_utc
    )
    serial = str(fault["meter_serial"])
    before = world.day(4).comm_stats.filter(pl.col("serial_number") == serial)["rssi_dbm"][0]
    site = world.site_index(str(fault["service_point_number"]))
    lat, lon = world.territory.projection.to_lat_lon(
        np.array([world.territory.sites.x_m[site] + 40.0]),
        np.array([world.territory.sites.y_m[site]]),
    )
    code = str(
        world.day(4).comm_stats.filter(pl.col("serial_number") == serial)["collector_code"][0]
    )
    world.relocate_collector(
        code, latitude=float(lat[0]), longitude=float(lon[0]), at=world.day(4).start_utc
    )
    after = world.day(4).comm_stats.filter(pl.col("serial_number") == serial)
    assert after["rssi_dbm"][0] is not None
    assert before is None or after["rssi_dbm"][0] > before + 10
    assert after["parent_node"][0] == code
    assert after["reads_received"][0] >= 90


def test_repairing_a_collector_brings_its_children_back(world: World) -> None:
    fault = next(
        f
        for f in _truth(world, FaultKind.COLLECTOR_DOWN)
        if f["end_utc"] - f["start_utc"] > dt.timedelta(hours=3)
    )
    fixed_at = fault["start_utc"] + dt.timedelta(hours=1)
    day = world.day_ordinal(int(fault["start_utc"].timestamp() * 1e6))
    silent_before = (
        world.day(day)
        .comm_stats.filter(pl.col("collector_code") == fault["collector_code"])["reads_received"]
        .sum()
    )
    world.repair_collector(str(fault["collector_code"]), at=fixed_at)
    silent_after = (
        world.day(day)
        .comm_stats.filter(pl.col("collector_code") == fault["collector_code"])["reads_received"]
        .sum()
    )
    assert silent_after > silent_before


def test_correcting_ct_wiring_restores_full_registration(world: World) -> None:
    fault = _truth(world, FaultKind.CT_POLARITY_REVERSED)[0]
    serial = str(fault["meter_serial"])

    def daily(day: int) -> float:
        reads = world.day(day).interval_reads.filter(
            (pl.col("serial_number") == serial) & (pl.col("channel") == "kwh_delivered")
        )
        return float(reads["value"].sum())

    before = daily(1)  # a weekday
    world.correct_ct_wiring(serial, at=world.day(2).start_utc)
    assert daily(2) > 1.8 * before


def test_fixing_crossed_meters_puts_each_back_where_the_back_office_has_it(world: World) -> None:
    a = _truth(world, FaultKind.CROSSED_METERS)[0]
    b_serial = str(a["parameters"]["partner_meter_serial"])
    world.fix_crossed_meters(str(a["meter_serial"]), b_serial, at=world.day(2).start_utc)
    meter = world.meter_index(str(a["meter_serial"]))
    row = world.installation_of(meter, int(world.day(3).start_utc.timestamp() * 1e6))
    assert row is not None
    assert (
        world.territory.service_points["service_point_number"][int(world.inst_site[row])]
        == a["parameters"]["back_office_service_point"]
    )
    assert all(
        f["end_utc"] is not None
        for f in _truth(world, FaultKind.CROSSED_METERS)
        if f["meter_serial"] in (a["meter_serial"], b_serial)
    )


def test_reseating_a_pulled_meter_makes_it_read_again(world: World) -> None:
    fault = next(
        f for f in _truth(world, FaultKind.METER_REMOVED) if f["start_utc"] < world.day(3).start_utc
    )
    serial = str(fault["meter_serial"])
    day = world.day_ordinal(int(fault["start_utc"].timestamp() * 1e6)) + 1
    assert _received(world, day, serial) == 0
    world.reseat_meter(serial, at=world.day(day).start_utc)
    assert _received(world, day, serial) >= 90


def test_repairing_a_hot_socket_before_it_fails_keeps_the_meter(world: World) -> None:
    fault = next(
        f
        for f in _truth(world, FaultKind.HOT_SOCKET)
        if f["start_utc"] < world.day(4).start_utc
        and dt.datetime.fromisoformat(str(f["parameters"]["failure_utc"])) > world.day(5).start_utc
    )
    replacement = world.repair_hot_socket(
        str(fault["service_point_number"]), at=world.day(5).start_utc
    )
    assert replacement is None
    serial = str(fault["meter_serial"])
    last = world.scenario.horizon_days - 1
    assert _received(world, last, serial) >= 90


def test_unknown_devices_are_refused_with_a_clear_error(world: World) -> None:
    with pytest.raises(NotFoundError, match="no meter reports under serial"):
        world.replace_radio_module("0000000000", at=_noon(world, 1))
    with pytest.raises(NotFoundError, match="COL-9999"):
        world.repair_collector("COL-9999", at=_noon(world, 1))
