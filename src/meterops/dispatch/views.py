"""Read a stored day plan the way dispatchers do: routes with local times, KPIs, a map.

:func:`day_plans` gives each territory's plan as :class:`~meterops.dispatch.schemas.DayPlanRead`
(times as UTC instants and local ``HH:MM``); :func:`plan_geojson` gives the day as GeoJSON
through routing's exporter (a line per route, a point per stop and per order left out), with
the order numbers of each stop added.

Read-only service module: ``session`` first; queries go through the repository.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterops.dispatch import schemas
from meterops.dispatch.plans import load_day
from meterops.dispatch.repository import DayPlanRepository, TechnicianRepository
from meterops.dispatch.service import plan_rows
from meterops.models import DayPlan, WorkOrder
from meterops.routing import GreatCircleTravel, plan_to_geojson
from meterops.timeutil import local_day_bounds_utc

__all__ = ["day_plans", "plan_geojson", "plan_view"]


def _hhmm(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def _window(orders: list[WorkOrder], zone: ZoneInfo, day_end: dt.datetime) -> str | None:
    for order in orders:
        if order.appointment_start_utc is not None and order.appointment_end_utc is not None:
            start = _hhmm(order.appointment_start_utc, zone)
            return f"{start}–{_hhmm(order.appointment_end_utc, zone)}"
    due = [o.due_at_utc for o in orders if o.due_at_utc is not None and o.due_at_utc < day_end]
    return f"done by {_hhmm(min(due), zone)}" if due else None


def _kpis(figures: dict[str, Any]) -> schemas.KpisRead:
    if not figures:
        return schemas.KpisRead()
    return schemas.KpisRead(
        orders=figures["orders"],
        orders_served=figures["orders_served"],
        orders_left_out=figures["orders_left_out"],
        work_orders=figures.get("work_orders", figures["orders"]),
        work_orders_served=figures.get("work_orders_served", figures["orders_served"]),
        technicians=figures["technicians"],
        technicians_used=figures["technicians_used"],
        stops_per_technician=round(figures["stops_per_technician"], 2),
        max_stops_per_technician=figures["max_stops_per_technician"],
        drive_time_share=round(figures["drive_time_share"], 4),
        on_time_share=round(figures["on_time_share"], 4),
        drive_h=round(figures["drive_s"] / 3600, 2),
        distance_km=round(figures["distance_m"] / 1000, 1),
        left_out_by_reason=figures["left_out_by_reason"],
    )


def _view(session: Session, row: DayPlan, zone: ZoneInfo) -> schemas.DayPlanRead:
    repository = DayPlanRepository(session)
    routes = repository.routes(row.id)
    activities = repository.activities([r.id for r in routes])
    people = repository.technicians([r.technician_id for r in routes])
    links = repository.plan_orders(row.id)
    orders = repository.orders([link.work_order_id for link in links])
    serials = repository.meter_serials([o.meter_id for o in orders.values() if o.meter_id])
    day_end = local_day_bounds_utc(row.plan_date, zone)[1]
    by_key: dict[str, list[WorkOrder]] = {}
    for link in links:
        by_key.setdefault(link.stop_key, []).append(orders[link.work_order_id])

    def at(seconds: float) -> dt.datetime:
        return row.day_start_utc + dt.timedelta(seconds=seconds)

    def order_read(order: WorkOrder) -> schemas.PlanOrderRead:
        return schemas.PlanOrderRead(
            order_number=order.order_number,
            order_type=order.order_type.value,
            status=order.status,
            priority=order.priority,
            meter_serial=serials.get(order.meter_id or -1),
            duration_min=order.duration_min,
            required_skill=order.required_skill,
        )

    route_reads: list[schemas.RouteRead] = []
    for route in routes:
        person = people[route.technician_id]
        visits: list[schemas.VisitRead] = []
        breaks: list[schemas.BreakRead] = []
        for step in activities[route.id]:
            if step.stop_key is None:
                breaks.append(
                    schemas.BreakRead(
                        start_local=_hhmm(at(step.start_s), zone),
                        end_local=_hhmm(at(step.end_s), zone),
                    )
                )
                continue
            members = by_key.get(step.stop_key, [])
            lead = members[0] if members else None
            visits.append(
                schemas.VisitRead(
                    sequence=len(visits) + 1,
                    stop_key=step.stop_key,
                    latitude=lead.latitude if lead else 0.0,
                    longitude=lead.longitude if lead else 0.0,
                    orders=[order_read(o) for o in members],
                    arrival_utc=at(step.arrival_s),
                    start_utc=at(step.start_s),
                    end_utc=at(step.end_s),
                    arrival_local=_hhmm(at(step.arrival_s), zone),
                    start_local=_hhmm(at(step.start_s), zone),
                    end_local=_hhmm(at(step.end_s), zone),
                    wait_min=round(step.wait_s / 60, 1),
                    travel_min=round(step.travel_s / 60, 1),
                    distance_km=round(step.distance_m / 1000, 2),
                    window_local=_window(members, zone, day_end),
                )
            )
        route_reads.append(
            schemas.RouteRead(
                technician=person.employee_number,
                name=person.name,
                skills=[s for s in route.skills if ":" not in s],
                certifications=[s[5:] for s in route.skills if s.startswith("cert:")],
                shift_local=f"{_hhmm(at(route.shift_start_s), zone)}–"
                f"{_hhmm(at(route.shift_end_s), zone)}",
                departure_local=None
                if route.departure_s is None
                else _hhmm(at(route.departure_s), zone),
                return_local=None if route.return_s is None else _hhmm(at(route.return_s), zone),
                drive_min=round(route.drive_s / 60, 1),
                distance_km=round(route.distance_m / 1000, 1),
                visits=visits,
                breaks=breaks,
            )
        )
    left_out = [
        schemas.LeftOutRead(
            order_number=orders[link.work_order_id].order_number,
            stop_key=link.stop_key,
            reason=link.left_out_reason,
            detail=link.left_out_detail or "",
        )
        for link in links
        if link.left_out_reason is not None
    ]
    return schemas.DayPlanRead(
        plan_date=row.plan_date,
        territory=TechnicianRepository(session).territory_code(row.territory_id),
        status=row.status,
        revision=row.revision,
        seed=row.seed,
        solver_seconds=round(row.solver_seconds, 3),
        planned_by=row.planned_by,
        dispatched_at_utc=row.dispatched_at_utc,
        kpis=_kpis(row.kpis),
        routes=route_reads,
        left_out=left_out,
        notes=list(row.notes),
    )


def plan_view(session: Session, row: DayPlan, *, utility_timezone: str) -> schemas.DayPlanRead:
    """One stored plan as dispatchers read it (after a change returned its row)."""
    return _view(session, row, ZoneInfo(utility_timezone))


def day_plans(
    session: Session, *, day: dt.date, territory_code: str | None, utility_timezone: str
) -> list[schemas.DayPlanRead]:
    """Each territory's plan of a day (empty when the day is not planned)."""
    zone = ZoneInfo(utility_timezone)
    return [
        _view(session, row, zone)
        for row in plan_rows(session, day=day, territory_code=territory_code)
    ]


