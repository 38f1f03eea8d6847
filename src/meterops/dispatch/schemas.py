"""Pydantic I/O of dispatch: day plans as people read them, KPIs, technician settings.

Times in a plan are given twice: UTC instants for programs and local ``HH:MM`` for people.
Must not import FastAPI.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from meterops.models.workorders import DayPlanStatus
from meterops.workorders.lifecycle import WorkOrderStatus

__all__ = [
    "AvailabilityUpdate",
    "BreakRead",
    "CancelRequest",
    "DayPlanRead",
    "InsertRequest",
    "InsertResult",
    "KpisRead",
    "LeftOutRead",
    "OptimizeResult",
    "PingOutcome",
    "PingReport",
    "PlanOrderRead",
    "ReassignRequest",
    "RouteRead",
    "SendHomeRequest",
    "StockUpdate",
    "TechnicianRead",
    "TerritoryKpis",
    "VisitRead",
]


class PlanOrderRead(BaseModel):
    """An order in a stop."""

    order_number: str
    order_type: str
    status: WorkOrderStatus
    priority: int
    meter_serial: str | None
    duration_min: int
    required_skill: str


class VisitRead(BaseModel):
    """A stop on a route."""

    sequence: int
    stop_key: str
    latitude: float
    longitude: float
    orders: list[PlanOrderRead]
    arrival_utc: dt.datetime
    start_utc: dt.datetime
    end_utc: dt.datetime
    arrival_local: str
    start_local: str
    end_local: str
    wait_min: float
    travel_min: float
    distance_km: float
    window_local: str | None = Field(description="The window the start must fall in.")


class BreakRead(BaseModel):
    """A break on a route."""

    start_local: str
    end_local: str


class RouteRead(BaseModel):
    """A technician's day."""

    technician: str
    name: str
    skills: list[str] = Field(description="Skills (residential, ct_rated …) used when planned.")
    certifications: list[str]
    shift_local: str
    departure_local: str | None
    return_local: str | None
    drive_min: float
    distance_km: float
    visits: list[VisitRead]
    breaks: list[BreakRead]


class LeftOutRead(BaseModel):
    """An order the plan does not serve, and why."""

    order_number: str
    stop_key: str
    reason: str
    detail: str


class KpisRead(BaseModel):
    """The plan in figures (see ``routing.PlanKpis``).

    ``orders*`` count stops (orders bundled at one premise are one stop); ``work_orders*``
    count the work orders in them.
    """

    orders: int = Field(default=0, description="Stops the plan considered.")
    orders_served: int = Field(default=0, description="Stops on a route.")
    orders_left_out: int = Field(default=0, description="Stops left out (see the reasons).")
    work_orders: int = Field(default=0, description="Work orders in the stops.")
    work_orders_served: int = Field(default=0, description="Work orders on a route.")
    technicians: int = 0
    technicians_used: int = 0
    stops_per_technician: float = 0.0
    max_stops_per_technician: int = 0
    drive_time_share: float = 0.0
    on_time_share: float = 1.0
    drive_h: float = 0.0
    distance_km: float = 0.0
    left_out_by_reason: dict[str, int] = Field(default_factory=dict)


class DayPlanRead(BaseModel):
    """A territory's planned day."""

    plan_date: dt.date
    territory: str
    status: DayPlanStatus
    revision: int
    seed: int
    solver_seconds: float
    planned_by: str
    dispatched_at_utc: dt.datetime | None
    kpis: KpisRead
    routes: list[RouteRead]
    left_out: list[LeftOutRead]
    notes: list[str]


class ReassignRequest(BaseModel):
    """Give an order to a technician by hand."""

    technician: str = Field(description="Employee number.")
    plan_date: dt.date | None = Field(
        default=None, description="Needed when the order is not scheduled yet."
    )


class TechnicianRead(BaseModel):
    """A technician as dispatch sees them."""

    employee_number: str
    name: str
    territory: str
    skills: list[str]
    certifications: list[str]
    shift_local: str
    max_stops: int
    stock: dict[str, int] | None = Field(description="None: stock is not tracked.")


class StockUpdate(BaseModel):
    """Set how many of an item a truck carries (0 removes the line)."""

    item: str = Field(pattern=r"^(meter:[0-9A-Za-z]{1,6}|radio_module)$", max_length=32)
    quantity: int = Field(ge=0, le=500)


class AvailabilityUpdate(BaseModel):
    """A technician's day: off, or a different shift or start and end place."""

    available: bool = True
    shift_start: dt.time | None = None
    shift_end: dt.time | None = None
    start_latitude: float | None = Field(default=None, ge=-90, le=90)
    start_longitude: float | None = Field(default=None, ge=-180, le=180)
    end_latitude: float | None = Field(default=None, ge=-90, le=90)
    end_longitude: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=200)


class PingOutcome(BaseModel):
    """What a ping before a visit found for one order."""

    order_number: str
    meter_serial: str
    state: str
    reason: str | None
    cancelled: bool


class PingReport(BaseModel):
    """Pings before visits."""

    purpose: str
    pinged: int
    recovered: list[str] = Field(description="Orders cancelled: their meter answered.")
    outcomes: list[PingOutcome]


class OptimizeResult(BaseModel):
    """What optimising a day did: the pings before planning and the plans."""

    pings: PingReport | None = Field(description="None when no head-end is configured.")
    plans: list[DayPlanRead]


class InsertRequest(BaseModel):
    """Insert a waiting order (an emergency) into a day under way."""

    order_number: str = Field(max_length=20)


class InsertResult(BaseModel):
    """Whether the inserted order got a place, and the plan after it."""

    order_number: str
    placed: bool
    plan: DayPlanRead


class CancelRequest(BaseModel):
    """Cancel an order; when it is on a route, the route closes the gap."""

    reason: str = Field(min_length=1, max_length=500)


class TerritoryKpis(BaseModel):
    """One territory's plan in figures."""

    territory: str
    plan_date: dt.date
    revision: int
    kpis: KpisRead
    left_out: list[LeftOutRead]


class SendHomeRequest(BaseModel):
    """A technician leaves early; their stops not started go to the others."""

    reason: str = Field(min_length=1, max_length=200)
