"""A small dispatch world: one territory, meters around a depot, two technicians."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterops.config import Settings
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.dispatch.service import Planner
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.headend.simulated import SimClock, SimulatedHeadEnd, WallClock
from meterops.models import Feeder, Meter, Premise, Technician, Territory, Transformer
from meterops.routing import GreatCircleTravel, MaxIterations
from meterops.simulator import FaultRates, small_town
from meterops.simulator import World as SimWorld
from meterops.simulator.fleetfiles import write_fleet_files
from meterops.web.app import create_app
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType
from tests.fixtures.builders import create_installed_meter, create_service_point, create_transformer
from tests.fixtures.web import create_web_user, signed_in

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


# --------------------------------------------------------------------------------------------
# A simulated territory: the simulator's fleet files imported through the real fleet import,
# and a simulated head-end over the same world (so the orders' meters answer pings or not).

SIM_START = dt.date(2026, 7, 6)
SIM_RATES = FaultRates(radio_failure_per_meter_year=3.0, collector_down_per_collector_year=0.0)


@dataclass
class SimTerritory:
    session: Session
    world: SimWorld
    head_end: SimulatedHeadEnd
    clock: SimClock
    territory_code: str

    def dead_meters(self) -> list[str]:
        """Serials of meters whose radio failed before now and is not repaired."""
        return dead_meters(self.world, self.clock.now())

    def healthy_meters(self) -> list[str]:
        """Serials of installed meters without any fault in the horizon."""
        return healthy_meters(self.world)

    def wait(self, seconds: float) -> None:
        """What the ping flow calls instead of sleeping: the simulated clock moves."""
        self.clock.advance(dt.timedelta(seconds=seconds))

    def order(self, serial: str, order_type: WorkOrderType, **fields: object) -> str:
        request = OrderRequest.model_validate(
            {"order_type": order_type, "meter_serial": serial, **fields}
        )
        return workorders_service.create_order(
            self.session, request, actor="test", now=self.clock.now(), policy=POLICY
        ).order_number


def dead_meters(world: SimWorld, now: dt.datetime) -> list[str]:
    """Serials of meters whose radio failed before ``now`` and is not repaired."""
    faults = world.ground_truth().filter(
        (pl.col("kind") == "radio_failure")
        & (pl.col("start_utc") < now)
        & pl.col("end_utc").is_null()
    )
    return sorted(faults["meter_serial"].to_list())


def healthy_meters(world: SimWorld) -> list[str]:
    """Serials of installed meters without any fault in the horizon."""
    faulty = set(world.ground_truth()["meter_serial"].drop_nulls().to_list())
    installed = (str(world.reported_serial[m]) for m in range(world.territory.sites.count))
    return [s for s in installed if s not in faulty]


def import_sim_fleet(session: Session, folder: Path, world: SimWorld) -> None:
    """The simulator's fleet files through the real fleet import."""
    write_fleet_files(world, folder, as_of=world.scenario.start)
    now = dt.datetime.combine(world.scenario.start, dt.time(6), tzinfo=dt.UTC)
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (folder / name).read_bytes()
        if kind == "meter_programs":
            fleet_service.import_programs(
                session, parse_programs_file(data, file=name), actor="test", now=now
            )
        else:
            fleet_service.import_file(
                session,
                parse_fleet_csv(data, file=name),
                actor="test",
                default_timezone="America/Chicago",
                now=now,
            )
    session.flush()


@pytest.fixture
def sim(session: Session, tmp_path: Path) -> SimTerritory:
    """Prairie Junction (150 service points, radios failing often), the clock on Thursday."""
    world = SimWorld(
        small_town(seed=41, start=SIM_START, service_points=150, horizon_days=12, faults=SIM_RATES),
        keep_days=1,
    )
    import_sim_fleet(session, tmp_path / "fleet", world)
    clock = SimClock(dt.datetime(2026, 7, 9, 17, 0, tzinfo=dt.UTC))
    [code] = session.scalars(select(Territory.code)).all()
    return SimTerritory(session, world, SimulatedHeadEnd(world, clock=clock), clock, code)


def next_workday() -> dt.date:
    """The first Monday-to-Friday after today in Chicago (a day not begun yet)."""
    from meterops.timeutil import utc_now

    day = utc_now().astimezone(ZoneInfo("America/Chicago")).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def sim_world() -> SimWorld:
    """Prairie Junction as in :func:`sim`, for web tests that commit for real."""
    return SimWorld(
        small_town(seed=41, start=SIM_START, service_points=150, horizon_days=12, faults=SIM_RATES),
        keep_days=1,
    )


HEAD_END_START = dt.datetime(2026, 7, 9, 17, 0, tzinfo=dt.UTC)


@dataclass
class Site:
    client: TestClient
    world: SimWorld
    head_end: SimulatedHeadEnd
    day: dt.date

    def dead(self) -> list[str]:
        return dead_meters(self.world, self.clock.now())

    def order(self, serial: str, order_type: str, **fields: object) -> str:
        """Create an order through the JSON API; its number."""
        response = self.client.post(
            "/api/v1/orders", json={"order_type": order_type, "meter_serial": serial, **fields}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["order_number"])

    def healthy(self) -> list[str]:
        return healthy_meters(self.world)

    @property
    def clock(self) -> WallClock:
        assert isinstance(self.head_end.clock, WallClock)
        return self.head_end.clock


def sim_app(database_url: str, folder: Path) -> tuple[FastAPI, SimWorld, SimulatedHeadEnd]:
    """The web app over Prairie Junction (committed for real) with a simulated head-end.

    Simulated time runs 200 times faster than the wall clock: a ping's 60 s timeout passes
    in 0.3 s of the ping flow's waits.
    """
    world = sim_world()
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        import_sim_fleet(session, folder / "fleet", world)
    engine.dispose()
    app = create_app(
        Settings(database_url=database_url, data_dir=folder / "var", cookie_secure=False)
    )
    head_end = SimulatedHeadEnd(world, clock=WallClock(HEAD_END_START, speed=200.0))
    app.state.head_end = head_end
    return app, world, head_end


@contextmanager
def web_site(database_url: str, folder: Path) -> Iterator[Site]:
    """A TestClient over :func:`sim_app`."""
    app, world, head_end = sim_app(database_url, folder)
    user = create_web_user(database_url, f"dispatch-supervisor-{folder.name}")
    with TestClient(app, base_url="https://testserver") as client:
        signed_in(client, user)
        yield Site(client, world, head_end, next_workday())
