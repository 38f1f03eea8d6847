"""The simulated head-end answers as the mesh and faults allow and reacts to the world."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from meterops.errors import ConflictError
from meterops.headend import (
    CommandKind,
    CommandState,
    HeadEnd,
    UnknownCommandError,
    UnknownDeviceError,
)
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.nomenclature import EVENT_BY_NAME
from meterops.simulator import FaultKind, FaultRates, World, small_town

START = dt.date(2026, 7, 6)
RATES = FaultRates(
    radio_failure_per_meter_year=1.5,
    weak_path_per_meter_year=1.0,
    collector_down_per_collector_year=150.0,
    transformer_outage_per_transformer_year=6.0,
    theft_per_meter_year=0.5,
    stopped_register_per_meter_year=0.2,
)


@pytest.fixture
def world() -> World:
    return World(
        small_town(seed=41, start=START, faults=RATES, service_points=800, horizon_days=12),
        keep_days=12,
    )


def _at(world: World, day: int, hours: float) -> dt.datetime:
    return world.day(day).start_utc + dt.timedelta(hours=hours)


def _head_end(world: World, day: int = 1, hours: float = 12.0) -> tuple[SimulatedHeadEnd, SimClock]:
    clock = SimClock(_at(world, day, hours))
    return SimulatedHeadEnd(world, clock=clock), clock


def _healthy(world: World, head_end: SimulatedHeadEnd, *, switch: bool | None = None) -> str:
    now = head_end.now_utc()
    for meter in range(world.territory.sites.count):
        serial = world.reported_serial[meter]
        if switch is not None and bool(world.has_switch[meter]) != switch:
            continue
        state = head_end.link(serial, now)
        if (
            state.installed
            and state.alive
            and state.radio_ok
            and state.powered
            and state.collector_up
            and state.margin_db > 15
            and not world.active_faults(int(now.timestamp() * 1e6), meter=meter, site=state.site)
        ):
            return serial
    raise AssertionError("no healthy meter")


def _truth(world: World, kind: FaultKind) -> list[dict[str, object]]:
    return world.ground_truth().filter(pl.col("kind") == str(kind)).to_dicts()


def _settle(
    head_end: SimulatedHeadEnd,
    clock: SimClock,
    command_id: str,
    wait: dt.timedelta = dt.timedelta(hours=1),
) -> object:
    clock.advance(wait)
    return head_end.command_status(command_id)


def test_it_is_a_head_end(world: World) -> None:
    head_end, _ = _head_end(world)
    assert isinstance(head_end, HeadEnd)


def test_polls_return_what_the_meters_produced_up_to_now(world: World) -> None:
    head_end, _ = _head_end(world, day=1, hours=12.0)
    now = head_end.now_utc()
    reads = head_end.poll_interval_reads(since_utc=world.day(0).start_utc)
    ends = reads.select(pl.col("interval_start_utc") + pl.duration(seconds=pl.col("interval_s")))
    assert ends.to_series().max() <= now
    assert reads["interval_start_utc"].min() == world.day(0).start_utc
    expected = pl.concat([world.day(0).interval_reads, world.day(1).interval_reads]).filter(
        pl.col("interval_start_utc") + pl.duration(seconds=pl.col("interval_s")) <= now
    )
    assert reads.height == expected.height
    assert reads["source_line"].to_list() == list(range(1, reads.height + 1))
    stats = head_end.poll_comm_stats(since_utc=world.day(0).start_utc)
    assert stats["period_start_utc"].unique().to_list() == [world.day(0).start_utc]
    events = head_end.poll_events(since_utc=world.day(1).start_utc)
    assert events["event_time_utc"].is_between(world.day(1).start_utc, now, closed="left").all()


def test_a_ping_is_pending_until_its_latency_has_passed_then_confirmed(world: World) -> None:
    head_end, clock = _head_end(world)
    serial = _healthy(world, head_end)
    command = head_end.ping(serial)
    status = head_end.command_status(command)
    assert status.state is CommandState.PENDING
    assert status.completed_at_utc is None
    done = _settle(head_end, clock, command, dt.timedelta(minutes=2))
    assert done.state is CommandState.CONFIRMED  # type: ignore[attr-defined]
    result = done.result  # type: ignore[attr-defined]
    assert -100 < result["rssi_dbm"] < -20
    assert result["hop_count"] >= 1
    assert 0 < result["round_trip_ms"] < 60_000


def test_the_same_seed_and_calls_give_the_same_outcomes(world: World) -> None:
    outcomes = []
    for _ in range(2):
        fresh = World(world.scenario, keep_days=3)
        head_end, clock = _head_end(fresh)
        ids = [head_end.ping(fresh.reported_serial[m]) for m in range(0, 200, 7)]
        clock.advance(dt.timedelta(hours=1))
        outcomes.append([head_end.command_status(i).to_dict() for i in ids])
    assert outcomes[0] == outcomes[1]


def test_a_failed_radio_never_answers_and_a_new_radio_makes_it_answer(world: World) -> None:
    fault = next(
        f for f in _truth(world, FaultKind.RADIO_FAILURE) if f["start_utc"] < world.day(1).start_utc
    )
    serial = str(fault["meter_serial"])
    head_end, clock = _head_end(world)
    command = head_end.ping(serial)
    failed = _settle(head_end, clock, command)
    assert failed.state is CommandState.FAILED  # type: ignore[attr-defined]
    assert failed.reason == "no_response"  # type: ignore[attr-defined]
    world.replace_radio_module(serial, at=head_end.now_utc())
    clock.advance(dt.timedelta(minutes=1))
    again = _settle(head_end, clock, head_end.ping(serial), dt.timedelta(minutes=5))
    assert again.state is CommandState.CONFIRMED  # type: ignore[attr-defined]


def test_a_meter_under_a_down_collector_fails_at_once(world: World) -> None:
    fault = next(
        f
        for f in _truth(world, FaultKind.COLLECTOR_DOWN)
        if f["end_utc"] - f["start_utc"] > dt.timedelta(hours=2)
    )
    moment = fault["start_utc"] + dt.timedelta(minutes=30)
    clock = SimClock(moment)
    head_end = SimulatedHeadEnd(world, clock=clock)
    mesh = world.epochs[0].mesh
    code = str(fault["collector_code"])
    site = int(np.flatnonzero(mesh.collector == world.epochs[0].infra.codes.index(code))[0])
    serial = world.reported_serial[int(world.inst_meter[world.inst_site == site][0])]
    status = _settle(head_end, clock, head_end.ping(serial), dt.timedelta(minutes=1))
    assert status.reason == "collector_unreachable"  # type: ignore[attr-defined]


def test_a_weak_path_answers_only_sometimes(world: World) -> None:
    head_end, clock = _head_end(world)
    candidates = []
    for fault in _truth(world, FaultKind.WEAK_MESH_PATH):
        serial = str(fault["meter_serial"])
        for day in range(world.scenario.horizon_days):
            for hours in range(0, 24, 3):
                state = head_end.link(serial, _at(world, day, hours))
                if (
                    state.installed
                    and state.radio_ok
                    and state.powered
                    and state.collector_up
                    and -1.5 <= state.margin_db <= 1.5
                ):
                    candidates.append((serial, _at(world, day, hours)))
    assert candidates, "no weak path reached a marginal link within the horizon"
    serial, moment = candidates[0]
    clock = SimClock(moment)
    head_end = SimulatedHeadEnd(world, clock=clock)
    ids = [head_end.ping(serial) for _ in range(60)]
    clock.advance(dt.timedelta(hours=1))
    confirmed = sum(head_end.command_status(i).state is CommandState.CONFIRMED for i in ids)
    assert 5 < confirmed < 58


def test_a_disconnect_drops_the_reads_to_zero_and_a_reconnect_brings_them_back(
    world: World,
) -> None:
    head_end, clock = _head_end(world, day=2, hours=9.0)
    serial = _healthy(world, head_end, switch=True)
    off = head_end.disconnect(serial)
    status = _settle(head_end, clock, off, dt.timedelta(hours=3))
    assert status.state is CommandState.CONFIRMED  # type: ignore[attr-defined]
    opened = status.completed_at_utc  # type: ignore[attr-defined]
    on = head_end.reconnect(serial)
    back = _settle(head_end, clock, on, dt.timedelta(hours=2))
    assert back.state is CommandState.CONFIRMED  # type: ignore[attr-defined]
    closed = back.completed_at_utc  # type: ignore[attr-defined]
    clock.advance(dt.timedelta(days=1))
    reads = head_end.poll_interval_reads(since_utc=world.day(2).start_utc).filter(
        (pl.col("serial_number") == serial) & (pl.col("channel") == "kwh_delivered")
    )
    off_window = reads.filter(
        (pl.col("interval_start_utc") >= opened + dt.timedelta(minutes=15))
        & (pl.col("interval_start_utc") < closed - dt.timedelta(minutes=15))
    )
    after = reads.filter(pl.col("interval_start_utc") >= closed + dt.timedelta(minutes=15))
    assert off_window.height >= 8
    assert off_window["value"].max() == 0.0
    assert after["value"].sum() > 0
    events = head_end.poll_events(since_utc=world.day(2).start_utc).filter(
        pl.col("serial_number") == serial
    )
    codes = events["cim_event_type"].to_list()
    assert EVENT_BY_NAME["switch_disconnected"].code in codes
    assert EVENT_BY_NAME["switch_connected"].code in codes


def test_a_reconnect_with_load_side_voltage_present_is_refused(world: World) -> None:
    head_end, clock = _head_end(world, day=2, hours=9.0)
    serial = _healthy(world, head_end, switch=True)
    _settle(head_end, clock, head_end.disconnect(serial), dt.timedelta(hours=1))
    site = head_end.link(serial, head_end.now_utc()).site
    world.set_backfeed(site, present=True, moment_us=int(head_end.now_utc().timestamp() * 1e6))
    refused = _settle(head_end, clock, head_end.reconnect(serial), dt.timedelta(hours=1))
    assert refused.state is CommandState.FAILED  # type: ignore[attr-defined]
    assert refused.reason == "load_side_voltage"  # type: ignore[attr-defined]
    events = head_end.poll_events(since_utc=world.day(2).start_utc).filter(
        pl.col("serial_number") == serial
    )
    assert EVENT_BY_NAME["load_side_voltage"].code in events["cim_event_type"].to_list()
    assert EVENT_BY_NAME["switch_connect_failed"].code in events["cim_event_type"].to_list()


def test_a_meter_without_a_switch_cannot_be_disconnected(world: World) -> None:
    head_end, clock = _head_end(world)
    serial = _healthy(world, head_end, switch=False)
    status = _settle(head_end, clock, head_end.disconnect(serial), dt.timedelta(minutes=1))
    assert status.reason == "not_supported"  # type: ignore[attr-defined]


def test_pushing_the_right_program_ends_a_misprogrammed_tou(world: World) -> None:
    scenario = small_town(seed=41, start=START, service_points=800, horizon_days=12)
    tou = World(scenario, keep_days=4)
    fault = _truth(tou, FaultKind.TOU_MISPROGRAM)[0]
    head_end, clock = _head_end(tou)
    command = head_end.push_program(str(fault["meter_serial"]), program_code="RES-TOU-2024")
    status = _settle(head_end, clock, command, dt.timedelta(hours=1))
    assert status.state is CommandState.CONFIRMED  # type: ignore[attr-defined]
    after = next(
        f for f in _truth(tou, FaultKind.TOU_MISPROGRAM) if f["fault_id"] == fault["fault_id"]
    )
    assert after["end_utc"] == status.completed_at_utc  # type: ignore[attr-defined]
    meter = tou.meter_index(str(fault["meter_serial"]))
    later = int((head_end.now_utc() + dt.timedelta(days=1)).timestamp() * 1e6)
    assert tou.program_of(meter, later) == "RES-TOU-2024"


def test_a_relocated_collector_improves_the_ping_rssi_of_a_weak_meter(world: World) -> None:
    probe = SimulatedHeadEnd(world, clock=SimClock(_at(world, 3, 12.0)))
    weak = [
        str(f["meter_serial"])
        for f in _truth(world, FaultKind.WEAK_MESH_PATH)
        if f["start_utc"] < world.day(2).start_utc
    ]

    def reachable(serial: str, moment: dt.datetime) -> bool:
        state = probe.link(serial, moment)
        return state.collector_up and state.radio_ok and state.powered and state.alive

    serial, moment = next(
        (serial, _at(world, day, 12.0))
        for day in range(3, 11)
        for serial in weak
        if reachable(serial, _at(world, day, 12.0)) and reachable(serial, _at(world, day, 12.25))
    )
    clock = SimClock(moment)
    head_end = SimulatedHeadEnd(world, clock=clock)
    before = head_end.link(serial, moment)
    site = before.site
    lat, lon = world.territory.projection.to_lat_lon(
        np.array([world.territory.sites.x_m[site] + 30.0]),
        np.array([world.territory.sites.y_m[site]]),
    )
    world.relocate_collector(
        str(before.collector_code), latitude=float(lat[0]), longitude=float(lon[0]), at=moment
    )
    clock.advance(dt.timedelta(minutes=1))
    status = _settle(head_end, clock, head_end.ping(serial), dt.timedelta(minutes=5))
    assert status.state is CommandState.CONFIRMED  # type: ignore[attr-defined]
    assert status.result["rssi_dbm"] > before.rssi_dbm + 10  # type: ignore[attr-defined]


def test_an_on_demand_read_lies_between_the_midnight_register_reads(world: World) -> None:
    head_end, clock = _head_end(world, day=2, hours=14.0)
    serial = _healthy(world, head_end)
    status = _settle(head_end, clock, head_end.read_on_demand(serial), dt.timedelta(minutes=5))
    value = status.result["kwh_delivered"]  # type: ignore[attr-defined]
    total = (
        (pl.col("serial_number") == serial)
        & (pl.col("channel") == "kwh_delivered")
        & pl.col("tou_period").is_null()
    )
    start = world.day(1).register_reads.filter(total)["value"][0]
    end = world.day(2).register_reads.filter(total)["value"][0]
    assert min(start, end) <= value <= max(start, end)
    assert status.result["switch"] == "closed"  # type: ignore[attr-defined]


def test_the_same_request_id_returns_the_same_command_and_a_different_payload_conflicts(
    world: World,
) -> None:
    head_end, _ = _head_end(world)
    serial = _healthy(world, head_end)
    first = head_end.ping(serial, request_id="wo-17")
    assert head_end.ping(serial, request_id="wo-17") == first
    with pytest.raises(ConflictError, match="wo-17"):
        head_end.read_on_demand(serial, request_id="wo-17")


def test_unknown_devices_and_commands_are_refused(world: World) -> None:
    head_end, _ = _head_end(world)
    with pytest.raises(UnknownDeviceError, match="0000000000"):
        head_end.submit(CommandKind.PING, "0000000000")
    with pytest.raises(UnknownCommandError):
        head_end.command_status("CMD-99999999")
    unknown = world.ground_truth().filter(pl.col("kind") == "unknown_serial")
    if unknown.height:
        recorded = str(unknown["meter_serial"][0])
        with pytest.raises(UnknownDeviceError):
            head_end.ping(recorded)
        reported = json.loads(unknown["parameters"][0])["reported_serial"]
        assert head_end.ping(reported).startswith("CMD-")


def test_a_wall_clock_runs_simulated_time_at_its_speed() -> None:
    from meterops.headend.simulated import WallClock

    ticks = iter([100.0, 100.0, 160.0])
    clock = WallClock(
        dt.datetime(2026, 7, 2, tzinfo=dt.UTC), speed=60.0, monotonic=lambda: next(ticks)
    )
    assert clock.now() == dt.datetime(2026, 7, 2, tzinfo=dt.UTC)
    assert clock.now() == dt.datetime(2026, 7, 2, 1, tzinfo=dt.UTC)


def test_a_manual_clock_never_runs_backwards() -> None:
    from meterops.errors import InvalidInputError

    clock = SimClock(dt.datetime(2026, 7, 2, tzinfo=dt.UTC))
    with pytest.raises(InvalidInputError):
        clock.advance(dt.timedelta(seconds=-1))
