"""Over HTTP the head-end serves format files and JSON commands; the client is a head-end."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fastapi.testclient import TestClient

from meterops.errors import ConflictError, InvalidInputError
from meterops.headend import (
    CommandKind,
    CommandState,
    HeadEnd,
    UnknownCommandError,
    UnknownDeviceError,
)
from meterops.headend.client import HttpHeadEnd
from meterops.headend.http import create_app
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.ingest.formats.cim import parse_cim
from meterops.ingest.formats.cmep import parse_cmep
from meterops.simulator import World, small_town

START = dt.date(2026, 7, 6)


@pytest.fixture(scope="module")
def served() -> tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd]:
    world = World(small_town(seed=43, start=START, service_points=300, horizon_days=6), keep_days=6)
    clock = SimClock(world.day(1).start_utc + dt.timedelta(hours=10))
    head_end = SimulatedHeadEnd(world, clock=clock)
    app = create_app(head_end, zone=world.zone, sender_id="PJMU", clock=clock)
    client = TestClient(app)
    return head_end, clock, client, HttpHeadEnd(client=client)


def test_the_http_client_is_a_head_end_that_sees_what_the_service_sees(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, _, _, remote = served
    assert isinstance(remote, HeadEnd)
    since = local.world.day(0).start_utc
    for kind in ("interval_reads", "register_reads", "events", "comm_stats", "topology"):
        here = local.poll(kind, since_utc=since).drop("source_line")
        there = remote.poll(kind, since_utc=since).drop("source_line")
        assert here.height > 0, kind
        assert there.equals(here), kind
    assert remote.now_utc() == local.now_utc()


def test_an_empty_window_polls_to_an_empty_frame(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, _, _, remote = served
    now = local.now_utc()
    frame = remote.poll_events(since_utc=now, until_utc=now)
    assert frame.height == 0
    assert "cim_event_type" in frame.columns


def test_events_come_as_cim_xml_and_reads_as_cmep_on_request(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, _, client, _ = served
    since = local.world.day(0).start_utc.isoformat()
    xml = client.get("/v1/events", params={"since": since, "format": "cim"})
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    events = parse_cim(xml.content, name="events.xml", strict=True).events
    assert events.height == local.poll_events(since_utc=local.world.day(0).start_utc).height
    cmep = client.get("/v1/interval-reads", params={"since": since, "format": "cmep"})
    reads = parse_cmep(
        cmep.content, name="reads.cmep", zone=local.world.zone, strict=True
    ).interval_reads
    assert (
        reads.height
        == local.poll_interval_reads(since_utc=local.world.day(0).start_utc)
        .filter(pl.col("channel") == "kwh_delivered")
        .height
    )


def test_commands_travel_as_json_and_settle_when_the_clock_moves(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, _, client, remote = served
    serial = local.world.reported_serial[5]
    command = remote.ping(serial, request_id="http-1")
    assert remote.command_status(command).state is CommandState.PENDING
    moved = client.post("/v1/sim/clock", json={"seconds": 600})
    assert moved.status_code == 200
    status = remote.command_status(command)
    assert status.done
    assert status.request_id == "http-1"
    assert status.to_dict() == local.command_status(command).to_dict()


def test_errors_come_back_as_the_platforms_errors(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, _, client, remote = served
    with pytest.raises(UnknownDeviceError, match="0000000000"):
        remote.ping("0000000000")
    with pytest.raises(UnknownCommandError):
        remote.command_status("CMD-77777777")
    serial = local.world.reported_serial[6]
    remote.ping(serial, request_id="http-2")
    with pytest.raises(ConflictError):
        remote.disconnect(serial, request_id="http-2")
    with pytest.raises(InvalidInputError):
        remote.push_program(serial, program_code="NO-SUCH-PROGRAM")
    naive = client.get("/v1/events", params={"since": "2026-07-06T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["code"] == "headend.naive_time"


def test_an_install_travels_as_json_and_confirms_when_the_meter_registers(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, _, client, remote = served
    world = local.world
    points = world.territory.service_points["service_point_number"]
    site = 20
    old = world.reported_serial[int(world.inst_meter[world.inst_site == site][0])]
    command = remote.install(
        "NEW0000020", service_point=str(points[site]), replaces=old, request_id="http-install"
    )
    assert remote.command_status(command).kind is CommandKind.INSTALL
    client.post("/v1/sim/clock", json={"seconds": 4 * 3600})
    status = remote.command_status(command)
    assert status.done
    assert status.to_dict() == local.command_status(command).to_dict()
    with pytest.raises(ConflictError) as mismatch:
        remote.install("NEW0000021", service_point=str(points[site]), replaces=old)
    assert mismatch.value.code == "headend.replaces_mismatch"
    with pytest.raises(UnknownDeviceError) as unknown:
        remote.install("NEW0000022", service_point="SP-NOWHERE")
    assert unknown.value.code == "headend.unknown_service_point"


def test_an_armed_meter_closes_when_the_simulated_customer_presses_over_http(
    served: tuple[SimulatedHeadEnd, SimClock, TestClient, HttpHeadEnd],
) -> None:
    local, clock, client, remote = served
    world = local.world
    now = local.now_utc()
    serial = next(
        world.reported_serial[m]
        for m in range(30, world.territory.sites.count)
        if bool(world.has_switch[m])
        and local.link(world.reported_serial[m], now).margin_db > 15
        and local.link(world.reported_serial[m], now).powered
        and local.link(world.reported_serial[m], now).radio_ok
        and local.link(world.reported_serial[m], now).collector_up
    )
    assert client.post("/v1/sim/press", json={"serial_number": serial}).json() == {"closed": False}
    remote.disconnect(serial)
    clock.advance(dt.timedelta(minutes=10))
    armed = remote.arm_reconnect(serial)
    clock.advance(dt.timedelta(minutes=2))
    assert remote.command_status(armed).result["switch"] == "armed"
    assert client.post("/v1/sim/press", json={"serial_number": serial}).json() == {"closed": True}
    read = remote.read_on_demand(serial)
    clock.advance(dt.timedelta(minutes=2))
    assert remote.command_status(read).result["switch"] == "closed"