def plan_geojson(
    session: Session, *, day: dt.date, territory_code: str | None, utility_timezone: str
) -> dict[str, Any]:
    """The day's routes as one GeoJSON FeatureCollection (RFC 7946, ``[lon, lat]``).

    Routes are straight lines between stops (the map's job is the order of stops, not the
    streets); stop and left-out points carry the order numbers of the stop.
    """
    zone = ZoneInfo(utility_timezone)
    features: list[dict[str, Any]] = []
    for row in plan_rows(session, day=day, territory_code=territory_code):
        day_end = local_day_bounds_utc(row.plan_date, zone)[1]
        loaded = load_day(session, row, travel=GreatCircleTravel(), day_end_utc=day_end)
        collection = plan_to_geojson(loaded.problem, loaded.plan)
        for feature in collection["features"]:
            properties = feature["properties"]
            key = properties.get("order_id")
            if key is not None:
                properties["stop_key"] = key
                properties["orders"] = [o.order_number for o in loaded.orders.get(key, [])]
                reason = loaded.reasons.get(key)
                if reason is not None and properties["kind"] == "left_out":
                    properties["reason"], properties["detail"] = reason
            properties["plan_date"] = row.plan_date.isoformat()
            features.append(feature)
    return {"type": "FeatureCollection", "features": features}
