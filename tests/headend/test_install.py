"""A meter installed in the field registers with the simulated head-end, or does not."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import polars as pl
import pytest

from meterops.errors import ConflictError, InvalidInputError
from meterops.headend import CommandKind, CommandState, CommandStatus, UnknownDeviceError
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.simulator import FaultKind, FaultRates, World, small_town
from meterops.simulator.world import to_us

START = dt.date(2026, 7, 6)
RATES = FaultRates(transformer_outage_per_transformer_year=8.0)
WINDOW = dt.timedelta(hours=4)


@pytest.fixture
def world() -> World:
    return World(
        small_town(seed=47, start=START, faults=RATES, service_points=600, horizon_days=5),
        keep_days=5,
    )


def _head_end(
    world: World, *, dead_on_arrival: float = 0.0, at: dt.datetime | None = None
) -> tuple[SimulatedHeadEnd, SimClock]:
    clock = SimClock(at or world.day(1).start_utc + dt.timedelta(hours=11))
    return SimulatedHeadEnd(world, clock=clock, dead_on_arrival=dead_on_arrival), clock


def _service_point(world: World, site: int) -> str:
    return str(world.territory.service_points["service_point_number"][site])


def _healthy_sites(world: World, head_end: SimulatedHeadEnd, count: int) -> list[int]:
    now = head_end.now_utc()
    found: list[int] = []
    for site in range(world.territory.sites.count):
        meter = int(world.inst_meter[world.inst_site == site][0])
        state = head_end.link(world.reported_serial[meter], now)
        if (
            state.alive
            and state.radio_ok
            and state.powered
            and state.collector_up
            and state.margin_db > 15
            and not world.active_faults(to_us(now), meter=meter, site=site)
        ):
            found.append(site)
            if len(found) == count:
                return found
    raise AssertionError("not enough healthy sites")


def _spare_for(world: World, site: int) -> str:
    meters = world.territory.meters
    forms = meters["form"].to_list()
    form = forms[int(world.inst_meter[world.inst_site == site][0])]
    for index in range(world.territory.sites.count, meters.height):
        if forms[index] == form and index not in world.spares_used:
            return str(world.backoffice_serial[index])
    raise AssertionError(f"no spare of form {form}")


def _status(head_end: SimulatedHeadEnd, command_id: str) -> CommandStatus:
    return head_end.command_status(command_id)


def test_an_installed_spare_registers_after_minutes_and_answers_its_first_read(
    world: World,
) -> None:
    head_end, clock = _head_end(world)
    site = _healthy_sites(world, head_end, 1)[0]
    old = world.reported_serial[int(world.inst_meter[world.inst_site == site][0])]
    spare = _spare_for(world, site)
    submitted = head_end.now_utc()
    command = head_end.install(spare, service_point=_service_point(world, site), replaces=old)
    pending = _status(head_end, command)
    assert pending.state is CommandState.PENDING
    assert pending.kind is CommandKind.INSTALL
    assert pending.serial_number == spare
    # The world has the spare in the socket now, and the old meter out.
    assert world.installation_of(world.meter_index(spare), to_us(submitted)) is not None
    assert world.installation_of(world.meter_index(old), to_us(submitted)) is None
    clock.advance(WINDOW)
    done = _status(head_end, command)
    assert done.state is CommandState.CONFIRMED
    registered = dt.datetime.fromisoformat(done.result["registered_at_utc"])
    assert submitted + dt.timedelta(seconds=30) < registered < submitted + WINDOW
    assert done.completed_at_utc is not None
    assert registered < done.completed_at_utc
    install_kwh = float(
        world.territory.meters["install_read_kwh"][int(world.meter_row[world.meter_index(spare)])]
    )
    # Minutes after the install the dial still shows (about) what the technician read.
    assert install_kwh <= done.result["register_kwh"] <= install_kwh + 1.0
    assert done.result["service_point"] == _service_point(world, site)
    assert done.result["replaces"] == old
    assert -100 < done.result["rssi_dbm"] < -20
    assert done.result["hop_count"] >= 1
    # The new meter now answers pings; the old one is out of its socket.
    ping_new, ping_old = head_end.ping(spare), head_end.ping(old)
    clock.advance(dt.timedelta(minutes=10))
    assert _status(head_end, ping_new).state is CommandState.CONFIRMED
    assert _status(head_end, ping_old).reason == "not_installed"


def test_a_new_meter_with_a_dead_radio_never_registers(world: World) -> None:
    head_end, clock = _head_end(world, dead_on_arrival=1.0)
    site = _healthy_sites(world, head_end, 1)[0]
    spare = _spare_for(world, site)
    submitted = head_end.now_utc()
    command = head_end.install(spare, service_point=_service_point(world, site))
    clock.advance(WINDOW - dt.timedelta(minutes=1))
    assert _status(head_end, command).state is CommandState.PENDING
    clock.advance(dt.timedelta(minutes=1))
    failed = _status(head_end, command)
    assert failed.state is CommandState.FAILED
    assert failed.reason == "not_registered"
    assert failed.completed_at_utc == submitted + WINDOW
    truth = world.ground_truth().filter(
        (pl.col("kind") == str(FaultKind.RADIO_FAILURE)) & (pl.col("meter_serial") == spare)
    )
    assert truth.height == 1
    ping = head_end.ping(spare)
    clock.advance(dt.timedelta(minutes=10))
    assert _status(head_end, ping).reason == "no_response"


def test_a_meter_installed_behind_a_dead_transformer_does_not_register(world: World) -> None:
    faults = world.faults
    row = next(
        int(r)
        for r in faults.rows(FaultKind.TRANSFORMER_OUTAGE)
        if faults.end_us[r] - faults.start_us[r] > 20 * 60 * 1_000_000
        and faults.start_us[r] > to_us(world.day(0).start_utc)
    )
    moment = dt.datetime.fromtimestamp(int(faults.start_us[row]) / 1e6, dt.UTC)
    head_end, clock = _head_end(world, at=moment + dt.timedelta(minutes=5))
    site = int(np.flatnonzero(world.territory.sites.transformer == faults.transformer[row])[0])
    command = head_end.install(_spare_for(world, site), service_point=_service_point(world, site))
    clock.advance(WINDOW)
    failed = _status(head_end, command)
    assert (failed.state, failed.reason) == (CommandState.FAILED, "not_registered")


def test_registration_takes_simulated_minutes_and_new_serials_join_too(world: World) -> None:
    head_end, clock = _head_end(world)
    sites = _healthy_sites(world, head_end, 30)
    ids = [
        head_end.install(f"NEW{i:07d}", service_point=_service_point(world, site))
        for i, site in enumerate(sites)
    ]
    clock.advance(WINDOW)
    statuses = [_status(head_end, i) for i in ids]
    confirmed = [s for s in statuses if s.state is CommandState.CONFIRMED]
    assert len(confirmed) >= 25
    minutes = [
        (dt.datetime.fromisoformat(s.result["registered_at_utc"]) - s.submitted_at_utc)
        / dt.timedelta(minutes=1)
        for s in confirmed
    ]
    assert 2.0 < statistics.median(minutes) < 30.0
    assert all(s.result["register_kwh"] >= 0 for s in confirmed)


def test_an_exchange_the_world_already_has_is_not_made_again(world: World) -> None:
    head_end, clock = _head_end(world)
    site = _healthy_sites(world, head_end, 1)[0]
    old = world.reported_serial[int(world.inst_meter[world.inst_site == site][0])]
    spare = _spare_for(world, site)
    world.exchange_meter(old, at=head_end.now_utc() - dt.timedelta(minutes=20), new_serial=spare)
    rows = world.inst_meter.size
    command = head_end.install(spare, service_point=_service_point(world, site), replaces=old)
    assert world.inst_meter.size == rows
    clock.advance(WINDOW)
    assert _status(head_end, command).state is CommandState.CONFIRMED


def test_the_same_request_id_returns_the_same_install_and_another_payload_conflicts(
    world: World,
) -> None:
    head_end, _ = _head_end(world)
    a, b = _healthy_sites(world, head_end, 2)
    spare = _spare_for(world, a)
    first = head_end.install(spare, service_point=_service_point(world, a), request_id="ex-1")
    again = head_end.install(spare, service_point=_service_point(world, a), request_id="ex-1")
    assert again == first
    with pytest.raises(ConflictError, match="another command"):
        head_end.install(spare, service_point=_service_point(world, b), request_id="ex-1")


def test_wrong_installs_are_refused_with_the_reason(world: World) -> None:
    head_end, _ = _head_end(world)
    a, b = _healthy_sites(world, head_end, 2)
    old_b = world.reported_serial[int(world.inst_meter[world.inst_site == b][0])]
    with pytest.raises(ConflictError) as mismatch:
        head_end.install(
            _spare_for(world, a), service_point=_service_point(world, a), replaces=old_b
        )
    assert mismatch.value.code == "headend.replaces_mismatch"
    with pytest.raises(ConflictError) as elsewhere:
        head_end.install(old_b, service_point=_service_point(world, a))
    assert elsewhere.value.code == "headend.installed_elsewhere"
    with pytest.raises(UnknownDeviceError) as unknown:
        head_end.install("NEW0000001", service_point="SP-NOWHERE")
    assert unknown.value.code == "headend.unknown_service_point"
    with pytest.raises(InvalidInputError):
        head_end.submit(CommandKind.INSTALL, "NEW0000001")
    with pytest.raises(InvalidInputError):
        SimulatedHeadEnd(world, dead_on_arrival=1.5)
