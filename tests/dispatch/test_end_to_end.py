"""The whole flow over a simulated territory, from orders to a changed day with true KPIs.

Prairie Junction's fleet and technicians come from the simulator's fleet files through the
real fleet import; meters answer pings through the simulated head-end over the same world.
Orders arrive by programme CSV and by hand; the day is planned (after pinging non-comm
meters), dispatched, changed during the day (an order reassigned by hand, an emergency
reconnect inserted), and the stored plan is checked against routing's independent
feasibility checker and its KPIs recomputed from the routes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import pytest
from sqlalchemy import select

from meterops.audit.service import verify_chain
from meterops.dispatch import changes, flows, views
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.plans import load_day
from meterops.models import Installation, Meter, ServicePoint
from meterops.routing import GreatCircleTravel, check_plan, plan_kpis
from meterops.timeutil import local_day_bounds_utc
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.types import WorkOrderType
from tests.dispatch.conftest import POLICY, SimTerritory, planner

pytestmark = pytest.mark.slow  # a whole-territory scenario: CI runs it on SQLite only

S = WorkOrderStatus
T = WorkOrderType
FRIDAY = dt.date(2026, 7, 10)
ZONE = "America/Chicago"


def at_local(hour: int, minute: int = 0) -> dt.datetime:
    """Friday in Chicago (CDT, UTC-5) as UTC."""
    return dt.datetime(2026, 7, 10, hour + 5, minute, tzinfo=dt.UTC)


def ct_meter(sim: SimTerritory) -> str:
    healthy = set(sim.healthy_meters())
    rated = sim.session.scalars(
        select(Meter.serial_number)
        .join(Installation, Installation.meter_id == Meter.id)
        .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
        .where(ServicePoint.transformer_rated.is_(True), Installation.removed_at_utc.is_(None))
        .order_by(Meter.serial_number)
    )
    return next(s for s in rated if s in healthy)


def orders_on_routes(sim: SimTerritory) -> dict[str, str]:
    [read] = views.day_plans(
        sim.session, day=FRIDAY, territory_code=sim.territory_code, utility_timezone=ZONE
    )
    return {o.order_number: r.technician for r in read.routes for v in r.visits for o in v.orders}


def test_orders_to_a_changed_day_with_consistent_kpis(sim: SimTerritory) -> None:
    session = sim.session
    healthy = [s for s in sim.healthy_meters() if s != ct_meter(sim)]
    # 1. A programme file: eight AMI 2.0 exchanges.
    csv = "order_type,meter_serial,campaign,external_ref\n" + "".join(
        f"exchange,{serial},AMI2-2026,R{i}\n" for i, serial in enumerate(healthy[:8])
    )
    imported = workorders_service.import_programme(
        session, csv.encode(), file="ami2.csv", actor="planner", now=sim.clock.now(), policy=POLICY
    )
    programme = imported.result.created
    assert len(programme) == 8
    # 2. By hand: a CT site check, a high-bill visit with an appointment, two non-comm orders.
    ct = sim.order(ct_meter(sim), T.CT_SITE_CHECK)
    booked = sim.order(
        healthy[8],
        T.HIGH_BILL_INVESTIGATION,
        appointment_start_utc=at_local(13).isoformat(),
        appointment_end_utc=at_local(15).isoformat(),
    )
    recovered_serial, dead_serial = sim.dead_meters()[:2]
    recovered = sim.order(recovered_serial, T.NON_COMM_INVESTIGATION)
    dead = sim.order(dead_serial, T.NON_COMM_INVESTIGATION)
    sim.world.replace_radio_module(recovered_serial, at=sim.clock.now() - dt.timedelta(hours=3))

    # 3. Thursday evening: ping, then plan Friday with the fleet's technicians.
    _, report = flows.plan_day_with_pings(
        session,
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
    planned = orders_on_routes(sim)
    assert set(planned) == {*programme, ct, booked, dead}
    assert workorders_service.read_order(session, ct).required_skill == "ct_rated"
    # 4. Dispatch.
    dispatch_service.dispatch_day(
        session,
        day=FRIDAY,
        territory_code=sim.territory_code,
        actor="dispatcher",
        now=sim.clock.now(),
    )
    assert {workorders_service.get_order(session, n).status for n in planned} == {S.ASSIGNED}

    # 5. Friday 09:00: move a stop that has not started to another technician.
    [read] = views.day_plans(
        session, day=FRIDAY, territory_code=sim.territory_code, utility_timezone=ZONE
    )
    later = [
        (v.start_utc, o.order_number, r.technician)
        for r in read.routes
        for v in r.visits
        for o in v.orders
        if v.start_utc > at_local(10) and o.order_number in programme and len(v.orders) == 1
    ]
    _, moving, holder = min(later)
    target = next(r.technician for r in read.routes if r.technician != holder)
    changes.reassign_order(
        session, moving, technician=target, planner=planner(), actor="dispatcher", now=at_local(9)
    )
    assert orders_on_routes(sim)[moving] == target

    # 6. 10:00: an emergency reconnect after payment, due within the regulator's hours.
    reconnect = workorders_service.create_order(
        session,
        OrderRequest(
            order_type=T.FIELD_RECONNECT,
            meter_serial=healthy[9],
            due_at_utc=at_local(15),
            priority=1,
        ),
        actor="billing",
        now=at_local(10),
        policy=POLICY,
    ).order_number
    _, placed = changes.insert_order(
        session, reconnect, day=FRIDAY, planner=planner(), actor="dispatcher", now=at_local(10)
    )
    assert placed

    # 7. The day as stored: feasible, KPIs true to the routes, statuses in line.
    [row] = dispatch_service.plan_rows(session, day=FRIDAY, territory_code=sim.territory_code)
    loaded = load_day(
        session,
        row,
        travel=GreatCircleTravel(),
        day_end_utc=local_day_bounds_utc(FRIDAY, planner().zone)[1],
    )
    assert check_plan(loaded.problem, loaded.plan) == []
    recomputed = asdict(plan_kpis(loaded.problem, loaded.plan))
    for key in ("orders", "orders_served", "technicians_used", "max_stops_per_technician"):
        assert row.kpis[key] == recomputed[key], key
    assert abs(row.kpis["drive_time_share"] - recomputed["drive_time_share"]) < 1e-9
    final = orders_on_routes(sim)
    assert set(final) == {*programme, ct, booked, dead, reconnect}
    assert final[moving] == target
    [read] = views.day_plans(
        session, day=FRIDAY, territory_code=sim.territory_code, utility_timezone=ZONE
    )
    skills = {r.technician: r.skills for r in read.routes}
    assert "ct_rated" in skills[final[ct]]
    assert read.kpis.work_orders_served == len(final)
    assert read.kpis.orders_left_out == 0
    assert read.kpis.on_time_share == 1.0
    served_stops = sum(len(r.visits) for r in read.routes)
    used = sum(1 for r in read.routes if r.visits)
    assert read.kpis.stops_per_technician == round(served_stops / used, 2)
    visits = {o.order_number: v for r in read.routes for v in r.visits for o in v.orders}
    assert at_local(13) <= visits[booked].start_utc <= at_local(15)
    assert visits[reconnect].start_utc >= at_local(10)
    assert visits[reconnect].start_utc <= at_local(15)
    statuses = {n: workorders_service.get_order(session, n).status for n in final}
    assert set(statuses.values()) == {S.ASSIGNED}
    assert workorders_service.get_order(session, recovered).status is S.CANCELLED
    assert read.revision == 3  # planned, reassigned, inserted
    assert verify_chain(session) == []
