"""A dispatched day for the field load test: technicians who can sign in, each with a route.

:func:`build_world` makes a simulated utility of several districts with ``technicians`` field
technicians (the simulator's fleet files, imported with the real fleet import), creates about
``orders_per_technician`` work orders each through the work-order service, plans and dispatches
the day with the dispatch service (one plan per district, a short solver budget) and gives
every technician a user account (role ``technician``, their district) linked to them
(``Technician.user_id``). The day planned is the next working day in the utility's zone, so
that "today" endpoints asked for that day see a dispatched route.

:func:`fresh_database` makes the empty, migrated database: a SQLite file, or a schema of its
own in a PostgreSQL database (dropped afterwards).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from meterops.auth import service as auth_service
from meterops.db import migrate
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.service import Planner
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.models.org import Role, Territory
from meterops.models.workforce import Technician
from meterops.models.workorders import WorkOrder
from meterops.routing import GreatCircleTravel, MaxRuntime
from meterops.simulator import World, county
from meterops.simulator.fleetfiles import write_fleet_files
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType

__all__ = ["FieldWorld", "TechnicianLogin", "build_world", "fresh_database", "next_workday"]

ZONE = "America/Chicago"
PASSWORD = "Field-bench-2026!"
TECHNICIANS_PER_DISTRICT = 10
"""Technicians per district (each district is planned on its own)."""
SITES_PER_DISTRICT = 800
"""Service points per district (the simulator gives each district whole feeders of ~500)."""
MIX = (
    (WorkOrderType.EXCHANGE, 0.55),
    (WorkOrderType.NON_COMM_INVESTIGATION, 0.25),
    (WorkOrderType.TAMPER_INVESTIGATION, 0.1),
    (WorkOrderType.HIGH_BILL_INVESTIGATION, 0.1),
)


@dataclass(frozen=True, slots=True)
class TechnicianLogin:
    """A simulated technician: how to sign in and what their route holds.

    Attributes:
        username: User name of their account.
        password: Its password.
        employee_number: Their technician number.
        territory: Code of their district.
        orders: Order numbers on their dispatched route for the day.
    """

    username: str
    password: str
    employee_number: str
    territory: str
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FieldWorld:
    """The built world.

    Attributes:
        database_url: Where it lives.
        day: The dispatched day (local date in :data:`ZONE`).
        technicians: One login per technician with a route (technicians without orders are
            left out).
        orders_created: Work orders created.
        build_s: Wall time of the build. [s]
    """

    database_url: str
    day: dt.date
    technicians: tuple[TechnicianLogin, ...]
    orders_created: int
    build_s: float

    @property
    def orders_routed(self) -> int:
        """Orders on some technician's route."""
        return sum(len(t.orders) for t in self.technicians)


