"""Queries of the field capability: the technician's route, an order's site, actions, photos."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
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

__all__ = [
    "FieldRepository",
    "PremiseAddress",
    "RouteVisit",
    "Site",
    "StopCustomer",
    "StopSite",
    "StopVerdict",
]


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


@dataclass(frozen=True, slots=True)
class PremiseAddress:
    """A premise's postal address."""

    address_line: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class StopSite:
    """What a stop shows of where its order is: a few columns, None where unknown.

    Attributes:
        meter_serial: The order's meter's serial number.
        service_point_number: The service point's number.
        service_type: The service point's service type (``ServiceType`` value).
        voltage_v: The service point's nominal voltage. [V]
        premise: The premise's address.
    """

    meter_serial: str | None
    service_point_number: str | None
    service_type: str | None
    voltage_v: int | None
    premise: PremiseAddress | None


@dataclass(frozen=True, slots=True)
class StopCustomer:
    """The open account at a service point and its customer, as a stop shows them."""

    account_number: str
    name: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class StopVerdict:
    """The diagnostics verdict that fed an order (``evidence`` only when asked for)."""

    cause: str | None
    summary: str | None
    evidence: dict[str, Any] | None


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
        plan = self.session.execute(
            select(DayPlan.id, DayPlan.day_start_utc).where(
                DayPlan.plan_date == day,
                DayPlan.territory_id == territory_id,
                DayPlan.status == DayPlanStatus.DISPATCHED,
            )
        ).one_or_none()
        if plan is None:
            return []
        plan_id, day_start_utc = plan
        route_id = self.session.scalars(
            select(DayPlanRoute.id).where(
                DayPlanRoute.day_plan_id == plan_id, DayPlanRoute.technician_id == technician_id
            )
        ).one_or_none()
        if route_id is None:
            return []
        steps = self.session.execute(
            select(DayPlanActivity.stop_key, DayPlanActivity.arrival_s)
            .where(DayPlanActivity.route_id == route_id, DayPlanActivity.stop_key.is_not(None))
            .order_by(DayPlanActivity.position)
        ).all()
        links = self.session.execute(
            select(DayPlanOrder.stop_key, WorkOrder)
            .join(WorkOrder, WorkOrder.id == DayPlanOrder.work_order_id)
            .where(
                DayPlanOrder.day_plan_id == plan_id,
                DayPlanOrder.left_out_reason.is_(None),
                WorkOrder.technician_id == technician_id,
            )
            .order_by(WorkOrder.id)
        ).all()
        by_key: dict[str, list[WorkOrder]] = {}
        for key, order in links:
            by_key.setdefault(key, []).append(order)
        visits: list[RouteVisit] = []
        for stop_key, arrival_s in steps:
            orders = by_key.get(stop_key or "", [])
            if orders:
                visits.append(
                    RouteVisit(
                        sequence=len(visits) + 1,
                        arrival_utc=day_start_utc + dt.timedelta(seconds=arrival_s),
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

    def sites(self, orders: Collection[WorkOrder]) -> dict[int, StopSite]:
        """What the stops of many orders show of their sites (three column queries at most)."""
        meter_ids = {o.meter_id for o in orders if o.meter_id is not None}
        sp_ids = {o.service_point_id for o in orders if o.service_point_id is not None}
        premise_ids = {o.premise_id for o in orders if o.premise_id is not None}
        serials: dict[int, str] = {}
        if meter_ids:
            serials = dict(
                self.session.execute(
                    select(Meter.id, Meter.serial_number).where(Meter.id.in_(meter_ids))
                ).all()
            )
        points: dict[int, tuple[str, str, int]] = {}
        if sp_ids:
            points = {
                sp_id: (number, str(service_type), voltage_v)
                for sp_id, number, service_type, voltage_v in self.session.execute(
                    select(
                        ServicePoint.id,
                        ServicePoint.service_point_number,
                        ServicePoint.service_type,
                        ServicePoint.voltage_v,
                    ).where(ServicePoint.id.in_(sp_ids))
                )
            }
        premises: dict[int, PremiseAddress] = {}
        if premise_ids:
            premises = {
                premise_id: PremiseAddress(line, city, state, postal_code)
                for premise_id, line, city, state, postal_code in self.session.execute(
                    select(
                        Premise.id,
                        Premise.address_line,
                        Premise.city,
                        Premise.state,
                        Premise.postal_code,
                    ).where(Premise.id.in_(premise_ids))
                )
            }
        sites: dict[int, StopSite] = {}
        for order in orders:
            point = points.get(order.service_point_id or -1)
            sites[order.id] = StopSite(
                meter_serial=serials.get(order.meter_id or -1),
                service_point_number=None if point is None else point[0],
                service_type=None if point is None else point[1],
                voltage_v=None if point is None else point[2],
                premise=premises.get(order.premise_id or -1),
            )
        return sites

    def customers(
        self, service_point_ids: Collection[int], day: dt.date
    ) -> dict[int, StopCustomer]:
        """The account open on a day at each service point, with its customer's name and phone.

        Open as :meth:`meterops.models.Account.is_active_on` says: moved in on or before the
        day and not moved out by then.
        """
        rows = self.session.execute(
            select(Account.service_point_id, Account.account_number, Customer.name, Customer.phone)
            .join(Customer, Customer.id == Account.customer_id)
            .where(
                Account.service_point_id.in_(service_point_ids),
                Account.move_in_date <= day,
                or_(Account.move_out_date.is_(None), Account.move_out_date > day),
            )
            .order_by(Account.id)
        )
        return {
            sp_id: StopCustomer(account_number=number, name=name, phone=phone)
            for sp_id, number, name, phone in rows
        }

    def verdicts(
        self, order_numbers: Collection[str], *, evidence: bool = False
    ) -> dict[str, StopVerdict]:
        """The latest diagnostics verdict that fed each order (its evidence only if asked)."""
        columns: list[Any] = [
            DiagnosticException.work_order_number,
            DiagnosticException.cause,
            DiagnosticException.summary,
        ]
        if evidence:
            columns.append(DiagnosticException.verdict_evidence)
        rows = self.session.execute(
            select(*columns)
            .where(DiagnosticException.work_order_number.in_(order_numbers))
            .order_by(DiagnosticException.id)
        ).all()
        return {
            row[0]: StopVerdict(
                cause=None if row[1] is None else str(row[1]),
                summary=row[2],
                evidence=row[3] if evidence else None,
            )
            for row in rows
            if row[0]
        }

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
