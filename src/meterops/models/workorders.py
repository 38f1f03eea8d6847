"""Work orders, technicians' truck stock and days, and the stored day plans.

A :class:`WorkOrder` is about one subject (a meter, a service point for installs, or a
collector) and one problem; at most one *active* order exists per subject and problem (a
partial unique index, as for open installations). Its location is copied from the premise or
collector at creation so that planning needs no joins. Orders a few metres apart share a
``bundle_key`` and are visited as one stop.

A :class:`DayPlan` stores one territory's planned day: a :class:`DayPlanRoute` per technician
who was available (with the shift, locations, break and skills used, so the same routing
problem can be rebuilt for changes during the day), the route's activities
(:class:`DayPlanActivity`, visits to stops and breaks, in order, in seconds from the local
midnight of the plan date) and every order the plan considered (:class:`DayPlanOrder`,
served or left out with the reason).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterops.db.base import Base, BigIntPK, UtcDateTime
from meterops.models._types import TimestampMixin, str_enum
from meterops.models.workforce import Technician
from meterops.workorders.lifecycle import WorkOrderStatus
from meterops.workorders.types import WorkOrderType

__all__ = [
    "DayPlan",
    "DayPlanActivity",
    "DayPlanOrder",
    "DayPlanRoute",
    "DayPlanStatus",
    "OrderSource",
    "TechnicianDay",
    "TruckStock",
    "WorkOrder",
]

_INACTIVE = "status NOT IN ('verified', 'closed', 'cancelled')"


class OrderSource(StrEnum):
    """Where an order came from."""

    VERDICT = "verdict"
    """A diagnostics verdict."""
    PROGRAMME = "programme"
    """A planned programme (an AMI 2.0 exchange campaign) from a CSV file or the API."""
    MANUAL = "manual"
    """Entered by hand."""


class WorkOrder(TimestampMixin, Base):
    """A job for a field technician.

    Its public number is ``WO-`` and the zero-padded id (:attr:`order_number`).
    """

    __tablename__ = "work_orders"
    __table_args__ = (
        Index(
            "uq_work_orders_active_subject_problem",
            "subject_key",
            "problem_code",
            unique=True,
            sqlite_where=text(_INACTIVE),
            postgresql_where=text(_INACTIVE),
        ),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        CheckConstraint("duration_min > 0", name="positive_duration"),
        CheckConstraint(
            "(appointment_start_utc IS NULL AND appointment_end_utc IS NULL) OR "
            "(appointment_start_utc IS NOT NULL AND appointment_end_utc IS NOT NULL "
            "AND appointment_end_utc > appointment_start_utc)",
            name="appointment_window",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    order_type: Mapped[WorkOrderType] = mapped_column(str_enum(WorkOrderType, "work_order_type"))
    status: Mapped[WorkOrderStatus] = mapped_column(
        str_enum(WorkOrderStatus, "work_order_status"), default=WorkOrderStatus.CREATED, index=True
    )
    source: Mapped[OrderSource] = mapped_column(str_enum(OrderSource, "order_source"))
    problem_code: Mapped[str] = mapped_column(String(64))
    """Cause or programme code; one active order per subject and problem."""
    subject_key: Mapped[str] = mapped_column(String(80))
    """``meter:<serial>``, ``service_point:<number>`` or ``collector:<code>``."""
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"), index=True)
    service_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_points.id"), index=True
    )
    premise_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"), index=True)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("collectors.id"), index=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    latitude: Mapped[float]
    longitude: Mapped[float]
    meter_form: Mapped[str | None] = mapped_column(String(8))
    """Form of the meter worked on or to install (matches truck stock)."""
    priority: Mapped[int]
    """1 (most urgent) to 5."""
    due_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), index=True)
    appointment_start_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    appointment_end_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    duration_min: Mapped[int]
    required_skill: Mapped[str] = mapped_column(String(32))
    certifications: Mapped[list[str]]
    parts: Mapped[list[str]]
    evidence: Mapped[dict[str, Any]]
    """What led to the order (a verdict's summary and facts); no customer PII."""
    notes: Mapped[str | None] = mapped_column(String(1000))
    campaign: Mapped[str | None] = mapped_column(String(64), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    bundle_key: Mapped[str | None] = mapped_column(String(32), index=True)
    """Orders sharing it are visited together (same premise or a few metres apart)."""
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"), index=True)
    fixed_technician: Mapped[bool] = mapped_column(default=False)
    """A dispatcher gave the order to this technician by hand; planning keeps it there."""
    scheduled_date: Mapped[dt.date | None] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    status_changed_at_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status_reason: Mapped[str | None] = mapped_column(String(500))
    """Why it was cancelled or could not be completed (the last reason given)."""
    last_ping: Mapped[dict[str, Any] | None]
    """The last head-end ping before a visit: purpose, state, time, result."""

    technician: Mapped[Technician | None] = relationship(lazy="raise")

    @property
    def order_number(self) -> str:
        """Public number, e.g. ``WO-000042``."""
        return f"WO-{self.id:06d}"

    @property
    def stop_key(self) -> str:
        """Key of the stop the order is visited in (its bundle, or itself)."""
        return self.bundle_key or self.order_number


class TruckStock(Base):
    """How many of an item a technician's truck carries (``meter:2S``, ``radio_module``).

    Stock is enforced when planning only for technicians who have any stock recorded.
    """

    __tablename__ = "truck_stock"
    __table_args__ = (
        UniqueConstraint("technician_id", "item"),
        CheckConstraint("quantity >= 0", name="non_negative_quantity"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    technician_id: Mapped[int] = mapped_column(
        ForeignKey("technicians.id", ondelete="CASCADE"), index=True
    )
    item: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int]


class TechnicianDay(Base):
    """A technician's availability on one date, overriding the usual shift and depot."""

    __tablename__ = "technician_days"
    __table_args__ = (UniqueConstraint("technician_id", "work_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    technician_id: Mapped[int] = mapped_column(
        ForeignKey("technicians.id", ondelete="CASCADE"), index=True
    )
    work_date: Mapped[dt.date]
    available: Mapped[bool] = mapped_column(default=True)
    shift_start: Mapped[dt.time | None]
    """Local time; None: the technician's usual shift."""
    shift_end: Mapped[dt.time | None]
    start_latitude: Mapped[float | None]
    start_longitude: Mapped[float | None]
    end_latitude: Mapped[float | None]
    end_longitude: Mapped[float | None]
    note: Mapped[str | None] = mapped_column(String(200))


class DayPlanStatus(StrEnum):
    """Whether the technicians have their routes."""

    DRAFT = "draft"
    DISPATCHED = "dispatched"


class DayPlan(TimestampMixin, Base):
    """One territory's planned day."""

    __tablename__ = "day_plans"
    __table_args__ = (UniqueConstraint("plan_date", "territory_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    plan_date: Mapped[dt.date] = mapped_column(index=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    status: Mapped[DayPlanStatus] = mapped_column(
        str_enum(DayPlanStatus, "day_plan_status"), default=DayPlanStatus.DRAFT
    )
    day_start_utc: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    """Local midnight of the plan date: time zero of every ``*_s`` of the plan."""
    seed: Mapped[int]
    revision: Mapped[int] = mapped_column(default=1)
    """Counts changes: 1 after optimising, +1 per reassignment or insertion."""
    solver_seconds: Mapped[float]
    kpis: Mapped[dict[str, Any]]
    """The plan's figures (``routing.PlanKpis`` plus stock notes) when last changed."""
    notes: Mapped[list[str]]
    planned_by: Mapped[str] = mapped_column(String(64))
    dispatched_at_utc: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class DayPlanRoute(Base):
    """A technician's day in a plan: the inputs used and the route's totals."""

    __tablename__ = "day_plan_routes"
    __table_args__ = (UniqueConstraint("day_plan_id", "technician_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    day_plan_id: Mapped[int] = mapped_column(
        ForeignKey("day_plans.id", ondelete="CASCADE"), index=True
    )
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    shift_start_s: Mapped[float]
    shift_end_s: Mapped[float]
    start_latitude: Mapped[float]
    start_longitude: Mapped[float]
    end_latitude: Mapped[float]
    end_longitude: Mapped[float]
    skills: Mapped[list[str]]
    """Routing skills: technician skills and ``cert:<name>`` tokens."""
    break_earliest_s: Mapped[float | None]
    break_latest_s: Mapped[float | None]
    break_duration_s: Mapped[float | None]
    max_stops: Mapped[int]
    stock: Mapped[dict[str, Any] | None]
    """Truck stock (item → quantity) at planning; None when not tracked."""
    departure_s: Mapped[float | None]
    return_s: Mapped[float | None]
    drive_s: Mapped[float] = mapped_column(default=0.0)
    distance_m: Mapped[float] = mapped_column(default=0.0)


class DayPlanActivity(Base):
    """A visit (to a stop: one order or a bundle) or a break on a route."""

    __tablename__ = "day_plan_activities"
    __table_args__ = (
        UniqueConstraint("route_id", "position"),
        CheckConstraint("(stop_key IS NULL) <> (break_index IS NULL)", name="visit_or_break"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    route_id: Mapped[int] = mapped_column(
        ForeignKey("day_plan_routes.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    stop_key: Mapped[str | None] = mapped_column(String(32))
    break_index: Mapped[int | None]
    arrival_s: Mapped[float]
    start_s: Mapped[float]
    end_s: Mapped[float]
    wait_s: Mapped[float] = mapped_column(default=0.0)
    travel_s: Mapped[float] = mapped_column(default=0.0)
    distance_m: Mapped[float] = mapped_column(default=0.0)


class DayPlanOrder(Base):
    """An order the plan considered: on a route (its stop has a visit) or left out."""

    __tablename__ = "day_plan_orders"
    __table_args__ = (UniqueConstraint("day_plan_id", "work_order_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    day_plan_id: Mapped[int] = mapped_column(
        ForeignKey("day_plans.id", ondelete="CASCADE"), index=True
    )
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    stop_key: Mapped[str] = mapped_column(String(32))
    left_out_reason: Mapped[str | None] = mapped_column(String(64))
    left_out_detail: Mapped[str | None] = mapped_column(String(500))

    work_order: Mapped[WorkOrder] = relationship(lazy="raise")
