"""A small simulated utility loaded into the test database, with users, for command tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meterops.auth import service as auth_service
from meterops.auth import totp
from meterops.commands.policy import Actor
from meterops.fleet import service as fleet_service
from meterops.fleet.parse import parse_fleet_csv
from meterops.fleet.programs import parse_programs_file
from meterops.fleet.spec import IMPORT_ORDER
from meterops.headend.simulated import SimClock, SimulatedHeadEnd
from meterops.models import (
    Account,
    Installation,
    Meter,
    ServicePoint,
    Territory,
    User,
    UserTerritory,
)
from meterops.models.accounts import PaymentPlan
from meterops.models.org import Role
from meterops.simulator.fleetfiles import write_fleet_files
from meterops.simulator.params import FaultRates
from meterops.simulator.scenarios import small_town
from meterops.simulator.world import World

# A Monday, 10:00 in Iowa (16:00 UTC): disconnects are allowed by the calendar rule.
MONDAY_10 = dt.datetime(2026, 1, 12, 16, 0, tzinfo=dt.UTC)


@dataclass
class Loaded:
    world: World
    clock: SimClock
    headend: SimulatedHeadEnd
    territory: str
    switch_serials: list[str]
    all_serials: list[str]


def load_world(
    session: Session,
    folder: Path,
    *,
    service_points: int = 120,
    faults: FaultRates | None = None,
    seed: int = 11,
    payment_plans: bool = False,
) -> Loaded:
    """Simulate a small town, import its fleet files and return its head-end at MONDAY_10.

    The simulated CIS's payment plans are imported too, and dropped again unless
    ``payment_plans`` (an open one blocks disconnects, like the account flags cleared here).
    """
    scenario = small_town(seed=seed, service_points=service_points, start=dt.date(2026, 1, 5))
    if faults is not None:
        scenario = dataclasses.replace(scenario, faults=faults)
    world = World(scenario)
    write_fleet_files(world, folder, as_of=dt.date(2026, 1, 12))
    now = MONDAY_10
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
    # Accounts with flags would block disconnects; tests set flags where they need them.
    for account in session.scalars(select(Account)).all():
        account.medical_life_support = False
        account.critical_facility = False
    if not payment_plans:
        session.execute(delete(PaymentPlan))
    session.flush()
    territory = session.scalars(select(Territory.code)).first()
    assert territory is not None
    installed = set(
        session.scalars(
            select(Meter.serial_number)
            .join(Installation, Installation.meter_id == Meter.id)
            .join(ServicePoint, ServicePoint.id == Installation.service_point_id)
            .where(Installation.removed_at_utc.is_(None))
            .where(ServicePoint.transformer_id.is_not(None))
        ).all()
    )
    switch = session.scalars(
        select(Meter.serial_number).where(Meter.has_disconnect_switch.is_(True))
    ).all()
    healthy = [s for s in switch if s in installed and _reachable(world, s)]
    clock = SimClock(now)
    return Loaded(
        world,
        clock,
        SimulatedHeadEnd(world, clock=clock),
        territory,
        sorted(healthy),
        sorted(s for s in installed if _reachable(world, s)),
    )


def _reachable(world: World, serial: str) -> bool:
    try:
        world.meter_index(serial)
    except Exception:  # noqa: BLE001 - the back office knows meters the head-end does not
        return False
    headend = SimulatedHeadEnd(world, clock=SimClock(MONDAY_10))
    state = headend.link(serial, MONDAY_10)
    return state.installed and state.alive and state.radio_ok and state.powered


ENROLLED_AT = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
"""When :func:`add_user` enrols second factors (before any simulated or real time used)."""


def enrol(session: Session, username: str, now: dt.datetime = ENROLLED_AT) -> str:
    """Enrol a user's TOTP second factor through the service (a real code); returns the secret."""
    enrolment = auth_service.begin_mfa_enrolment(session, username=username, actor="test", now=now)
    auth_service.confirm_mfa_enrolment(
        session,
        username=username,
        code=totp.code_at(enrolment.secret, now),
        actor="test",
        now=now,
        policy=auth_service.SessionPolicy(),
        client_address="test",
    )
    return enrolment.secret


def add_user(
    session: Session,
    username: str,
    role: Role,
    territories: list[str],
    *,
    second_factor: bool | None = None,
) -> Actor:
    """A user (no password) of territories; approvers (supervisor, admin) get a second factor
    unless ``second_factor=False``."""
    user = User(username=username, display_name=username.title(), role=role)
    session.add(user)
    session.flush()
    for code in territories:
        territory_id = session.scalars(select(Territory.id).where(Territory.code == code)).one()
        session.add(UserTerritory(user_id=user.id, territory_id=territory_id))
    session.flush()
    if second_factor if second_factor is not None else role in {Role.SUPERVISOR, Role.ADMIN}:
        enrol(session, username)
    return Actor(username, role.value, frozenset(territories))
