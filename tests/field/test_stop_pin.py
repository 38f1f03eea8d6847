"""The bytes of ``GET today`` and ``GET order`` pinned against an oracle over whole ORM objects.

The field repository reads only the columns a stop shows (not whole meters, service points,
premises, accounts and customers). These tests build the expected answer the simple way, from
whole ORM objects loaded one by one, and compare the API's JSON byte for byte, so the column
queries cannot drift from what the objects say. The world has what the column queries must get
right: a moved-out and a not-yet-moved-in account on the stops' service points (skipped for the
open one), a customer name outside ASCII, a phone and a missing phone, a diagnostics verdict on
one order and the order's own evidence on the other, and a done order (no customer shown).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterops.auth import service as auth_service
from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.diagnostics.kinds import Cause, ExceptionKind
from meterops.field import checklist
from meterops.field import schemas as s
from meterops.models import (
    Account,
    Customer,
    DayPlan,
    DayPlanActivity,
    DayPlanOrder,
    DayPlanRoute,
    Meter,
    Premise,
    ServicePoint,
    Technician,
    WorkOrder,
)
from meterops.models.diagnostics import DiagnosticException
from meterops.models.workorders import DayPlanStatus
from meterops.timeutil import utc_now
from meterops.web.app import create_app
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.repository import WorkOrderRepository
from tests.field.conftest import DAY, build_field_day
from tests.fixtures.web import sign_in

PASSWORD = "correct horse battery staple 7"
WORKING = {WorkOrderStatus.ASSIGNED, WorkOrderStatus.EN_ROUTE, WorkOrderStatus.ON_SITE}


@dataclass
class World:
    client: TestClient
    factory: sessionmaker[Session]
    orders: list[str]
    technician_id: int


def _order(session: Session, number: str) -> WorkOrder:
    order = WorkOrderRepository(session).get_by_number(number)
    assert order is not None
    return order


def _seed_variety(session: Session, orders: list[str]) -> None:
    """A moved-out account (no customer shown), a name outside ASCII, a phone, a verdict."""
    first, second = (_order(session, n) for n in orders)
    for order, phone, move_out in (
        (first, "+1 515 555 0101", None),
        (second, None, DAY - dt.timedelta(days=3)),
    ):
        point = session.get_one(ServicePoint, order.service_point_id)
        account = session.scalars(select(Account).where(Account.service_point_id == point.id)).one()
        customer = session.get_one(Customer, account.customer_id)
        customer.phone = phone
        account.move_out_date = move_out
    session.get_one(
        Customer,
        session.scalars(
            select(Account.customer_id).where(Account.service_point_id == first.service_point_id)
        ).one(),
    ).name = "Zoë Müller-Ångström"
    now = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    session.add(
        DiagnosticException(
            meter_id=first.meter_id,
            kind=ExceptionKind.NON_COMMUNICATING,
            first_seen_utc=now,
            last_seen_utc=now,
            opened_at_utc=now,
            evidence={},
            cause=Cause.RADIO_MODULE_FAILURE,
            summary="No reads for 6 days; neighbours on the collector read fine.",
            verdict_evidence={"conditions": ["silent 6 d"], "facts": {"neighbours_ok": 14}},
            work_order_number=first.order_number,
        )
    )
    session.flush()


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = make_engine(module_database_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        day = build_field_day(session)
        auth_service.set_password(
            session, username="tina", password=PASSWORD, actor="test", now=utc_now()
        )
        _seed_variety(session, day.orders)
        orders, technician_id = day.orders, day.technician.id
    folder: Path = tmp_path_factory.mktemp("field-pin")
    settings = Settings(database_url=module_database_url, data_dir=folder)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        assert sign_in(client, "tina", PASSWORD).status_code in {302, 303}
        yield World(client, factory, orders, technician_id)
    engine.dispose()


def _rendered(model: s.TodayRead | s.OrderDetail) -> bytes:
    """How FastAPI renders a response model (JSONResponse: compact, UTF-8)."""
    content = model.model_dump(mode="json")
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


def _oracle_stop(
    session: Session,
    order: WorkOrder,
    *,
    sequence: int | None,
    eta: dt.datetime | None,
    day: dt.date,
) -> s.Stop:
    meter = session.get(Meter, order.meter_id) if order.meter_id is not None else None
    point = (
        session.get(ServicePoint, order.service_point_id)
        if order.service_point_id is not None
        else None
    )
    premise = session.get(Premise, order.premise_id) if order.premise_id is not None else None
    customer = None
    if point is not None and order.status in WORKING:
        for account in session.scalars(select(Account).where(Account.service_point_id == point.id)):
            if account.is_active_on(day):
                person = session.get_one(Customer, account.customer_id)
                customer = s.CustomerRead(
                    name=person.name, account=account.account_number, phone=person.phone
                )
    row = session.scalars(
        select(DiagnosticException)
        .where(DiagnosticException.work_order_number == order.order_number)
        .order_by(DiagnosticException.id.desc())
    ).first()
    if row is not None and row.cause is not None:
        verdict = s.VerdictRead(code=str(row.cause), summary=row.summary or "")
    elif order.evidence.get("summary"):
        verdict = s.VerdictRead(code=order.problem_code, summary=str(order.evidence["summary"]))
    else:
        verdict = None
    return s.Stop(
        order_number=order.order_number,
        sequence=sequence,
        order_type=order.order_type.value,
        status=order.status.value,
        priority=order.priority,
        window_start=order.appointment_start_utc,
        window_end=order.appointment_end_utc,
        eta=eta,
        latitude=order.latitude,
        longitude=order.longitude,
        address=None
        if premise is None
        else f"{premise.address_line}, {premise.city}, {premise.state} {premise.postal_code}",
        meter_serial=None if meter is None else meter.serial_number,
        meter_form=order.meter_form,
        problem_code=order.problem_code,
        verdict=verdict,
        customer=customer,
        done=order.status not in WORKING,
    )


def _oracle_today(session: Session, technician_id: int, csrf_token: str) -> s.TodayRead:
    technician = session.get_one(Technician, technician_id)
    plan = session.scalars(
        select(DayPlan).where(
            DayPlan.plan_date == DAY,
            DayPlan.territory_id == technician.territory_id,
            DayPlan.status == DayPlanStatus.DISPATCHED,
        )
    ).one()
    route = session.scalars(
        select(DayPlanRoute).where(
            DayPlanRoute.day_plan_id == plan.id, DayPlanRoute.technician_id == technician.id
        )
    ).one()
    stops: list[s.Stop] = []
    sequence = 0
    for step in session.scalars(
        select(DayPlanActivity)
        .where(DayPlanActivity.route_id == route.id)
        .order_by(DayPlanActivity.position)
    ):
        if step.stop_key is None:
            continue
        links = session.scalars(
            select(DayPlanOrder).where(
                DayPlanOrder.day_plan_id == plan.id, DayPlanOrder.stop_key == step.stop_key
            )
        ).all()
        orders = sorted(
            (session.get_one(WorkOrder, link.work_order_id) for link in links), key=lambda o: o.id
        )
        orders = [o for o in orders if o.technician_id == technician.id]
        if not orders:
            continue
        sequence += 1
        eta = plan.day_start_utc + dt.timedelta(seconds=step.arrival_s)
        stops += [_oracle_stop(session, o, sequence=sequence, eta=eta, day=DAY) for o in orders]
    following = next((stop for stop in stops if not stop.done), None)
    if following is not None:
        following.next = True
        stops.remove(following)
        stops.insert(0, following)
    return s.TodayRead(
        technician=s.TechnicianRead(
            employee_number=technician.employee_number, name=technician.name
        ),
        day=DAY,
        csrf_token=csrf_token,
        stops=stops,
    )


def _today_bytes(world: World) -> bytes:
    answer = world.client.get("/api/v1/field/today", params={"day": DAY.isoformat()})
    assert answer.status_code == 200
    return answer.content


def test_today_is_byte_identical_to_the_oracle_over_whole_objects(world: World) -> None:
    got = _today_bytes(world)
    csrf = json.loads(got)["csrf_token"]
    with session_scope(world.factory) as session:
        expected = _oracle_today(session, world.technician_id, csrf)
    assert got == _rendered(expected)
    stops = expected.stops
    assert [stop.customer.name for stop in stops if stop.customer] == ["Zoë Müller-Ångström"]
    assert any(stop.verdict and stop.verdict.code == "radio_module_failure" for stop in stops)


def test_an_order_is_byte_identical_to_the_oracle_over_whole_objects(world: World) -> None:
    for number in world.orders:
        answer = world.client.get(f"/api/v1/field/orders/{number}")
        assert answer.status_code == 200
        body = json.loads(answer.content)
        with session_scope(world.factory) as session:
            order = _order(session, number)
            stop = _oracle_stop(
                session, order, sequence=None, eta=None, day=order.scheduled_date or DAY
            )
            point = (
                None
                if order.service_point_id is None
                else session.get_one(ServicePoint, order.service_point_id)
            )
            session.expunge_all()
        pinned = {k: body[k] for k in s.Stop.model_fields}
        assert (
            json.dumps(pinned, ensure_ascii=False).encode()
            == json.dumps(stop.model_dump(mode="json"), ensure_ascii=False).encode()
        )
        assert body["expected_serial"] == stop.meter_serial
        assert body["service_point_number"] == (
            None if point is None else point.service_point_number
        )
        items = checklist.checklist_for(
            None if point is None else point.service_type.value,
            None if point is None else point.voltage_v,
        )
        assert [item["code"] for item in body["checklist"]] == [item.code for item in items]
        assert [item["nominal_v"] for item in body["checklist"]] == [i.nominal_v for i in items]


def test_a_done_order_shows_no_customer_and_is_pinned_too(world: World) -> None:
    with session_scope(world.factory) as session:
        order = _order(session, world.orders[1])
        saved = order.status
        order.status = WorkOrderStatus.COMPLETED
    try:
        got = _today_bytes(world)
        with session_scope(world.factory) as session:
            expected = _oracle_today(session, world.technician_id, json.loads(got)["csrf_token"])
        assert got == _rendered(expected)
        done = [stop for stop in expected.stops if stop.done]
        assert done
        assert all(stop.customer is None for stop in done)
    finally:
        with session_scope(world.factory) as session:
            _order(session, world.orders[1]).status = saved
