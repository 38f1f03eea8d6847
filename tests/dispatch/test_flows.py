"""Ping before the visit, through the simulated head-end over a simulated territory."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from meterops.dispatch import flows, views
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.flows import PingPurpose
from meterops.dispatch.schemas import PingReport
from meterops.headend.client import HttpHeadEnd
from meterops.headend.http import create_app
from meterops.models import AuditEvent
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import WorkOrderType
from tests.dispatch.conftest import SimTerritory, planner

S = WorkOrderStatus
T = WorkOrderType
FRIDAY = dt.date(2026, 7, 10)


def ping(sim: SimTerritory, purpose: PingPurpose, day: dt.date = FRIDAY) -> PingReport:
    return flows.ping_before_visits(
        sim.session,
        sim.head_end,
        day=day,
        purpose=purpose,
        territory_code=sim.territory_code,
        planner=planner(),
        actor="system:dispatch",
        now=sim.clock.now(),
        wait=sim.wait,
    )


def test_a_recovered_meter_is_cancelled_before_planning_and_a_dead_one_stays(
    sim: SimTerritory,
) -> None:
    recovered_serial, dead_serial = sim.dead_meters()[:2]
    healthy_serial = sim.healthy_meters()[0]
    recovered = sim.order(recovered_serial, T.NON_COMM_INVESTIGATION)
    dead = sim.order(dead_serial, T.RADIO_MODULE_REPLACEMENT)
    exchange = sim.order(healthy_serial, T.EXCHANGE)
    # The radio came back (a technician of another crew swapped it yesterday).
    sim.world.replace_radio_module(recovered_serial, at=sim.clock.now() - dt.timedelta(hours=2))

    report = ping(sim, PingPurpose.BEFORE_PLANNING)

    assert report.recovered == [recovered]
    assert report.pinged == 2  # the exchange is not a non-comm order: its meter is not pinged
    by_number = {o.order_number: o for o in report.outcomes}
    assert by_number[recovered].state == "confirmed"
    assert by_number[dead].state == "failed"
    assert by_number[dead].reason == "no_response"
    gone = workorders_service.read_order(sim.session, recovered)
    assert gone.status is S.CANCELLED
    assert recovered_serial in (gone.status_reason or "")
    assert gone.last_ping is not None
    assert gone.last_ping["state"] == "confirmed"
    assert gone.last_ping["result"]["rssi_dbm"] < 0
    still = workorders_service.read_order(sim.session, dead)
    assert still.status is S.CREATED
    assert still.last_ping is not None
    assert still.last_ping["reason"] == "no_response"
    assert workorders_service.read_order(sim.session, exchange).last_ping is None
    cancel = sim.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_id == recovered, AuditEvent.action == "workorder.status"
        )
    ).one()
    assert cancel.data["to"] == "cancelled"
    assert cancel.data["ping"]["command_id"] == gone.last_ping["command_id"]


def test_planning_with_pings_leaves_recovered_meters_off_the_routes(sim: SimTerritory) -> None:
    recovered_serial, dead_serial = sim.dead_meters()[:2]
    recovered = sim.order(recovered_serial, T.NON_COMM_INVESTIGATION)
    dead = sim.order(dead_serial, T.NON_COMM_INVESTIGATION)
    sim.world.replace_radio_module(recovered_serial, at=sim.clock.now() - dt.timedelta(hours=1))

    plans, report = flows.plan_day_with_pings(
        sim.session,
        sim.head_end,
        day=FRIDAY,
        territory_code=sim.territory_code,
        planner=planner(),
        actor="dispatcher",
        now=sim.clock.now(),
        wait=sim.wait,
    )

    assert report is not None
    assert report.recovered == [recovered]
    [read] = views.day_plans(
        sim.session,
        day=FRIDAY,
        territory_code=sim.territory_code,
        utility_timezone="America/Chicago",
    )
    on_routes = {o.order_number for r in read.routes for v in r.visits for o in v.orders}
    assert on_routes == {dead}
    assert len(plans) == 1


def test_the_morning_ping_takes_a_recovered_meter_off_a_dispatched_route(
    sim: SimTerritory,
) -> None:
    first, second = sim.dead_meters()[:2]
    one = sim.order(first, T.NON_COMM_INVESTIGATION)
    two = sim.order(second, T.NON_COMM_INVESTIGATION)
    exchange = sim.order(sim.healthy_meters()[0], T.EXCHANGE)
    now = sim.clock.now()
    dispatch_service.plan_day(
        sim.session,
        day=FRIDAY,
        territory_code=sim.territory_code,
        planner=planner(),
        actor="dispatcher",
        now=now,
    )
    dispatch_service.dispatch_day(
        sim.session, day=FRIDAY, territory_code=sim.territory_code, actor="dispatcher", now=now
    )
    # Overnight the first meter's radio is replaced; the clock moves to 06:30 Friday (CDT).
    sim.world.replace_radio_module(first, at=now + dt.timedelta(hours=3))
    sim.clock.advance(dt.datetime(2026, 7, 10, 11, 30, tzinfo=dt.UTC) - now)

    report = ping(sim, PingPurpose.MORNING_OF_VISIT)

    assert report.recovered == [one]
    assert workorders_service.read_order(sim.session, one).status is S.CANCELLED
    assert workorders_service.read_order(sim.session, two).status is S.ASSIGNED
    [read] = views.day_plans(
        sim.session,
        day=FRIDAY,
        territory_code=sim.territory_code,
        utility_timezone="America/Chicago",
    )
    on_routes = {o.order_number for r in read.routes for v in r.visits for o in v.orders}
    assert on_routes == {two, exchange}


def test_without_an_answer_in_time_the_order_stays_and_the_ping_is_pending(
    sim: SimTerritory,
) -> None:
    serial = sim.dead_meters()[0]
    number = sim.order(serial, T.NON_COMM_INVESTIGATION)
    sim.world.replace_radio_module(serial, at=sim.clock.now() - dt.timedelta(hours=1))
    report = flows.ping_before_visits(
        sim.session,
        sim.head_end,
        day=FRIDAY,
        purpose=PingPurpose.BEFORE_PLANNING,
        territory_code=None,
        planner=planner(),
        actor="system:dispatch",
        now=sim.clock.now(),
        policy=flows.PingPolicy(wait_s=0.0),
        wait=sim.wait,
    )
    assert report.recovered == []
    assert [o.state for o in report.outcomes] == ["pending"]
    assert workorders_service.read_order(sim.session, number).status is S.CREATED


def test_pings_travel_over_http_to_the_head_end_service(sim: SimTerritory) -> None:
    """The same flow through the HTTP client and the head-end service (in process)."""
    recovered_serial, dead_serial = sim.dead_meters()[:2]
    recovered = sim.order(recovered_serial, T.NON_COMM_INVESTIGATION)
    dead = sim.order(dead_serial, T.NON_COMM_INVESTIGATION)
    sim.world.replace_radio_module(recovered_serial, at=sim.clock.now() - dt.timedelta(hours=1))
    with TestClient(create_app(sim.head_end, clock=sim.clock)) as service:
        head_end = HttpHeadEnd(client=service)
        report = flows.ping_before_visits(
            sim.session,
            head_end,
            day=FRIDAY,
            purpose=PingPurpose.BEFORE_PLANNING,
            territory_code=sim.territory_code,
            planner=planner(),
            actor="system:dispatch",
            now=sim.clock.now(),
            wait=sim.wait,
        )
    assert report.recovered == [recovered]
    assert {o.order_number: o.state for o in report.outcomes} == {
        recovered: "confirmed",
        dead: "failed",
    }
