"""Arm-for-customer-press reconnects, time syncs and demand resets on the simulated head-end."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from meterops.headend import CommandState, CommandStatus
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.nomenclature import EVENT_BY_NAME
from meterops.simulator import FaultKind, FaultRates, World, small_town
from meterops.simulator.world import to_us

START = dt.date(2026, 7, 6)
RATES = FaultRates(clock_drift_share=0.05)


@pytest.fixture
def world() -> World:
    return World(
        small_town(seed=53, start=START, faults=RATES, service_points=500, horizon_days=5),
        keep_days=5,
    )


def _head_end(world: World) -> tuple[SimulatedHeadEnd, SimClock]:
    clock = SimClock(world.day(1).start_utc + dt.timedelta(hours=9))
    return SimulatedHeadEnd(world, clock=clock), clock


def _healthy(
    world: World, head_end: SimulatedHeadEnd, *, count: int = 1, switch: bool = True
) -> list[str]:
    now = head_end.now_utc()
    found = []
    for meter in range(world.territory.sites.count):
        serial = world.reported_serial[meter]
        state = head_end.link(serial, now)
        if (
            bool(world.has_switch[meter]) == switch
            and state.installed
            and state.alive
            and state.radio_ok
            and state.powered
            and state.collector_up
            and state.margin_db > 15
            and not world.active_faults(to_us(now), meter=meter, site=state.site)
        ):
            found.append(serial)
            if len(found) == count:
                return found
    raise AssertionError("not enough healthy meters")


def _run(
    head_end: SimulatedHeadEnd, clock: SimClock, command_id: str, minutes: float = 10
) -> CommandStatus:
    clock.advance(dt.timedelta(minutes=minutes))
    return head_end.command_status(command_id)


def _read_switch(head_end: SimulatedHeadEnd, clock: SimClock, serial: str) -> str:
    status = _run(head_end, clock, head_end.read_on_demand(serial), 3)
    assert status.state is CommandState.CONFIRMED
    return str(status.result["switch"])


def _disconnected(head_end: SimulatedHeadEnd, clock: SimClock, serial: str) -> None:
    assert _run(head_end, clock, head_end.disconnect(serial)).state is CommandState.CONFIRMED


def test_an_armed_switch_stays_open_until_the_customer_presses_the_button(world: World) -> None:
    head_end, clock = _head_end(world)
    serial = _healthy(world, head_end)[0]
    meter = world.meter_index(serial)
    assert head_end.press_button(serial) is False  # nothing armed: a press does nothing
    _disconnected(head_end, clock, serial)
    armed = _run(head_end, clock, head_end.arm_reconnect(serial), 2)
    assert armed.state is CommandState.CONFIRMED
    assert armed.result["switch"] == "armed"
    # Take the scripted press before any drawn one: press right after arming.
    assert head_end.armed(serial)
    assert world.switch_open(meter, to_us(head_end.now_utc()))
    assert head_end.press_button(serial) is True
    pressed_at = head_end.now_utc()
    assert not world.switch_open(meter, to_us(pressed_at))
    assert not head_end.armed(serial)
    assert _read_switch(head_end, clock, serial) == "closed"
    events = head_end.poll_events(since_utc=pressed_at - dt.timedelta(seconds=1)).filter(
        (pl.col("serial_number") == serial)
        & (pl.col("cim_event_type") == EVENT_BY_NAME["switch_connected"].code)
    )
    assert events.height == 1
    assert json.loads(events["details"][0])["customer_press"] is True


def test_customers_press_within_the_arm_or_the_arm_lapses(world: World) -> None:
    head_end, clock = _head_end(world)
    serials = _healthy(world, head_end, count=20)
    for serial in serials:
        head_end.disconnect(serial)
    clock.advance(dt.timedelta(minutes=10))
    arms = {serial: head_end.arm_reconnect(serial) for serial in serials}
    clock.advance(dt.timedelta(minutes=2))
    confirmed = [s for s, c in arms.items() if head_end.command_status(c).done]
    assert len(confirmed) == len(serials)
    assert sum(_read_switch(head_end, clock, s) == "armed" for s in serials) >= 10
    clock.advance(dt.timedelta(days=1, hours=1))
    after = {serial: _read_switch(head_end, clock, serial) for serial in serials}
    closed = [s for s, switch in after.items() if switch == "closed"]
    # Most customers press within the day (median 20 minutes); a few never do.
    assert 14 <= len(closed) < len(serials)
    assert set(after.values()) == {"closed", "open"}
    for serial in set(serials) - set(closed):
        # The arm lapsed: the switch is open, no longer armed, and a press does nothing.
        assert not head_end.armed(serial)
        assert head_end.press_button(serial) is False
    now = to_us(head_end.now_utc())
    assert all(not world.switch_open(world.meter_index(s), now) for s in closed)


def test_an_arm_with_voltage_on_the_load_side_is_refused(world: World) -> None:
    head_end, clock = _head_end(world)
    serial = _healthy(world, head_end)[0]
    _disconnected(head_end, clock, serial)
    site = head_end.link(serial, head_end.now_utc()).site
    world.set_backfeed(site, present=True, moment_us=to_us(head_end.now_utc()))
    refused = _run(head_end, clock, head_end.arm_reconnect(serial))
    assert (refused.state, refused.reason) == (CommandState.FAILED, "load_side_voltage")
    assert not head_end.armed(serial)


def test_a_time_sync_ends_a_drifting_clock_and_reports_the_error_it_fixed(world: World) -> None:
    head_end, clock = _head_end(world)
    faults = world.faults
    now = to_us(head_end.now_utc())
    serial = next(
        world.reported_serial[int(faults.meter[r])]
        for r in faults.rows(FaultKind.CLOCK_DRIFT)
        if faults.start_us[r] < now - 86_400_000_000
        and abs(faults.value[r]) > 5
        and head_end.link(world.reported_serial[int(faults.meter[r])], head_end.now_utc()).margin_db
        > 15
        and not world.live_faults(FaultKind.RADIO_FAILURE, now, meter=int(faults.meter[r]))
    )
    meter = world.meter_index(serial)
    synced = _run(head_end, clock, head_end.time_sync(serial))
    assert synced.state is CommandState.CONFIRMED
    assert abs(synced.result["offset_before_s"]) > 5
    assert synced.result["offset_after_s"] == 0.0
    assert not world.live_faults(FaultKind.CLOCK_DRIFT, to_us(head_end.now_utc()), meter=meter)
    again = _run(head_end, clock, head_end.time_sync(serial))
    assert again.result["offset_before_s"] == 0.0


def test_a_demand_reset_needs_a_demand_register(world: World) -> None:
    head_end, clock = _head_end(world)
    now = to_us(head_end.now_utc())
    demand = residential = None
    for meter in range(world.territory.sites.count):
        serial = world.reported_serial[meter]
        state = head_end.link(serial, head_end.now_utc())
        if not (state.installed and state.radio_ok and state.powered and state.collector_up):
            continue
        if state.margin_db < 15 or world.active_faults(now, meter=meter, site=state.site):
            continue
        program = world.program_of(meter, now)
        if program.startswith(("GS-", "LGS-")) and demand is None:
            demand = serial
        elif program.startswith("RES-") and residential is None:
            residential = serial
    assert demand is not None
    assert residential is not None
    reset = _run(head_end, clock, head_end.demand_reset(demand))
    assert reset.state is CommandState.CONFIRMED
    assert reset.result["program_code"].startswith(("GS-", "LGS-"))
    refused = _run(head_end, clock, head_end.demand_reset(residential))
    assert (refused.state, refused.reason) == (CommandState.FAILED, "not_supported")
    events = head_end.poll_events(since_utc=head_end.now_utc() - dt.timedelta(minutes=30))
    resets = events.filter(pl.col("cim_event_type") == EVENT_BY_NAME["demand_reset"].code)[
        "serial_number"
    ].to_list()
    assert demand in resets
    assert residential not in resets
