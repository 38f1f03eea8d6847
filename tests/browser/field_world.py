"""A dispatched day for one technician who signs in on a phone (the field app's browser test).

Prairie Junction (the simulator's small town) is imported with the real fleet import; one
technician works the day (the others are off), linked to a user account; three orders (two
meter exchanges and a tamper investigation) on healthy meters are planned and dispatched for
the next working day with the dispatch service; two new meters of the right form are in stock
and on the technician's truck. The app runs over that database with a simulated head-end over
the same simulated world, so pings, reads and the verification after an exchange come from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from meterops.assets import service as assets_service
from meterops.assets.lifecycle import AssetStatus
from meterops.assets.schemas import MeterCreate
from meterops.auth import service as auth_service
from meterops.db.engine import make_engine, make_session_factory, session_scope
from meterops.dispatch import service as dispatch_service
from meterops.dispatch.service import Planner
from meterops.headend.simulated import SimulatedHeadEnd, WallClock
from meterops.models import Installation, Meter, Premise, ServicePoint, Technician, Territory
from meterops.models.org import Role
from meterops.models.workorders import TruckStock, WorkOrder
from meterops.routing import GreatCircleTravel, MaxIterations
from meterops.simulator import World, small_town
from meterops.workorders import service as workorders_service
from meterops.workorders.schemas import OrderRequest
from meterops.workorders.service import WorkOrderPolicy
from meterops.workorders.types import WorkOrderType
from tests.dispatch.conftest import healthy_meters, import_sim_fleet

__all__ = ["PASSWORD", "FieldDay", "build_field_day"]

ZONE = "America/Chicago"
PASSWORD = "Field-phone-2026!"
USERNAME = "tina"


@dataclass(frozen=True)
class FieldDay:
    """What the browser test needs to know about the built day.

    Attributes:
        day: The dispatched day (local date in the utility's zone).
        username: The technician's user name (password :data:`PASSWORD`).
        employee_number: Their technician number.
        exchanges: Order numbers of the two exchanges.
        investigation: Order number of the tamper investigation.
        old_serials: Serial of the meter on each order.
        final_reads: A plausible final read of each order's meter (its install read and a
            few days' use). [kWh]
        new_serials: Serials of the new meters in stock and on the truck.
        world: The simulated world the head-end answers from.
        head_end: The simulated head-end (simulated time runs 200x the wall clock).
    """

    day: dt.date
    username: str
    employee_number: str
    exchanges: tuple[str, str]
    investigation: str
    old_serials: dict[str, str]
    final_reads: dict[str, int]
    new_serials: tuple[str, str]
    world: World
    head_end: SimulatedHeadEnd


def next_workday(now: dt.datetime) -> dt.date:
    """The first Monday-to-Friday after ``now``'s local date in Chicago (a day not begun)."""
    from zoneinfo import ZoneInfo

    day = now.astimezone(ZoneInfo(ZONE)).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _self_contained(session_meters: list[tuple[str, str, bool]], healthy: set[str]) -> list[str]:
    return [serial for serial, form, rated in session_meters if serial in healthy and not rated]


def build_field_day(database_url: str, folder: Path) -> FieldDay:
    """Build the day in the migrated, empty database at ``database_url``."""
    now = dt.datetime.now(dt.UTC)
    day = next_workday(now)
    world = World(
        small_town(seed=23, start=day - dt.timedelta(days=3), service_points=80, horizon_days=8),
        keep_days=1,
    )
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        import_sim_fleet(session, folder / "fleet", world)
    healthy = set(healthy_meters(world))
    policy = WorkOrderPolicy(utility_timezone=ZONE)
    with session_scope(factory) as session:
        technicians = session.scalars(select(Technician).order_by(Technician.employee_number)).all()
        technician = next(t for t in technicians if "residential" in t.skills)
        for other in technicians:
            other.active = other.id == technician.id
        territory_code = session.scalars(
            select(Territory.code).where(Territory.id == technician.territory_id)
        ).one()
        rows = session.execute(
            select(Meter.serial_number, Meter.form, ServicePoint.transformer_rated)
            .join(Installation, Installation.meter_id == Meter.id)
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .where(Installation.removed_at_utc.is_(None))
            .join(Premise, Premise.id == ServicePoint.premise_id)
            .where(Premise.territory_id == technician.territory_id)
            .order_by(Meter.serial_number)
        ).all()
        candidates = _self_contained([tuple(r) for r in rows], healthy)  # type: ignore[misc]
        picks = candidates[:3]
        forms = {serial: form for serial, form, _ in rows}
        kinds = (WorkOrderType.EXCHANGE, WorkOrderType.EXCHANGE, WorkOrderType.TAMPER_INVESTIGATION)
        numbers = [
            workorders_service.create_order(
                session,
                OrderRequest.model_validate(
                    {
                        "order_type": kind,
                        "meter_serial": serial,
                        "evidence_summary": f"browser test: {kind.value}",
                    }
                ),
                actor="test",
                now=now,
                policy=policy,
            ).order_number
            for kind, serial in zip(kinds, picks, strict=True)
        ]
        install_reads = dict(
            session.execute(
                select(Meter.serial_number, Installation.install_read_kwh)
                .join(Installation, Installation.meter_id == Meter.id)
                .where(Installation.removed_at_utc.is_(None), Meter.serial_number.in_(picks))
            ).all()
        )
        final_reads = {
            number: int(install_reads[serial] or 0) + 37
            for number, serial in zip(numbers, picks, strict=True)
        }
        form = forms[picks[0]]
        new_serials = (f"NEW{day:%m%d}01", f"NEW{day:%m%d}02")
        model = session.scalars(select(Meter).where(Meter.serial_number == picks[0])).one()
        for serial in new_serials:
            assets_service.create_meter(
                session,
                MeterCreate(
                    serial_number=serial,
                    vendor=model.vendor,
                    model=model.model,
                    form=form,
                    meter_class=model.meter_class,
                    lifecycle_status=AssetStatus.IN_STOCK,
                ),
                actor="test",
            )
        session.add(TruckStock(technician_id=technician.id, item=f"meter:{form}", quantity=2))
        user = auth_service.create_user(
            session,
            username=USERNAME,
            display_name="Tina Field",
            role=Role.TECHNICIAN,
            password=PASSWORD,
            territory_codes=[territory_code],
            actor="test",
        )
        technician.user_id = user.id
        employee = technician.employee_number
    planner = Planner(
        travel=GreatCircleTravel(), utility_timezone=ZONE, stop=MaxIterations(200), seed=0
    )
    with session_scope(factory) as session:
        dispatch_service.plan_day(
            session, day=day, territory_code=territory_code, planner=planner, actor="test", now=now
        )
        dispatch_service.dispatch_day(
            session, day=day, territory_code=territory_code, actor="test", now=now
        )
    with session_scope(factory) as session:
        assigned = session.scalars(
            select(WorkOrder.id).where(WorkOrder.scheduled_date == day)
        ).all()
    engine.dispose()
    routed = {f"WO-{i:06d}" for i in assigned}
    assert set(numbers) <= routed, f"not all orders were routed: {numbers} vs {routed}"
    start = dt.datetime.combine(day, dt.time(15, 0), tzinfo=dt.UTC)
    head_end = SimulatedHeadEnd(world, clock=WallClock(start, speed=200.0), dead_on_arrival=0.0)
    return FieldDay(
        day=day,
        username=USERNAME,
        employee_number=employee,
        exchanges=(numbers[0], numbers[1]),
        investigation=numbers[2],
        old_serials=dict(zip(numbers, picks, strict=True)),
        final_reads=final_reads,
        new_serials=new_serials,
        world=world,
        head_end=head_end,
    )