@contextmanager
def fresh_database(folder: Path, postgres_url: str | None = None) -> Iterator[str]:
    """A fresh, migrated database; yields its URL.

    Args:
        folder: Where the SQLite file goes (SQLite only).
        postgres_url: A PostgreSQL URL: a schema of its own is made in that database and
            dropped afterwards. None: SQLite.
    """
    if not postgres_url:
        url = f"sqlite:///{folder / 'field.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
        return
    schema = f"bench_field_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    rendered = (
        make_url(postgres_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        engine = make_engine(rendered)
        migrate.upgrade(engine)
        engine.dispose()
        yield rendered
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def next_workday(now: dt.datetime, zone: str = ZONE) -> dt.date:
    """The next Monday-to-Friday local date after ``now``'s local date.

    >>> next_workday(dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC))  # a Friday
    datetime.date(2026, 11, 30)
    """
    day = now.astimezone(ZoneInfo(zone)).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _import_fleet(url: str, world: World, folder: Path, now: dt.datetime) -> None:
    write_fleet_files(world, folder / "fleet", as_of=world.scenario.start)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    for kind in IMPORT_ORDER:
        name = "programs.yaml" if kind == "meter_programs" else f"{kind}.csv"
        data = (folder / "fleet" / name).read_bytes()
        with session_scope(factory) as session:
            if kind == "meter_programs":
                fleet_service.import_programs(
                    session, parse_programs_file(data, file=name), actor="bench", now=now
                )
            else:
                fleet_service.import_file(
                    session,
                    parse_fleet_csv(data, file=name),
                    actor="bench",
                    default_timezone=ZONE,
                    now=now,
                )
    engine.dispose()


def _requests(
    world: World, per_territory: dict[int, int], rng: np.random.Generator
) -> list[OrderRequest]:
    """Orders on self-contained meters, ``per_territory[t]`` of them in territory ``t``."""
    sites = world.territory.sites
    requests = []
    for territory, count in sorted(per_territory.items()):
        mine = np.flatnonzero((sites.territory == territory) & (sites.ct_ratio == 1))
        picks = rng.choice(mine, size=min(count, mine.size), replace=False)
        kinds = rng.choice(len(MIX), size=picks.size, p=[share for _, share in MIX])
        requests += [
            OrderRequest(
                order_type=MIX[int(k)][0],
                meter_serial=str(world.reported_serial[int(meter)]),
                duration_min=10,
                evidence_summary="load-test order",
            )
            for k, meter in zip(kinds, picks, strict=True)
        ]
    return requests


def _residential(session: Session) -> dict[int, int]:
    """Every technician also does residential work; technicians per territory id."""
    per_territory: dict[int, int] = {}
    for technician in session.scalars(select(Technician)):
        if "residential" not in technician.skills:
            technician.skills = [*technician.skills, "residential"]
        per_territory[technician.territory_id] = per_territory.get(technician.territory_id, 0) + 1
    session.flush()
    return per_territory


def _users(session: Session, count_hint: int) -> None:
    """Give every technician a user account in their district, linked to them."""
    codes = dict(session.execute(select(Territory.id, Territory.code)).all())
    technicians = session.scalars(select(Technician).order_by(Technician.employee_number)).all()
    for technician in technicians[: max(count_hint, 0) or None]:
        user = auth_service.create_user(
            session,
            username=technician.employee_number.lower(),
            display_name=technician.name,
            role=Role.TECHNICIAN,
            password=PASSWORD,
            territory_codes=[codes[technician.territory_id]],
            actor="bench",
        )
        technician.user_id = user.id
    session.flush()


def build_world(
    url: str,
    folder: Path,
    *,
    technicians: int,
    orders_per_technician: int = 25,
    solve_seconds: float = 2.0,
    seed: int = 7,
    now: dt.datetime | None = None,
) -> FieldWorld:
    """Build a dispatched day for ``technicians`` technicians in the database at ``url``.

    Args:
        url: A migrated, empty database (see :func:`fresh_database`).
        folder: Scratch folder for the fleet files.
        technicians: How many field technicians (in districts of about ten).
        orders_per_technician: Work orders created per technician (those the planner cannot
            fit in a shift stay waiting).
        solve_seconds: Solver budget per district. [s]
        seed: Seed of the simulated utility and of the order picks.
        now: The moment of planning (default: now); the day planned is the next workday.

    Returns:
        The world: who signs in, which orders each one has.
    """
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    day = next_workday(now)
    n_districts = max(1, round(technicians / TECHNICIANS_PER_DISTRICT))
    districts = tuple(f"District {i + 1:02d}" for i in range(n_districts))
    start = day - dt.timedelta(days=3)
    base = county(seed=seed, start=start, service_points=n_districts * SITES_PER_DISTRICT)
    scenario = dataclasses.replace(
        base,
        territory=dataclasses.replace(
            base.territory,
            territory_names=districts,
            technicians=technicians,
            towns=max(len(districts), 2),
            extent_km=8.0 + len(districts),
        ),
    )
    world = World(scenario, keep_days=1)
    _import_fleet(url, world, folder, now)
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    policy = WorkOrderPolicy(utility_timezone=ZONE)
    with session_scope(factory) as session:
        crews = _residential(session)
        index = {code: i for i, code in enumerate(world.territory.territory_codes)}
        ids = dict(session.execute(select(Territory.code, Territory.id)).all())
        per_territory = {
            index[code]: crews.get(ids[code], 0) * orders_per_technician for code in index
        }
    with session_scope(factory) as session:
        created = workorders_service.create_from_verdicts(
            session,
            _requests(world, per_territory, rng),
            actor="bench",
            now=now,
            policy=policy,
        ).created
    planner = Planner(
        travel=GreatCircleTravel(), utility_timezone=ZONE, stop=MaxRuntime(solve_seconds)
    )
    with session_scope(factory) as session:
        dispatch_service.plan_day(
            session, day=day, territory_code=None, planner=planner, actor="bench", now=now
        )
    with session_scope(factory) as session:
        dispatch_service.dispatch_day(session, day=day, territory_code=None, actor="bench", now=now)
    with session_scope(factory) as session:
        _users(session, technicians)
    with session_scope(factory) as session:
        rows = session.execute(
            select(
                Technician.employee_number,
                Territory.code,
                WorkOrder.id,
            )
            .join(Territory, Territory.id == Technician.territory_id)
            .join(WorkOrder, WorkOrder.technician_id == Technician.id)
            .where(WorkOrder.scheduled_date == day)
            .order_by(Technician.employee_number, WorkOrder.id)
        ).all()
    engine.dispose()
    routes: dict[tuple[str, str], list[str]] = {}
    for employee, territory, order_id in rows:
        routes.setdefault((employee, territory), []).append(f"WO-{order_id:06d}")
    logins = tuple(
        TechnicianLogin(
            username=employee.lower(),
            password=PASSWORD,
            employee_number=employee,
            territory=territory,
            orders=tuple(numbers),
        )
        for (employee, territory), numbers in sorted(routes.items())
    )
    return FieldWorld(
        database_url=url,
        day=day,
        technicians=logins,
        orders_created=len(created),
        build_s=time.perf_counter() - started,
    )
