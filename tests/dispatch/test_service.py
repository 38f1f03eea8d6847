"""Planning a day, dispatching it, and changing it during the day."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from meterops.dispatch import changes, crews, views
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.schemas import AvailabilityUpdate, DayPlanRead, StockUpdate
from meterops.errors import ConflictError
from meterops.models import AuditEvent
from meterops.workorders import service as workorders_service
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import WorkOrderType
from tests.dispatch.conftest import DAY, EVE, World, local, planner, spread

S = WorkOrderStatus


def plan(world: World, now: dt.datetime = EVE) -> DayPlanRead:
    dispatch_service.plan_day(
        world.session,
        day=DAY,
        territory_code=world.territory.code,
        planner=planner(),
        actor="dispatcher",
        now=now,
    )
    return the_plan(world)


def the_plan(world: World) -> DayPlanRead:
    [read] = views.day_plans(
        world.session,
        day=DAY,
        territory_code=world.territory.code,
        utility_timezone="America/Chicago",
    )
    return read


def route_of(read: DayPlanRead, technician: str) -> list[str]:
    route = next(r for r in read.routes if r.technician == technician)
    return [o.order_number for v in route.visits for o in v.orders]


def status(world: World, number: str) -> WorkOrderStatus:
    return workorders_service.get_order(world.session, number).status


def test_optimizing_the_day_schedules_every_order_on_a_route(world: World) -> None:
    world.technician("E1")
    world.technician("E2")
    numbers = [world.order(m) for m in spread(world, 8)]
    read = plan(world)
    planned = sorted(route_of(read, "E1") + route_of(read, "E2"))
    assert planned == sorted(numbers)
    assert {status(world, n) for n in numbers} == {S.SCHEDULED}
    order = workorders_service.read_order(world.session, numbers[0])
    assert order.scheduled_date == DAY
    assert order.technician in {"E1", "E2"}
    assert read.kpis.orders_served == 8
    assert read.kpis.orders_left_out == 0
    assert 0 < read.kpis.drive_time_share < 1
    for route in read.routes:
        if route.visits:
            assert route.departure_local is not None
            assert route.departure_local >= "07:00"


def test_a_full_day_takes_its_break_around_midday(world: World) -> None:
    world.technician("E1")
    for meter in spread(world, 12):
        world.order(meter)
    [route] = plan(world).routes
    assert len(route.visits) == 12
    [lunch] = route.breaks
    assert "09:45" <= lunch.start_local <= "12:15"


def test_an_order_nobody_has_the_skill_for_is_left_out_with_the_reason(world: World) -> None:
    world.technician("E1")
    [meter] = spread(world, 1)
    number = world.order(meter, WorkOrderType.ACCURACY_TEST)
    read = plan(world)
    assert [(o.order_number, o.reason) for o in read.left_out] == [
        (number, "no_technician_with_skill")
    ]
    assert status(world, number) is S.CREATED
    assert read.kpis.left_out_by_reason == {"no_technician_with_skill": 1}


def test_an_appointment_is_kept(world: World) -> None:
    world.technician("E1")
    meters = spread(world, 4)
    numbers = [world.order(m) for m in meters[:3]]
    booked = world.order(meters[3], appointment_start_utc=local(13), appointment_end_utc=local(14))
    read = plan(world)
    [visit] = [v for r in read.routes for v in r.visits if v.orders[0].order_number == booked]
    assert local(13) <= visit.start_utc <= local(14)
    assert visit.window_local == "13:00–14:00"
    assert sorted(route_of(read, "E1")) == sorted([*numbers, booked])


def test_a_technician_off_that_day_gets_no_route(world: World) -> None:
    world.technician("E1")
    world.technician("E2")
    crews.set_availability(
        world.session,
        "E2",
        DAY,
        AvailabilityUpdate(available=False, note="training"),
        actor="supervisor",
        now=EVE,
    )
    for meter in spread(world, 4):
        world.order(meter)
    read = plan(world)
    assert [r.technician for r in read.routes] == ["E1"]
    assert len(route_of(read, "E1")) == 4


def test_a_truck_that_runs_out_of_meters_leaves_the_rest_out(world: World) -> None:
    world.technician("E1")
    crews.set_stock(
        world.session, "E1", StockUpdate(item="meter:2S", quantity=2), actor="shop", now=EVE
    )
    numbers = [world.order(m, priority=4) for m in spread(world, 3)]
    urgent = world.order(spread(world, 1, start=7)[0], priority=2)
    read = plan(world)
    assert len(route_of(read, "E1")) == 2
    assert urgent in route_of(read, "E1")
    left = {o.order_number: o.reason for o in read.left_out}
    assert set(left) <= set(numbers)
    assert set(left.values()) == {"over_capacity_or_penalty_cheaper"}
    assert len(left) == 2


def test_each_item_on_the_truck_is_counted_on_its_own(world: World) -> None:
    world.technician("E1")
    for item, quantity in (("meter:2S", 1), ("radio_module", 3)):
        crews.set_stock(
            world.session, "E1", StockUpdate(item=item, quantity=quantity), actor="shop", now=EVE
        )
    exchanges = [world.order(m) for m in spread(world, 3)]
    read = plan(world)
    served = route_of(read, "E1")
    assert len([n for n in exchanges if n in served]) == 1
    left = {o.order_number: (o.reason, o.detail) for o in read.left_out}
    assert len(left) == 2
    for reason, detail in left.values():
        assert reason == "truck_stock_short"
        assert detail == "E1's truck carries 1 × meter:2S; the route needed 3"


def test_radio_modules_are_needed_for_module_replacements(world: World) -> None:
    world.technician("E1")
    crews.set_stock(
        world.session, "E1", StockUpdate(item="meter:2S", quantity=10), actor="shop", now=EVE
    )
    [meter] = spread(world, 1)
    number = world.order(meter, WorkOrderType.RADIO_MODULE_REPLACEMENT)
    read = plan(world)
    assert [o.order_number for o in read.left_out] == [number]


def test_dispatching_assigns_the_orders_and_the_day_is_no_longer_re_optimized(
    world: World,
) -> None:
    world.technician("E1")
    numbers = [world.order(m) for m in spread(world, 3)]
    plan(world)
    dispatch_service.dispatch_day(
        world.session, day=DAY, territory_code=world.territory.code, actor="dispatcher", now=EVE
    )
    assert {status(world, n) for n in numbers} == {S.ASSIGNED}
    with pytest.raises(ConflictError, match="dispatched"):
        plan(world)


def test_reassigning_by_hand_moves_the_order_and_a_re_plan_keeps_it_there(
    world: World,
) -> None:
    world.technician("E1")
    world.technician("E2")
    numbers = [world.order(m) for m in spread(world, 6)]
    read = plan(world)
    number = route_of(read, "E1")[0] if route_of(read, "E1") else route_of(read, "E2")[0]
    target = "E2" if number in route_of(read, "E1") else "E1"
    changes.reassign_order(
        world.session, number, technician=target, planner=planner(), actor="dispatcher", now=EVE
    )
    after = the_plan(world)
    assert number in route_of(after, target)
    assert sorted(route_of(after, "E1") + route_of(after, "E2")) == sorted(numbers)
    order = workorders_service.read_order(world.session, number)
    assert (order.technician, order.fixed_technician) == (target, True)
    assert after.revision == read.revision + 1
    replanned = plan(world)
    assert number in route_of(replanned, target)
    actions = world.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == number)
    ).all()
    assert "workorder.reassign" in actions


def test_reassigning_to_a_technician_without_the_skill_is_refused(world: World) -> None:
    world.technician("E1", skills=("residential", "ct_rated"))
    world.technician("E2")
    ct = world.order(world.meter(41.61, -93.59, transformer_rated=True, form="9S"))
    world.order(spread(world, 1)[0])
    read = plan(world)
    assert ct in route_of(read, "E1")
    with pytest.raises(ConflictError, match="cannot take order"):
        changes.reassign_order(
            world.session, ct, technician="E2", planner=planner(), actor="dispatcher", now=EVE
        )


def test_an_emergency_reconnect_is_inserted_into_the_day_under_way(world: World) -> None:
    world.technician("E1")
    for meter in spread(world, 4):
        world.order(meter)
    plan(world)
    dispatch_service.dispatch_day(
        world.session, day=DAY, territory_code=world.territory.code, actor="dispatcher", now=EVE
    )
    at_eleven = local(11)
    reconnect = world.order(spread(world, 1, start=9)[0], WorkOrderType.FIELD_RECONNECT)
    _, served = changes.insert_order(
        world.session, reconnect, day=DAY, planner=planner(), actor="dispatcher", now=at_eleven
    )
    assert served
    assert status(world, reconnect) is S.ASSIGNED
    read = the_plan(world)
    [visit] = [v for r in read.routes for v in r.visits if v.stop_key == reconnect]
    assert visit.start_utc >= at_eleven


def test_cancelling_a_planned_order_takes_it_off_the_route(world: World) -> None:
    world.technician("E1")
    numbers = [world.order(m) for m in spread(world, 4)]
    before = plan(world)
    gone = route_of(before, "E1")[1]
    changes.cancel_order(
        world.session,
        gone,
        reason="customer moved out",
        planner=planner(),
        actor="dispatcher",
        now=EVE,
    )
    after = the_plan(world)
    assert sorted(route_of(after, "E1")) == sorted(n for n in numbers if n != gone)
    assert status(world, gone) is S.CANCELLED
    [route_before] = before.routes
    [route_after] = after.routes
    assert route_after.drive_min <= route_before.drive_min


def test_a_re_plan_that_leaves_an_order_out_puts_it_back_in_the_queue(world: World) -> None:
    world.technician("E1")
    numbers = [world.order(m) for m in spread(world, 3)]
    plan(world)
    crews.set_stock(
        world.session, "E1", StockUpdate(item="meter:2S", quantity=1), actor="shop", now=EVE
    )
    read = plan(world)
    assert len(route_of(read, "E1")) == 1
    assert sorted(s for s in (status(world, n) for n in numbers)) == sorted(
        [S.SCHEDULED, S.CREATED, S.CREATED]
    )


def test_the_plan_exports_as_geojson_with_the_order_numbers(world: World) -> None:
    world.technician("E1")
    numbers = [world.order(m) for m in spread(world, 3)]
    plan(world)
    collection = views.plan_geojson(
        world.session, day=DAY, territory_code=None, utility_timezone="America/Chicago"
    )
    kinds = [f["properties"]["kind"] for f in collection["features"]]
    assert kinds.count("route") == 1
    assert kinds.count("stop") == 3
    stops = [f for f in collection["features"] if f["properties"]["kind"] == "stop"]
    assert sorted(n for f in stops for n in f["properties"]["orders"]) == sorted(numbers)
    lon, lat = stops[0]["geometry"]["coordinates"]
    assert 41.5 < lat < 41.7
    assert -93.7 < lon < -93.5


def test_a_technician_sent_home_keeps_what_started_and_the_rest_moves(world: World) -> None:
    world.technician("E1")
    world.technician("E2")
    for meter in spread(world, 14):
        world.order(meter)
    before = plan(world)
    dispatch_service.dispatch_day(
        world.session, day=DAY, territory_code=world.territory.code, actor="d", now=EVE
    )
    now = local(10)
    e1 = next(r for r in before.routes if r.technician == "E1")
    started = [o.order_number for v in e1.visits if v.start_utc < now for o in v.orders]
    later = [o.order_number for v in e1.visits if v.start_utc >= now for o in v.orders]
    assert later  # the day is long enough that E1 still had work after 10:00

    changes.send_home(
        world.session,
        "E1",
        day=DAY,
        reason="sick",
        planner=planner(),
        actor="dispatcher",
        now=now,
    )

    after = the_plan(world)
    assert route_of(after, "E1") == started
    moved = set(route_of(after, "E2")) & set(later)
    left = {o.order_number for o in after.left_out}
    assert moved | left == set(later)
    for number in moved:
        assert workorders_service.read_order(world.session, number).technician == "E2"
    for number in left:
        assert status(world, number) is S.CREATED
    assert after.revision == before.revision + 1
    # A later change does not hand E1 new work.
    emergency = world.order(spread(world, 1, start=20)[0], WorkOrderType.FIELD_RECONNECT)
    changes.insert_order(
        world.session, emergency, day=DAY, planner=planner(), actor="d", now=local(11)
    )
    assert emergency not in route_of(the_plan(world), "E1")


def test_cancelling_one_order_of_a_bundle_keeps_the_stop_for_the_other(world: World) -> None:
    world.technician("E1")
    others = [world.order(m) for m in spread(world, 3)]
    first = world.order(world.meter(41.63, -93.58))
    second = world.order(world.meter(41.63, -93.58), WorkOrderType.TAMPER_INVESTIGATION)
    bundle = workorders_service.get_order(world.session, second).bundle_key
    assert bundle == first
    before = plan(world)
    [stop] = [v for r in before.routes for v in r.visits if v.stop_key == bundle]
    assert {o.order_number for o in stop.orders} == {first, second}

    changes.cancel_order(
        world.session,
        first,
        reason="meter already exchanged",
        planner=planner(),
        actor="dispatcher",
        now=EVE,
    )

    after = the_plan(world)
    [stop] = [v for r in after.routes for v in r.visits if v.stop_key == bundle]
    assert [o.order_number for o in stop.orders] == [second]
    assert (stop.end_utc - stop.start_utc).total_seconds() == 45 * 60
    assert sorted(route_of(after, "E1")) == sorted([*others, second])
    assert status(world, first) is S.CANCELLED
    assert status(world, second) is S.SCHEDULED
    assert after.kpis.work_orders == 4


def test_an_order_left_out_is_offered_again_and_takes_the_room_a_cancel_frees(
    world: World,
) -> None:
    world.technician("E1", max_stops=2)
    numbers = [world.order(m) for m in spread(world, 3)]
    before = plan(world)
    [left] = [o.order_number for o in before.left_out]
    assert status(world, left) is S.CREATED
    # Inserting it while the day is full: it stays out, with the reason, and waits.
    _, placed = changes.insert_order(
        world.session, left, day=DAY, planner=planner(), actor="dispatcher", now=EVE
    )
    assert not placed
    full = the_plan(world)
    assert [o.order_number for o in full.left_out] == [left]
    assert status(world, left) is S.CREATED
    # A cancel frees a stop: the re-plan takes the waiting order in.
    served = route_of(before, "E1")
    changes.cancel_order(
        world.session,
        served[0],
        reason="customer cancelled",
        planner=planner(),
        actor="dispatcher",
        now=EVE,
    )
    after = the_plan(world)
    assert sorted(route_of(after, "E1")) == sorted(n for n in numbers if n != served[0])
    assert after.left_out == []
    assert status(world, left) is S.SCHEDULED


def test_a_waiting_order_given_by_hand_joins_that_technicians_route(world: World) -> None:
    world.technician("E1")
    world.technician("E2")
    for meter in spread(world, 4):
        world.order(meter)
    plan(world)
    late = world.order(spread(world, 1, start=8)[0])
    changes.reassign_order(
        world.session,
        late,
        technician="E2",
        planner=planner(),
        actor="dispatcher",
        now=EVE,
        day=DAY,
    )
    assert late in route_of(the_plan(world), "E2")
    order = workorders_service.read_order(world.session, late)
    assert (order.status, order.technician, order.fixed_technician) == (S.SCHEDULED, "E2", True)


def test_orders_to_ping_are_the_non_comm_ones_of_the_moment(world: World) -> None:
    world.technician("E1")
    [a, b, c] = spread(world, 3)
    non_comm = world.order(a, WorkOrderType.NON_COMM_INVESTIGATION)
    radio = world.order(b, WorkOrderType.RADIO_MODULE_REPLACEMENT)
    world.order(c)
    before = dispatch_service.orders_to_ping(
        world.session, day=DAY, morning=False, territory_code=world.territory.code
    )
    assert sorted(o.order_number for o, _ in before) == sorted([non_comm, radio])
    assert (
        dispatch_service.orders_to_ping(world.session, day=DAY, morning=True, territory_code=None)
        == []
    )
    plan(world)
    morning = dispatch_service.orders_to_ping(
        world.session, day=DAY, morning=True, territory_code=None
    )
    assert sorted(o.order_number for o, _ in morning) == sorted([non_comm, radio])
    assert {serial for _, serial in morning} == {a.serial_number, b.serial_number}
