"""Queries of the field capability: the technician's route, an order's site, actions, photos."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterops.models import (
    Account,
    Customer,
    DayPlan,
    DayPlanActivity,
    DayPlanOrder,
    DayPlanRoute,
    Installation,
    Meter,
    Premise,
    ServicePoint,
    Technician,
    Territory,
    TruckStock,
    WorkOrder,
)
from meterops.models.diagnostics import DiagnosticException
from meterops.models.field import FieldAction, FieldPhoto, FieldVerification
from meterops.models.workorders import DayPlanStatus

__all__ = ["FieldRepository", "RouteVisit", "Site"]


@dataclass(frozen=True, slots=True)
class RouteVisit:
    """A visit on a dispatched route: its number, arrival and the orders of its stop."""

    sequence: int
    arrival_utc: dt.datetime
    orders: list[WorkOrder]


@dataclass(frozen=True, slots=True)
class Site:
    """Where an order is: its meter, service point, premise (each may be unknown)."""

    meter: Meter | None
    service_point: ServicePoint | None
    premise: Premise | None


class FieldRepository:
    """Reads and writes of the field capability."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def technician_of_user(self, user_id: int) -> Technician | None:
        """The technician linked to a user."""
        return self.session.scalars(
            select(Technician).where(Technician.user_id == user_id)
        ).one_or_none()

    def territory(self, territory_id: int) -> Territory:
        """A territory by id."""
        return self.session.get_one(Territory, territory_id)

    def route(self, technician_id: int, territory_id: int, day: dt.date) -> list[RouteVisit]:
        """The technician's visits on the day's dispatched plan, in planned order."""
        plan = self.session.scalars(
            select(DayPlan).where(
                DayPlan.plan_date == day,
                DayPlan.territory_id == territory_id,
                DayPlan.status == DayPlanStatus.DISPATCHED,
            )
        ).one_or_none()
        if plan is None:
            return []
        route = self.session.scalars(
            select(DayPlanRoute).where(
                DayPlanRoute.day_plan_id == plan.id, DayPlanRoute.technician_id == technician_id
            )
        ).one_or_none()
        if route is None:
            return []
        steps = self.session.scalars(
            select(DayPlanActivity)
            .where(DayPlanActivity.route_id == route.id, DayPlanActivity.stop_key.is_not(None))
            .order_by(DayPlanActivity.position)
        ).all()
        links = self.session.execute(
            select(DayPlanOrder.stop_key, WorkOrder)
            .join(WorkOrder, WorkOrder.id == DayPlanOrder.work_order_id)
            .where(
                DayPlanOrder.day_plan_id == plan.id,
                DayPlanOrder.left_out_reason.is_(None),
                WorkOrder.technician_id == technician_id,
            )
            .order_by(WorkOrder.id)
        ).all()
        by_key: dict[str, list[WorkOrder]] = {}
        for key, order in links:
            by_key.setdefault(key, []).append(order)
        visits: list[RouteVisit] = []
        for step in steps:
            assert step.stop_key is not None
            orders = by_key.get(step.stop_key, [])
            if orders:
                visits.append(
                    RouteVisit(
                        sequence=len(visits) + 1,
                        arrival_utc=plan.day_start_utc + dt.timedelta(seconds=step.arrival_s),
                        orders=orders,
                    )
                )
        return visits

    def site(self, order: WorkOrder) -> Site:
        """The order's meter, service point and premise."""
        meter = None if order.meter_id is None else self.session.get(Meter, order.meter_id)
        service_point = (
            None
            if order.service_point_id is None
            else self.session.get(ServicePoint, order.service_point_id)
        )
        premise = None if order.premise_id is None else self.session.get(Premise, order.premise_id)
        return Site(meter, service_point, premise)

    def sites(self, orders: Collection[WorkOrder]) -> dict[int, Site]:
        """Sites of many orders at once (three queries)."""
        meter_ids = {o.meter_id for o in orders if o.meter_id is not None}
        sp_ids = {o.service_point_id for o in orders if o.service_point_id is not None}
        premise_ids = {o.premise_id for o in orders if o.premise_id is not None}
        meters = {
            m.id: m for m in self.session.scalars(select(Meter).where(Meter.id.in_(meter_ids)))
        }
        points = {
            s.id: s
            for s in self.session.scalars(select(ServicePoint).where(ServicePoint.id.in_(sp_ids)))
        }
        premises = {
            p.id: p
            for p in self.session.scalars(select(Premise).where(Premise.id.in_(premise_ids)))
        }
        return {
            o.id: Site(
                meters.get(o.meter_id or -1),
                points.get(o.service_point_id or -1),
                premises.get(o.premise_id or -1),
            )
            for o in orders
        }

    def customers(
        self, service_point_ids: Collection[int], day: dt.date
    ) -> dict[int, tuple[Account, Customer]]:
        """The open account and its customer at each service point on a day."""
        rows = self.session.execute(
            select(Account, Customer)
            .join(Customer, Customer.id == Account.customer_id)
            .where(Account.service_point_id.in_(service_point_ids))
        ).all()
        found: dict[int, tuple[Account, Customer]] = {}
        for account, customer in rows:
            if account.is_active_on(day):
                found[account.service_point_id] = (account, customer)
        return found

    def verdicts(self, order_numbers: Collection[str]) -> dict[str, DiagnosticException]:
        """The latest diagnostics exception that fed each order."""
        rows = self.session.scalars(
            select(DiagnosticException)
            .where(DiagnosticException.work_order_number.in_(order_numbers))
            .order_by(DiagnosticException.id)
        ).all()
        return {row.work_order_number: row for row in rows if row.work_order_number}

    def action_by_key(self, key: str) -> FieldAction | None:
        """The action recorded with an idempotency key."""
        return self.session.scalars(
            select(FieldAction).where(FieldAction.idempotency_key == key)
        ).one_or_none()

    def actions(self, order_id: int) -> Sequence[FieldAction]:
        """An order's actions, oldest first."""
        return self.session.scalars(
            select(FieldAction)
            .where(FieldAction.work_order_id == order_id)
            .order_by(FieldAction.id)
        ).all()

    def photos(self, order_id: int) -> Sequence[FieldPhoto]:
        """An order's photos, oldest first."""
        return self.session.scalars(
            select(FieldPhoto)
            .where(FieldPhoto.work_order_id == order_id)
            .order_by(FieldPhoto.uploaded_at_utc, FieldPhoto.id)
        ).all()

    def photo_by_key(self, key: str) -> FieldPhoto | None:
        """The photo uploaded with an idempotency key."""
        return self.session.scalars(
            select(FieldPhoto).where(FieldPhoto.idempotency_key == key)
        ).one_or_none()

    def photo_by_content(self, order_id: int, sha256: str) -> FieldPhoto | None:
        """An order's stored photo with these exact bytes."""
        return self.session.scalars(
            select(FieldPhoto)
            .where(FieldPhoto.work_order_id == order_id, FieldPhoto.sha256 == sha256)
            .limit(1)
        ).first()

    def bytes_uploaded_since(self, username: str, since: dt.datetime) -> int:
        """Photo bytes a user stored since a moment."""
        total = self.session.scalar(
            select(func.coalesce(func.sum(FieldPhoto.bytes), 0)).where(
                FieldPhoto.uploaded_by == username, FieldPhoto.uploaded_at_utc >= since
            )
        )
        return int(total or 0)

    def verification(self, order_id: int) -> FieldVerification | None:
        """The order's head-end verification, if an exchange was recorded."""
        return self.session.scalars(
            select(FieldVerification).where(FieldVerification.work_order_id == order_id)
        ).one_or_none()

    def meter_by_serial(self, serial: str) -> Meter | None:
        """A meter by serial."""
        return self.session.scalars(
            select(Meter).where(Meter.serial_number == serial)
        ).one_or_none()

    def open_installation(self, meter_id: int) -> Installation | None:
        """A meter's open installation."""
        return self.session.scalars(
            select(Installation).where(
                Installation.meter_id == meter_id, Installation.removed_at_utc.is_(None)
            )
        ).one_or_none()

    def service_point_number(self, service_point_id: int) -> str:
        """A service point's number."""
        return self.session.get_one(ServicePoint, service_point_id).service_point_number

    def truck_stock(self, technician_id: int) -> dict[str, TruckStock] | None:
        """The technician's stock rows by item; None when no stock is tracked for them."""
        rows = self.session.scalars(
            select(TruckStock).where(TruckStock.technician_id == technician_id)
        ).all()
        return {row.item: row for row in rows} if rows else None
