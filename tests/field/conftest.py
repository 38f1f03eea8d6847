"""A small dispatched field day: one technician linked to a user, an exchange order on a route."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from meterops.auth.service import CurrentUser
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.service import Planner
from meterops.models import Feeder, Meter, Premise, ServicePoint, Technician, Territory, TruckStock
from meterops.models.org import Role, User, UserTerritory
from meterops.routing import GreatCircleTravel, MaxIterations
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType
from tests.fixtures.builders import (
    create_account,
    create_installed_meter,
    create_meter,
    create_service_point,
    create_transformer,
)

DAY = dt.date(2026, 7, 6)
"""A Monday."""
EVE = dt.datetime(2026, 7, 5, 22, 0, tzinfo=dt.UTC)
ON_DAY = dt.datetime(2026, 7, 6, 14, 0, tzinfo=dt.UTC)
"""09:00 in Chicago on DAY."""
POLICY = WorkOrderPolicy(utility_timezone="America/Chicago")


def current(user: User, territory_ids: set[int]) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        territory_ids=frozenset(territory_ids),
        csrf_token="csrf-token-for-tests",
    )


@dataclass
class FieldDay:
    session: Session
    territory: Territory
    technician: Technician
    tech_user: CurrentUser
    other_tech_user: CurrentUser
    dispatcher: CurrentUser
    analyst: CurrentUser
    meters: list[Meter]
    service_points: list[ServicePoint]
    spare: Meter
    orders: list[str]


def _user(session: Session, name: str, role: Role, territory: Territory) -> CurrentUser:
    user = User(username=name, display_name=name.title(), role=role)
    session.add(user)
    session.flush()
    session.add(UserTerritory(user_id=user.id, territory_id=territory.id))
    session.flush()
    return current(user, {territory.id})


def _technician(session: Session, number: str, territory: Territory, user_id: int) -> Technician:
    technician = Technician(
        employee_number=number,
        name=f"Tech {number}",
        skills=["residential"],
        certifications=["nfpa70e"],
        territory_id=territory.id,
        depot_latitude=41.60,
        depot_longitude=-93.60,
        shift_start=dt.time(7, 0),
        shift_end=dt.time(15, 30),
        user_id=user_id,
    )
    session.add(technician)
    session.flush()
    return technician


@pytest.fixture
def field_day(session: Session) -> FieldDay:
    return build_field_day(session)


def build_field_day(session: Session) -> FieldDay:
    """Build the day in the session (flushes; the caller commits or rolls back)."""
    transformer = create_transformer(session)
    territory = session.get_one(
        Territory, session.get_one(Feeder, transformer.feeder_id).territory_id
    )
    tech_user = _user(session, "tina", Role.TECHNICIAN, territory)
    other = _user(session, "otto", Role.TECHNICIAN, territory)
    technician = _technician(session, "E1", territory, tech_user.id)
    meters, points, orders = [], [], []
    for i in range(2):
        point = create_service_point(session, transformer=transformer)
        premise = session.get_one(Premise, point.premise_id)
        premise.latitude, premise.longitude = 41.60 + 0.004 * (i + 1), -93.60 + 0.005
        meter, _ = create_installed_meter(session, service_point=point, meter_class="CL200")
        create_account(session, service_point=point)
        meters.append(meter)
        points.append(point)
        created = workorders_service.create_order(
            session,
            OrderRequest(
                order_type=WorkOrderType.EXCHANGE,
                meter_serial=meter.serial_number,
                evidence_summary="Register stopped while the transformer's other meters move.",
            ),
            actor="test",
            now=EVE,
            policy=POLICY,
        )
        orders.append(created.order_number)
    session.add(TruckStock(technician_id=technician.id, item="meter:2S", quantity=3))
    spare = create_meter(session, form="2S")
    session.flush()
    planner = Planner(
        travel=GreatCircleTravel(), utility_timezone="America/Chicago", stop=MaxIterations(100)
    )
    dispatch_service.plan_day(
        session, day=DAY, territory_code=territory.code, planner=planner, actor="test", now=EVE
    )
    dispatch_service.dispatch_day(
        session, day=DAY, territory_code=territory.code, actor="test", now=EVE
    )
    return FieldDay(
        session=session,
        territory=territory,
        technician=technician,
        tech_user=tech_user,
        other_tech_user=other,
        dispatcher=_user(session, "dana", Role.DISPATCHER, territory),
        analyst=_user(session, "andy", Role.ANALYST, territory),
        meters=meters,
        service_points=points,
        spare=spare,
        orders=orders,
    )
