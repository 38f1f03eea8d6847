"""Technicians for dispatch: truck stock, day availability, and their planned day.

A technician works their usual shift from their depot on working days (Monday to Friday by
default) unless a :class:`~meterops.models.TechnicianDay` says otherwise: off, a different
shift, or starting or ending somewhere else (home, another depot). Stock is tracked per item
(``meter:<form>``, ``radio_module``); a technician without any stock line is not tracked.

Service module: takes ``session`` first, audits every change, only flushes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterops.audit import service as audit_service
from meterops.dispatch import schemas
from meterops.dispatch.problem import BreakRule, CrewDay, break_for, seconds_from
from meterops.dispatch.repository import TechnicianRepository
from meterops.errors import InvalidInputError, NotFoundError
from meterops.models import Technician, TechnicianDay, TruckStock
from meterops.timeutil import localize

__all__ = [
    "WEEKDAYS",
    "crew_day",
    "crews_for",
    "get_technician",
    "list_technicians",
    "set_availability",
    "set_stock",
]

WEEKDAYS: frozenset[int] = frozenset(range(5))
"""Default working days (``date.weekday()``: Monday = 0)."""


def get_technician(session: Session, employee_number: str) -> Technician:
    """A technician by employee number.

    Raises:
        NotFoundError: No such technician.
    """
    technician = TechnicianRepository(session).by_employee_number(employee_number)
    if technician is None:
        msg = (
            f"No technician with employee number '{employee_number}'; technicians come from "
            "the fleet import (technicians.csv)."
        )
        raise NotFoundError(msg, code="technician.not_found")
    return technician


def _clock(day: dt.date, clock: dt.time, zone: ZoneInfo, day_start_utc: dt.datetime) -> float:
    wall = dt.datetime.combine(day, clock)
    return seconds_from(day_start_utc, localize(wall, zone, ambiguous="earliest"))


def crew_day(
    technician: Technician,
    override: TechnicianDay | None,
    stock: dict[str, int] | None,
    *,
    day: dt.date,
    day_start_utc: dt.datetime,
    zone: ZoneInfo,
    rule: BreakRule,
    workdays: Collection[int] = WEEKDAYS,
    earliest_s: float | None = None,
) -> CrewDay | None:
    """A technician's day, or None when they do not work it.

    Args:
        technician: The technician.
        override: Their availability on the day, if recorded.
        stock: Their truck stock, or None when not tracked.
        day: The local date.
        day_start_utc: Its local midnight.
        zone: The utility's zone.
        rule: Where the break falls.
        workdays: Usual working days.
        earliest_s: No departure before this (planning a day already under way) [s].
    """
    if override is not None and not override.available:
        return None
    if override is None and day.weekday() not in workdays:
        return None
    start_clock = (override and override.shift_start) or technician.shift_start
    end_clock = (override and override.shift_end) or technician.shift_end
    start_s = _clock(day, start_clock, zone, day_start_utc)
    end_s = _clock(day, end_clock, zone, day_start_utc)
    if earliest_s is not None:
        start_s = max(start_s, earliest_s)
    if end_s <= start_s:
        return None
    depot = (technician.depot_latitude, technician.depot_longitude)
    start = depot
    end = depot
    if override is not None:
        if override.start_latitude is not None and override.start_longitude is not None:
            start = (override.start_latitude, override.start_longitude)
        if override.end_latitude is not None and override.end_longitude is not None:
            end = (override.end_latitude, override.end_longitude)
    return CrewDay(
        technician_id=technician.employee_number,
        start=start,
        end=end,
        shift_start_s=start_s,
        shift_end_s=end_s,
        skills=frozenset({*technician.skills, *(f"cert:{c}" for c in technician.certifications)}),
        break_s=break_for(start_s, end_s, technician.break_minutes, rule),
        max_stops=technician.max_stops,
        stock=stock,
    )


def crews_for(
    session: Session,
    *,
    territory_id: int,
    day: dt.date,
    day_start_utc: dt.datetime,
    zone: ZoneInfo,
    rule: BreakRule,
    workdays: Collection[int] = WEEKDAYS,
    earliest_s: float | None = None,
) -> tuple[list[CrewDay], dict[str, int]]:
    """The technicians of a territory who work a day; and their ids by employee number."""
    repository = TechnicianRepository(session)
    technicians = repository.in_territory(territory_id)
    ids = [t.id for t in technicians]
    overrides = repository.days(ids, day)
    stock = repository.stock(ids)
    crews: list[CrewDay] = []
    for technician in technicians:
        crew = crew_day(
            technician,
            overrides.get(technician.id),
            stock.get(technician.id),
            day=day,
            day_start_utc=day_start_utc,
            zone=zone,
            rule=rule,
            workdays=workdays,
            earliest_s=earliest_s,
        )
        if crew is not None:
            crews.append(crew)
    return crews, {t.employee_number: t.id for t in technicians}


def _read(session: Session, technician: Technician) -> schemas.TechnicianRead:
    repository = TechnicianRepository(session)
    return schemas.TechnicianRead(
        employee_number=technician.employee_number,
        name=technician.name,
        territory=repository.territory_code(technician.territory_id),
        skills=list(technician.skills),
        certifications=list(technician.certifications),
        shift_local=f"{technician.shift_start:%H:%M}–{technician.shift_end:%H:%M}",
        max_stops=technician.max_stops,
        stock=repository.stock([technician.id]).get(technician.id),
    )


def list_technicians(
    session: Session, *, territory_code: str | None = None
) -> list[schemas.TechnicianRead]:
    """Active technicians with their stock, by employee number."""
    repository = TechnicianRepository(session)
    territory_id = None
    if territory_code is not None:
        territory = repository.territory(territory_code)
        if territory is None:
            raise NotFoundError(f"No territory '{territory_code}'.", code="territory.not_found")
        territory_id = territory.id
    return [_read(session, t) for t in repository.in_territory(territory_id)]


def set_stock(
    session: Session,
    employee_number: str,
    update: schemas.StockUpdate,
    *,
    actor: str,
    now: dt.datetime,
) -> schemas.TechnicianRead:
    """Set how many of an item a technician's truck carries.

    A quantity of 0 keeps the line (the truck is tracked and has none); stock is tracked for
    a technician from their first line on.
    """
    technician = get_technician(session, employee_number)
    repository = TechnicianRepository(session)
    row = repository.stock_row(technician.id, update.item)
    before = None if row is None else row.quantity
    if row is None:
        repository.session.add(
            TruckStock(technician_id=technician.id, item=update.item, quantity=update.quantity)
        )
    else:
        row.quantity = update.quantity
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="technician.stock",
        entity_type="technician",
        entity_id=employee_number,
        data={"item": update.item, "from": before, "to": update.quantity},
        now=now,
    )
    return _read(session, technician)


def set_availability(
    session: Session,
    employee_number: str,
    day: dt.date,
    update: schemas.AvailabilityUpdate,
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """Record a technician's availability on a date (replaces what was recorded).

    Raises:
        InvalidInputError: Only one of a shift's ends, or a start place without its pair.
    """
    if (update.shift_start is None) != (update.shift_end is None):
        raise InvalidInputError(
            "give both shift_start and shift_end, or neither", code="technician.partial_shift"
        )
    technician = get_technician(session, employee_number)
    row = TechnicianRepository(session).day(technician.id, day)
    if row is None:
        row = TechnicianDay(technician_id=technician.id, work_date=day)
        session.add(row)
    for name, value in update.model_dump().items():
        setattr(row, name, value)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="technician.availability",
        entity_type="technician",
        entity_id=employee_number,
        reason=update.note,
        data={"date": day.isoformat(), **update.model_dump(mode="json")},
        now=now,
    )
