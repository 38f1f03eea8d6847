"""A small dispatch world: one territory, meters around a depot, two technicians."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from meterops.dispatch.service import Planner
from meterops.models import Feeder, Meter, Premise, Technician, Territory, Transformer
from meterops.routing import GreatCircleTravel, MaxIterations
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType
from tests.fixtures.builders import create_installed_meter, create_service_point, create_transformer

DAY = dt.date(2026, 7, 6)
"""A Monday."""
EVE = dt.datetime(2026, 7, 5, 22, 0, tzinfo=dt.UTC)
"""The evening before (17:00 in Chicago)."""
DEPOT = (41.60, -93.60)
POLICY = WorkOrderPolicy(utility_timezone="America/Chicago", bundle_radius_m=30)


def planner(seed: int = 0) -> Planner:
    return Planner(
        travel=GreatCircleTravel(),
        utility_timezone="America/Chicago",
        stop=MaxIterations(300),
        seed=seed,
    )


def local(hour: int, minute: int = 0) -> dt.datetime:
    """A time on DAY in Chicago (CDT, UTC-5) as UTC."""
    return dt.datetime(2026, 7, 6, hour + 5, minute, tzinfo=dt.UTC)


@dataclass
class World:
    session: Session
    territory: Territory
    transformer: Transformer
    meters: list[Meter] = field(default_factory=list)
    technicians: dict[str, Technician] = field(default_factory=dict)

    def meter(self, lat: float, lon: float, **overrides: object) -> Meter:
        service_point = create_service_point(
            self.session,
            transformer=self.transformer,
            transformer_rated=bool(overrides.pop("transformer_rated", False)),
        )
        premise = self.session.get_one(Premise, service_point.premise_id)
        premise.latitude, premise.longitude = lat, lon
        self.session.flush()
        meter, _ = create_installed_meter(self.session, service_point=service_point, **overrides)
        self.meters.append(meter)
        return meter

    def technician(
        self, number: str, *, skills: tuple[str, ...] = ("residential",), **overrides: object
    ) -> Technician:
        technician = Technician(
            **{
                "employee_number": number,
                "name": f"Tech {number}",
                "skills": list(skills),
                "certifications": ["nfpa70e"],
                "territory_id": self.territory.id,
                "depot_latitude": DEPOT[0],
                "depot_longitude": DEPOT[1],
                "shift_start": dt.time(7, 0),
                "shift_end": dt.time(15, 30),
                "break_minutes": 30,
                "max_stops": 25,
                **overrides,
            }
        )
        self.session.add(technician)
        self.session.flush()
        self.technicians[number] = technician
        return technician

    def order(
        self, meter: Meter, order_type: WorkOrderType = WorkOrderType.EXCHANGE, **fields: object
    ) -> str:
        request = OrderRequest.model_validate(
            {"order_type": order_type, "meter_serial": meter.serial_number, **fields}
        )
        created = workorders_service.create_order(
            self.session, request, actor="test", now=EVE, policy=POLICY
        )
        return created.order_number


@pytest.fixture
def world(session: Session) -> World:
    transformer = create_transformer(session)
    feeder = session.get_one(Feeder, transformer.feeder_id)
    territory = session.get_one(Territory, feeder.territory_id)
    return World(session=session, territory=territory, transformer=transformer)


def spread(world: World, count: int, *, start: int = 0) -> list[Meter]:
    """Meters on a small grid east and north of the depot (about 0.4-3 km apart)."""
    return [
        world.meter(41.60 + 0.004 * ((i + start) % 5), -93.60 + 0.006 * ((i + start) // 5 + 1))
        for i in range(count)
    ]
